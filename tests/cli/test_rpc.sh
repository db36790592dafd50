#!/usr/bin/env bash
# `tvm-tune rpc keygen|server`: the key file (32 bytes, mode 0600, never overwritten), bad usage,
# and the device runtime's server run from the host CLI, which a Python client reaches.
source "$(dirname "$0")/lib.sh"

expect 2 "usage: tvm-tune rpc server" rpc
expect 2 "unknown subcommand 'serve'" rpc serve
expect 2 "-o FILE is required" rpc keygen
expect 0 "wrote a new key to $WORK/dev.key (mode 0600)" rpc keygen -o "$WORK/dev.key"
check "the key is 32 bytes" test "$(stat -c %s "$WORK/dev.key")" = 32
check "the key has mode 0600" test "$(stat -c %a "$WORK/dev.key")" = 600
cp "$WORK/dev.key" "$WORK/dev.key.orig"
expect 1 "refusing to overwrite" rpc keygen -o "$WORK/dev.key"
check "the refused keygen left the key as it was" cmp "$WORK/dev.key" "$WORK/dev.key.orig"
expect 2 "--key-file is required" rpc server --port 0
expect 2 "expected an integer in 0..65535" rpc server --port 70000 --key-file "$WORK/dev.key"

# The server: its first stdout line names the port; a client with the key gets device_info, and
# SIGTERM stops it with exit 0.
coproc SERVER { exec "$TT" rpc server --port 0 --key-file "$WORK/dev.key" --work-dir "$WORK" 2>"$WORK/server.err"; }
server_pid=$SERVER_PID
trap 'kill "$server_pid" 2>/dev/null; rm -rf "$WORK"' EXIT
read -r line <&"${SERVER[0]}"
port=${line##*:}
check "the server prints 'listening on 127.0.0.1:PORT'" test "${line% *}" = "listening on" -a -n "$port"
# Python cannot load an ASan-instrumented runtime: the client half runs in the normal build only.
if ldd "$TT" | grep -q libasan; then
  echo "skip: the Python client (sanitizer build)"
else
check "a client with the key reads device_info" env PYTHONPATH="$ROOT/python" TT_BUILD_DIR="$(dirname "$(dirname "$TT")")" \
  /usr/bin/python3 -c "
import tvm_tune.rpc as rpc
s = rpc.connect('127.0.0.1', $port, key_file='$WORK/dev.key')
info = s.device_info()
assert info['cores'] >= 1 and info['triple'], info
print(info)
s.close()"
fi
kill -TERM "$server_pid"
wait "$server_pid"
check "SIGTERM stops the server with exit 0" test $? = 0
finish
