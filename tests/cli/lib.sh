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

# start_server NAME CMD...: runs CMD --port 0 --key-file "$WORK/dev.key" (a tvm-tune-rpc server,
# or scripts/run-aarch64-server.sh) in its own process group, reads the "listening on HOST:PORT"
# line it prints first, and sets ${NAME}_port and ${NAME}_pid. Every server is killed, with its
# sessions, when the test exits, passed or failed. Make the key first: "$TT" rpc keygen -o ...
servers=()
start_server() {
  local name=$1
  shift
  mkfifo "$WORK/$name.fifo"
  setsid "$@" --port 0 --key-file "$WORK/dev.key" >"$WORK/$name.fifo" 2>"$WORK/$name.err" &
  local pid=$!
  servers+=("$pid")
  trap 'for p in "${servers[@]}"; do kill -9 -- "-$p" 2>/dev/null; done; rm -rf "$WORK"' EXIT
  local line
  read -r line <"$WORK/$name.fifo"
  printf -v "${name}_port" '%s' "${line##*:}"
  printf -v "${name}_pid" '%s' "$pid"
}

# need_aarch64_server: skips the test (exit 77) without qemu-aarch64-static or the aarch64 build
# (scripts/build.sh aarch64), and in the sanitizer build (Python cannot load an ASan runtime).
need_aarch64_server() {
  if ! command -v qemu-aarch64-static >/dev/null 2>&1 ||
    [ ! -x "$ROOT/build-aarch64/runtime/rpc/tvm-tune-rpc" ]; then
    echo "SKIP: needs qemu-aarch64-static and the aarch64 build (scripts/build.sh aarch64)"
    exit 77
  fi
  if ldd "$TT" | grep -q libasan; then
    echo "SKIP: the Python client cannot load the sanitizer build's runtime"
    exit 77
  fi
}

finish() {
  echo "$((checks - failures)) passed, $failures failed"
  [ "$failures" -eq 0 ]
}
