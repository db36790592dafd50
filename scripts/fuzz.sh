#!/usr/bin/env bash
# Builds the libFuzzer targets (clang-19, ASan + UBSan) into build-fuzz/ and runs each for
# SECONDS (default 20) on its seed corpus in tests/fuzz/corpus/NAME/. Fails on any crash; the
# crashing input stays in build-fuzz/artifacts/NAME/.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
seconds=${1:-20}
CC=clang-19 cmake -S "$root" -B "$root/build-fuzz" -DTT_FUZZ=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build "$root/build-fuzz" -j "$(nproc)"
shopt -s nullglob
status=0
for exe in "$root"/build-fuzz/tests/fuzz/fuzz_*; do
  name=$(basename "$exe"); name=${name#fuzz_}
  corpus="$root/tests/fuzz/corpus/$name"
  work=$(mktemp -d)
  [ -d "$corpus" ] && cp -r "$corpus"/. "$work"/
  artifacts="$root/build-fuzz/artifacts/$name"
  mkdir -p "$artifacts"
  echo "== fuzz $name for ${seconds}s"
  if ASAN_OPTIONS=detect_leaks=1 LSAN_OPTIONS=suppressions=$root/tests/lsan.supp \
      "$exe" -max_total_time="$seconds" -rss_limit_mb=4096 -print_final_stats=0 \
        -artifact_prefix="$artifacts/" "$work" >"$work.out" 2>&1; then
    tail -n 1 "$work.out"
  else
    # Keep what reproduces it: the input is in $artifacts, the report here.
    grep -v '^#' "$work.out" | tail -n 60
    echo "fuzz $name FAILED; reproduce with: $exe $artifacts/crash-*"
    status=1
  fi
  rm -rf "$work" "$work.out"
done
exit $status
