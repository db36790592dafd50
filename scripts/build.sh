#!/usr/bin/env bash
# Configures and builds tvm-tune. Usage: scripts/build.sh [release|asan|clang|aarch64]
#   release -> build/          Release, the system compiler (gcc); the default
#   asan    -> build-asan/     Debug, AddressSanitizer + UndefinedBehaviorSanitizer
#   clang   -> build-clang/    Release with clang-19 (a compile check: tests are built, not run)
#   aarch64 -> build-aarch64/  the device runtime and tvm-tune-rpc cross-built for 64-bit Arm
#                              (no tests; run the server with scripts/run-aarch64-server.sh)
# Warnings are errors only when TT_WERROR=ON is in the environment (scripts/test.sh and CI set
# it); a user's build does not stop on a newer compiler's new warning.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
kind=${1:-release}
jobs=$(nproc 2>/dev/null || echo 2)
werror=${TT_WERROR:-OFF}
case "$kind" in
  release) dir="$root/build"; flags=(-DCMAKE_BUILD_TYPE=Release) ;;
  asan) dir="$root/build-asan"; flags=(-DTT_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug) ;;
  aarch64) dir="$root/build-aarch64"
    flags=(-DCMAKE_TOOLCHAIN_FILE="$root/cmake/aarch64-linux-gnu.cmake" -DTT_RUNTIME_ONLY=ON
           -DTT_BUILD_TESTS=OFF -DCMAKE_BUILD_TYPE=Release) ;;
  clang) dir="$root/build-clang"; flags=(-DCMAKE_BUILD_TYPE=Release -DCMAKE_C_COMPILER=clang-19) ;;
  *) echo "usage: scripts/build.sh [release|asan|clang|aarch64]" >&2; exit 2 ;;
esac
cmake -S "$root" -B "$dir" "${flags[@]}" -DTT_WERROR="$werror" >/dev/null
cmake --build "$dir" -j "$jobs"
