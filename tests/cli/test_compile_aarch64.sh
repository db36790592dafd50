#!/usr/bin/env bash
# `tvm-tune compile --target aarch64` builds a kernel library for another CPU from the database,
# and every kernel of it, run on the aarch64 RPC server under qemu, matches the same kernels built
# for this host. Skipped (exit 77) without qemu-aarch64-static or the aarch64 build
# (scripts/build.sh aarch64), and in the sanitizer build (Python cannot load an ASan runtime).
source "$(dirname "$0")/lib.sh"
need_aarch64_server
A64="llvm -mtriple=aarch64-linux-gnu"
cat >"$WORK/ops.json" <<'JSON'
{"tasks": [
  {"op": "matmul", "M": 24, "N": 40, "K": 33},
  {"op": "conv2d", "layout": "NCHW", "N": 1, "C": 8, "H": 10, "W": 10, "K": 8, "R": 3, "S": 3,
   "pad": [1, 1], "bias": true, "activation": "relu"},
  {"op": "conv2d", "layout": "NHWC", "N": 1, "C": 4, "H": 9, "W": 9, "K": 8, "R": 3, "S": 3,
   "stride": [2, 2], "pad": [1, 1]},
  {"op": "pool2d", "pool": "max", "N": 1, "C": 4, "H": 9, "W": 9, "R": 3, "S": 3,
   "stride": [2, 2], "pad": [1, 1]},
  {"op": "dense", "M": 3, "N": 17, "K": 20, "bias": true}]}
JSON
expect 0 "0 added" db import /dev/null --db "$WORK/empty.db"
mkdir -p "$WORK/a64" "$WORK/host"
expect 0 "aarch64" compile "$WORK/ops.json" --db "$WORK/empty.db" --target "$A64" -o "$WORK/a64/libops.so"
check "the library is aarch64 code" sh -c "readelf -h '$WORK/a64/libops.so' | grep -q AArch64"
expect 0 "wrote" compile "$WORK/ops.json" --db "$WORK/empty.db" -o "$WORK/host/libops.so"

"$TT" rpc keygen -o "$WORK/dev.key" 2>/dev/null
start_server dev "$ROOT/scripts/run-aarch64-server.sh"
port=$dev_port
check "every kernel runs on the aarch64 device and matches the host's" \
  env PYTHONPATH="$ROOT/python" TT_BUILD_DIR="$(dirname "$(dirname "$TT")")" /usr/bin/python3 \
  "$ROOT/tests/cli/remote_kernels.py" "$port" "$WORK/dev.key" "$WORK/a64/libops.so" \
  "$WORK/host/libops.so"
sed 's/^/    /' "$WORK/check.out"
finish
