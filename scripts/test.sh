#!/usr/bin/env bash
# The test command of README.md (and of CI): installs what is missing, checks the format and the
# layering (scripts/check-format.sh, scripts/check-layering.py), then builds and runs the
# cmocka suite and the Python tests through ctest, in the normal and the sanitizer configuration,
# then a short fuzz run of every parser and decoder.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
jobs=$(nproc 2>/dev/null || echo 2)

scripts/install-deps.sh

echo "== format (clang-format-19 --dry-run -Werror over the tracked .c/.h files)"
scripts/check-format.sh

echo "== layering (every #include follows the data flow of docs/ARCHITECTURE.md)"
scripts/check-layering.py

# Warnings are errors here and in CI (not in a user's build: scripts/build.sh).
export TT_WERROR=ON

echo "== aarch64 cross build (rpc.server_aarch64_qemu runs its server under qemu)"
scripts/build.sh aarch64

echo "== release build"
scripts/build.sh release
ctest --test-dir build --output-on-failure -j "$jobs"

echo "== sanitizer build (ASan + UBSan)"
scripts/build.sh asan
# detect_leaks: refcount mistakes show up as leaks. LLVM and libgomp keep global state alive on
# purpose; tests/lsan.supp names those (and only third-party frames).
ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
LSAN_OPTIONS=suppressions=$root/tests/lsan.supp:print_suppressions=0 \
UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir build-asan --output-on-failure -j "$jobs"

echo "== clang build (Release, clang-19: must compile without warnings)"
if ! scripts/build.sh clang >/tmp/tt-clang-build.log 2>&1; then
  grep -E " (error|warning): " /tmp/tt-clang-build.log | head -n 40
  echo "clang build FAILED (whole log: /tmp/tt-clang-build.log)"
  exit 1
fi

echo "== fuzz (libFuzzer, a short run of every target on its seed corpus)"
scripts/fuzz.sh "${TT_FUZZ_SECONDS:-15}"

# The Python tests and the examples run as ctest entries (tests/python/CMakeLists.txt), the
# Python ones in the normal build only: python cannot load an ASan library without LD_PRELOAD.
echo "all tests passed"
