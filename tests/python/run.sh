#!/bin/sh
# Runs the Python side of tvm-tune against a build: the unittest suite (with /usr/bin/python3,
# which has numpy, and with the first python3 on PATH when it is another interpreter, which may
# not), then the add_two_vectors example in C and in Python. Exit status 0 when all pass.
#   usage: tests/python/run.sh [build-dir]     (default: $TT_BUILD_DIR, else build/)
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BUILD=${1:-${TT_BUILD_DIR:-$ROOT/build}}
BUILD=$(cd "$BUILD" && pwd) || { echo "run.sh: no build dir $BUILD" >&2; exit 2; }
export TT_BUILD_DIR="$BUILD"
EXAMPLE="$BUILD/examples/add_two_vectors"
status=0

step() { # step NAME COMMAND...: runs, reports, remembers a failure
    name=$1; shift
    echo "== $name"
    if "$@"; then echo "-- $name: ok"; else echo "-- $name: FAILED ($?)"; status=1; fi
}

interpreters=/usr/bin/python3
other=$(command -v python3 || true)
if [ -n "$other" ] && [ "$(readlink -f "$other")" != "$(readlink -f /usr/bin/python3)" ] &&
   "$other" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 8) else 1)' 2>/dev/null; then
    interpreters="$interpreters $other"
fi
for py in $interpreters; do
    if "$py" -c 'import numpy' 2>/dev/null; then np="with numpy"; else np="without numpy"; fi
    step "unittest ($py, $np)" "$py" -m unittest discover -s "$HERE" -t "$HERE"
done
step "example add_two_vectors (C)" "$EXAMPLE/add_two_vectors_main" \
    "$EXAMPLE/add_two_vectors_module.so"
for py in $interpreters; do
    step "example add_two_vectors.py ($py)" "$py" "$ROOT/examples/add_two_vectors/add_two_vectors.py"
done
exit $status
