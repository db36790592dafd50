#!/usr/bin/env bash
# Padded reads stay inside their buffer on aarch64 (codegen/llvm_expr.c, select_expr): padded
# conv2d kernels cross-compiled by `tvm-tune compile` for aarch64, run by the aarch64 server under
# qemu on an input between two inaccessible pages (rpc.array_alloc_guarded) and compared with
# numpy. Skipped (exit 77, with the reason) when qemu-aarch64-static, the aarch64 build
# (scripts/build.sh aarch64) or the host's tvm-tune is absent.
#   usage: test_guard_aarch64.sh SOURCE_DIR   (TT_BUILD_DIR: the host build, else SOURCE_DIR/build)
set -u
root=$1
build=${TT_BUILD_DIR:-$root/build}
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
if [ ! -x "$build/tuner/tvm-tune" ]; then
  echo "SKIP: no host tvm-tune at $build/tuner/tvm-tune"
  exit 77
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# Unresolved tt_* symbols bind at dlopen to the runtime the server already loaded.
aarch64-linux-gnu-gcc -shared -fPIC -O2 -I"$root/include" -o "$work/guard_probe.so" \
  "$root/tests/rpc/guard_probe.c" || exit 1
/usr/bin/python3 "$root/tests/rpc/test_guard_aarch64.py" "$build/tuner/tvm-tune" \
  "$root/scripts/run-aarch64-server.sh" "$work/guard_probe.so"
