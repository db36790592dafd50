#!/usr/bin/env bash
# Runs the aarch64 build of tvm-tune-rpc (scripts/build.sh aarch64) under qemu-aarch64-static on
# loopback, in the foreground (no binfmt registration needed: qemu is called directly). The aarch64
# loader and libc are the multiarch ones (libc6:arm64, /lib/ld-linux-aarch64.so.1) when installed:
# with the older cross sysroot's libc (-L /usr/aarch64-linux-gnu) a forked session process hangs
# under qemu 7.2, so that is only the fallback. QEMU_LD_PREFIX overrides both.
#   usage: scripts/run-aarch64-server.sh --port P --key-file F [more tvm-tune-rpc flags]
# Timings measured under qemu are functional only: they say nothing about a real Arm CPU.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin="$root/build-aarch64/runtime/rpc/tvm-tune-rpc"
if [ ! -x "$bin" ]; then
  echo "run-aarch64-server: $bin is missing; build it with scripts/build.sh aarch64" >&2
  exit 2
fi
if ! command -v qemu-aarch64-static >/dev/null 2>&1; then
  echo "run-aarch64-server: qemu-aarch64-static not found (Debian package qemu-user-static;" \
       "scripts/install-deps.sh installs it)" >&2
  exit 2
fi
echo "run-aarch64-server: aarch64 server under qemu: timings are functional only, not" \
     "performance figures" >&2
if [ -n "${QEMU_LD_PREFIX:-}" ]; then
  prefix=(-L "$QEMU_LD_PREFIX")
elif [ -e /lib/ld-linux-aarch64.so.1 ]; then
  prefix=()
else
  prefix=(-L /usr/aarch64-linux-gnu)
fi
if [ "${1:-}" = keygen ]; then
  exec qemu-aarch64-static "${prefix[@]}" "$bin" "$@"
fi
# Loopback unless the caller's own --host (parsed later, so it wins) says otherwise.
exec qemu-aarch64-static "${prefix[@]}" "$bin" --host 127.0.0.1 "$@"
