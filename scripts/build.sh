#!/usr/bin/env bash
# Configures and builds tvm-tune. Usage: scripts/build.sh [release|asan|clang]  (default release)
#   release -> build/        Release, the system compiler (gcc)
#   asan    -> build-asan/   Debug, AddressSanitizer + UndefinedBehaviorSanitizer
#   clang   -> build-clang/  Release with clang-19 (a compile check: tests are built, not run)
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
  clang) dir="$root/build-clang"; flags=(-DCMAKE_BUILD_TYPE=Release -DCMAKE_C_COMPILER=clang-19) ;;
  *) echo "usage: scripts/build.sh [release|asan|clang]" >&2; exit 2 ;;
esac
cmake -S "$root" -B "$dir" "${flags[@]}" -DTT_WERROR="$werror" >/dev/null
cmake --build "$dir" -j "$jobs"
