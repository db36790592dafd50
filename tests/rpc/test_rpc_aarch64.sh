#!/usr/bin/env bash
# The end-to-end RPC tests (test_rpc_server.py) against the aarch64 server under qemu: the x86
# Python client, a kernel library cross-compiled here, the server started by
# scripts/run-aarch64-server.sh. Skipped (exit 77, with the reason) when qemu-aarch64-static, the
# cross compiler or the aarch64 build (scripts/build.sh aarch64) is absent.
#   usage: test_rpc_aarch64.sh SOURCE_DIR
set -u
root=$1
server="$root/build-aarch64/runtime/rpc/tvm-tune-rpc"
for tool in qemu-aarch64-static aarch64-linux-gnu-gcc; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "SKIP: $tool is not installed (scripts/install-deps.sh installs it)"
    exit 77
  fi
done
if [ ! -x "$server" ]; then
  echo "SKIP: no aarch64 build at $server; run scripts/build.sh aarch64"
  exit 77
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# Unresolved tt_* symbols bind at dlopen to the runtime the server already loaded.
aarch64-linux-gnu-gcc -shared -fPIC -O2 -I"$root/include" -o "$work/kernels.so" \
  "$root/tests/rpc/kernels.c" || exit 1
TT_RPC_TRIPLE=aarch64-linux-gnu TT_RPC_QEMU=1 /usr/bin/python3 "$root/tests/rpc/test_rpc_server.py" \
  "$root/scripts/run-aarch64-server.sh" "$work/kernels.so"
