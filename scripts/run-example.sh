#!/usr/bin/env bash
# The main command of README.md: installs what is missing, builds, and runs the examples: the
# runtime's seed example (a PackedFunc from C and from Python) and, once the compiler is built,
# the loop IR of examples/matmul.json.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

scripts/install-deps.sh
scripts/build.sh release

echo "== examples/add_two_vectors (C)"
build/examples/add_two_vectors/add_two_vectors_main build/examples/add_two_vectors/add_two_vectors_module.so
echo "== examples/add_two_vectors (Python)"
TT_BUILD_DIR="$root/build" /usr/bin/python3 examples/add_two_vectors/add_two_vectors.py
if [ -f examples/matmul.json ] && build/tuner/tvm-tune show --help >/dev/null 2>&1; then
  echo "== tvm-tune show examples/matmul.json"
  build/tuner/tvm-tune show examples/matmul.json
fi
