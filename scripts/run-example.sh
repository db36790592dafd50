#!/usr/bin/env bash
# The main command of README.md: installs what is missing, builds, and runs the examples: the
# runtime's seed example (a PackedFunc from C and from Python), then the whole tvm-tune flow on
# examples/matmul.json: tune a few dozen trials into out/, compile the best schedule (and the
# untuned default) into a .so + .h, and call both from a C program (examples/use_kernel) that
# checks them against naive loops and prints their GFLOPS.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

scripts/install-deps.sh
scripts/build.sh release

echo "== examples/add_two_vectors (C)"
build/examples/add_two_vectors/add_two_vectors_main build/examples/add_two_vectors/add_two_vectors_module.so
echo "== examples/add_two_vectors (Python)"
TT_BUILD_DIR="$root/build" /usr/bin/python3 examples/add_two_vectors/add_two_vectors.py

tt=build/tuner/tvm-tune
op=examples/matmul.json
fn=matmul_256x256x256_f32 # the task's default name: the function the header declares
rm -rf out
mkdir out

if "$tt" tune --help >/dev/null 2>&1; then
  echo "== tvm-tune $op --trials 32 (log: out/matmul.log, database: out/tuning.db)"
  "$tt" "$op" --trials 32 --log out/matmul.log --db out/tuning.db
else
  echo "== (this build has no 'tvm-tune tune': compiling with default schedules only)"
  "$tt" db import /dev/null --db out/tuning.db
fi
echo "== tvm-tune best $op --db out/tuning.db"
"$tt" best "$op" --db out/tuning.db

echo "== tvm-tune compile $op --db out/tuning.db -o out/libops.so"
"$tt" compile "$op" --db out/tuning.db -o out/libops.so
sed -n "/^\/\* $fn/,/^int /p" out/libops.h

echo "== the untuned default schedule, for comparison: out/libops_default.so"
"$tt" db import /dev/null --db out/empty.db >/dev/null
"$tt" compile "$op" --db out/empty.db -o out/libops_default.so

echo "== examples/use_kernel: the kernels against naive C loops"
build/examples/use_kernel/use_kernel 256 256 256 "$fn" \
  default=out/libops_default.so tuned=out/libops.so
