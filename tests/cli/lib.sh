# Helpers for the CLI tests: run the binary, check its exit code and what it printed.
# Usage in a test: source lib.sh; expect CODE "needle in stdout+stderr" -- args...
set -u
TT=$1
ROOT=$2
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
failures=0
checks=0

# expect CODE NEEDLE ARGS...: runs tvm-tune ARGS, checks the exit code and that NEEDLE (a fixed
# string; "" for none) appears in its stdout or stderr. Output is kept in $WORK/out.
expect() {
  local want=$1 needle=$2
  shift 2
  checks=$((checks + 1))
  "$TT" "$@" >"$WORK/out" 2>&1
  local got=$?
  if [ "$got" != "$want" ]; then
    echo "FAIL: tvm-tune $*: exit $got, expected $want"; sed 's/^/    /' "$WORK/out" | head -20
    failures=$((failures + 1))
  elif [ -n "$needle" ] && ! grep -qF -- "$needle" "$WORK/out"; then
    echo "FAIL: tvm-tune $*: output lacks '$needle'"; sed 's/^/    /' "$WORK/out" | head -20
    failures=$((failures + 1))
  else
    echo "ok: tvm-tune $*"
  fi
}

# check NAME COMMAND...: one more check, passed when COMMAND succeeds (its output is shown when
# it fails).
check() {
  local name=$1
  shift
  checks=$((checks + 1))
  if "$@" >"$WORK/check.out" 2>&1; then
    echo "ok: $name"
  else
    echo "FAIL: $name"; sed 's/^/    /' "$WORK/check.out" | head -20
    failures=$((failures + 1))
  fi
}

finish() {
  echo "$((checks - failures)) passed, $failures failed"
  [ "$failures" -eq 0 ]
}
