#!/usr/bin/env bash
# Configures and builds tvm-tune. Usage: scripts/build.sh [release|asan]  (default release)
#   release -> build/       asan -> build-asan/ (AddressSanitizer + UndefinedBehaviorSanitizer)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
kind=${1:-release}
jobs=$(nproc 2>/dev/null || echo 2)
case "$kind" in
  release) dir="$root/build"; flags=() ;;
  asan) dir="$root/build-asan"; flags=(-DTT_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug) ;;
  *) echo "usage: scripts/build.sh [release|asan]" >&2; exit 2 ;;
esac
cmake -S "$root" -B "$dir" "${flags[@]}" >/dev/null
cmake --build "$dir" -j "$jobs"
