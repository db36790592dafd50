#!/usr/bin/env bash
# Tuning an aarch64 device end to end: the aarch64 tvm-tune-rpc under qemu-aarch64-static on
# loopback measures a small matmul and a padded convolution (the target comes from the device);
# `tvm-tune compile --target` then builds the aarch64 library from the tuned database, and every
# kernel of it, run on the device, matches the same kernels built for this host. Timings under
# qemu are functional only. Skipped (exit 77) without qemu-aarch64-static or the aarch64 build
# (scripts/build.sh aarch64), and in the sanitizer build (Python cannot load an ASan runtime).
source "$(dirname "$0")/lib.sh"
need_aarch64_server
"$TT" rpc keygen -o "$WORK/dev.key" 2>/dev/null
start_server dev "$ROOT/scripts/run-aarch64-server.sh"
port=$dev_port

cat >"$WORK/ops.json" <<'JSON'
{"tasks": [
  {"op": "matmul", "M": 20, "N": 36, "K": 17},
  {"op": "conv2d", "layout": "NCHW", "N": 1, "C": 4, "H": 9, "W": 9, "K": 8, "R": 3, "S": 3,
   "pad": [1, 1], "bias": true, "activation": "relu"}],
 "measure": {"repeat": 2, "min_repeat_ms": 1, "timeout_s": 60}}
JSON
expect 0 "measuring on 127.0.0.1:$port" "$WORK/ops.json" --trials 12 --tuner random \
  --rpc "127.0.0.1:$port" --rpc-key-file "$WORK/dev.key" --log "$WORK/ops.log" --db "$WORK/ops.db"
check "the device's target, every trial measured there, most of them valid" /usr/bin/python3 - "$WORK/ops.log" "$port" <<'PY'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
assert {r["target"] for r in recs} == {"llvm -mtriple=aarch64-linux-gnu -mcpu=generic"}, recs[0]["target"]
assert all(r["device"].startswith("127.0.0.1:%s (" % sys.argv[2]) and
           r["device"].endswith(", aarch64-linux-gnu)") for r in recs), recs[0]["device"]
assert len({r["trial"] for r in recs}) == 12
ok = [r for r in recs if r["error"] == 0]
assert len(ok) >= 8, [(r["error"], r["error_msg"][:80]) for r in recs if r["error"]]
assert {r["key"] for r in ok} and len({r["key"] for r in ok}) == 2
PY
target="llvm -mtriple=aarch64-linux-gnu -mcpu=generic"
mkdir -p "$WORK/a64" "$WORK/host"
expect 0 "aarch64" compile "$WORK/ops.json" --db "$WORK/ops.db" --target "$target" -o "$WORK/a64/libops.so"
check "compile used the tuned schedules (no fallback)" sh -c "! grep -q 'no usable record' '$WORK/out'"
check "the library is aarch64 code" sh -c "readelf -h '$WORK/a64/libops.so' | grep -q AArch64"
expect 0 "wrote" compile "$WORK/ops.json" --db "$WORK/ops.db" -o "$WORK/host/libops.so"
check "every tuned kernel runs on the aarch64 device and matches the host's" \
  env PYTHONPATH="$ROOT/python" TT_BUILD_DIR="$(dirname "$(dirname "$TT")")" /usr/bin/python3 \
  "$ROOT/tests/cli/remote_kernels.py" "$port" "$WORK/dev.key" "$WORK/a64/libops.so" \
  "$WORK/host/libops.so"
sed 's/^/    /' "$WORK/check.out"
finish
