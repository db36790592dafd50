#!/usr/bin/env bash
# Configures and builds tvm-tune. Usage: scripts/build.sh [release|asan|aarch64]  (default release)
#   release -> build/       asan -> build-asan/ (AddressSanitizer + UndefinedBehaviorSanitizer)
#   aarch64 -> build-aarch64/: the device runtime and tvm-tune-rpc cross-built for 64-bit Arm
#              (no tests; run the server with scripts/run-aarch64-server.sh)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
kind=${1:-release}
jobs=$(nproc 2>/dev/null || echo 2)
case "$kind" in
  release) dir="$root/build"; flags=() ;;
  asan) dir="$root/build-asan"; flags=(-DTT_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug) ;;
  aarch64) dir="$root/build-aarch64"
    flags=(-DCMAKE_TOOLCHAIN_FILE="$root/cmake/aarch64-linux-gnu.cmake" -DTT_RUNTIME_ONLY=ON
           -DTT_BUILD_TESTS=OFF -DCMAKE_BUILD_TYPE=Release) ;;
  *) echo "usage: scripts/build.sh [release|asan|aarch64]" >&2; exit 2 ;;
esac
cmake -S "$root" -B "$dir" "${flags[@]}" >/dev/null
cmake --build "$dir" -j "$jobs"
