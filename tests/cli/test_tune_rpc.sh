#!/usr/bin/env bash
# `tvm-tune OP.json --rpc ...`: tuning with candidates measured on RPC servers (here two x86
# servers on loopback). Every record names its device and both devices measure; a wrong answer, a
# crash and a hang on the device each cost one error record of their own kind; a server killed
# mid-run costs at most the candidate in flight while the other one finishes; a tuner killed
# mid-run continues with --resume; bad usage and unreachable devices are refused clearly.
source "$(dirname "$0")/lib.sh"

"$TT" rpc keygen -o "$WORK/dev.key" 2>/dev/null
"$TT" rpc keygen -o "$WORK/other.key" 2>/dev/null
start_server a "$TT" rpc server --work-dir "$WORK"
start_server b "$TT" rpc server --work-dir "$WORK"

cat >"$WORK/mm.json" <<'JSON'
{"op": "matmul", "M": 48, "N": 40, "K": 33, "measure": {"repeat": 2, "min_repeat_ms": 5, "timeout_s": 10}}
JSON
A="127.0.0.1:$a_port"
B="127.0.0.1:$b_port"

# ---- bad usage and unreachable devices ----
expect 2 "--rpc 127.0.0.1:$a_port needs --rpc-key-file" "$WORK/mm.json" --trials 4 --rpc "$A" --log "$WORK/u1.log"
expect 2 "--rpc-key-file needs --rpc" "$WORK/mm.json" --trials 4 --rpc-key-file "$WORK/dev.key" --log "$WORK/u2.log"
expect 2 "--rpc nohost" "$WORK/mm.json" --trials 4 --rpc nohost --rpc-key-file "$WORK/dev.key" --log "$WORK/u3.log"
# a port where nothing listens: the one of a server that was started and stopped
start_server gone "$TT" rpc server --work-dir "$WORK"
kill -9 "$gone_pid"
wait "$gone_pid" 2>/dev/null
expect 1 "no --rpc device answered" "$WORK/mm.json" --trials 4 --rpc "127.0.0.1:$gone_port" --rpc-key-file "$WORK/dev.key" --log "$WORK/u4.log"
expect 1 "authentication failed" "$WORK/mm.json" --trials 4 --rpc "$A" --rpc-key-file "$WORK/other.key" --log "$WORK/u5.log"
expect 2 "runs x86_64" "$WORK/mm.json" --trials 4 --rpc "$A" --rpc-key-file "$WORK/dev.key" --target "llvm -mtriple=aarch64-linux-gnu" --log "$WORK/u6.log"
check "refused runs wrote no log" sh -c "! ls '$WORK'/u*.log"

# ---- two devices: every record names one, both measure, faults give their own errors ----
TT_FAULT_INJECT="wrong@2,segv@4,hang@6" expect 0 "done" "$WORK/mm.json" --trials 16 --tuner random \
  --rpc "$A,$B" --rpc-key-file "$WORK/dev.key" --log "$WORK/two.log" --db "$WORK/two.db"
check "17 records: 16 trials and the re-measured winner" test "$(wc -l <"$WORK/two.log")" = 17
check "the log names the devices, and each fault its own error" /usr/bin/python3 - "$WORK/two.log" "$A" "$B" <<'PY'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
devs = {r.get("device", "").split(" ")[0] for r in recs}
assert devs == {sys.argv[2], sys.argv[3]}, devs
assert sorted(r["trial"] for r in recs[:16]) == list(range(16)), [r["trial"] for r in recs]
assert all(r["target"].startswith("llvm -mtriple=x86_64-linux-gnu -mcpu=x86-64") for r in recs)
by = {r["trial"]: r for r in recs[:16]}
assert by[2]["error"] == 4 and "max relative error" in by[2]["error_msg"], by[2]
assert by[4]["error"] == 3 and "ended the session process" in by[4]["error_msg"], by[4]
assert by[6]["error"] == 6 and by[6]["error_msg"].startswith("timeout"), by[6]
ok = [r for r in recs if r["error"] == 0]
# repeat 2, or 1 for a candidate stopped early (slower than 3x the best so far)
assert len(ok) >= 10 and all(len(r["costs"]) in (1, 2) for r in ok), len(ok)
assert sum(len(r["costs"]) == 2 for r in ok) >= 2
PY
check "both servers still serve after the crash and the hang" kill -0 "$a_pid" "$b_pid"

# ---- a server killed mid-run: one error record at most, the other device finishes ----
rm -f "$WORK/kill.log"
"$TT" "$WORK/mm.json" --trials 30 --tuner random --rpc "$A,$B" --rpc-key-file "$WORK/dev.key" \
  --log "$WORK/kill.log" --quiet >"$WORK/kill.out" 2>&1 &
tuner=$!
# wait for the run to be under way (a condition on the log, not a fixed delay)
while kill -0 "$tuner" 2>/dev/null && [ "$(cat "$WORK/kill.log" 2>/dev/null | wc -l)" -lt 4 ]; do
  sleep 0.05
done
kill -9 -- "-$b_pid"
wait "$tuner"
check "the run went on without the killed device (exit 0)" test $? = 0
check "30 trials logged once each, at most one lost to the device" /usr/bin/python3 - "$WORK/kill.log" "$B" <<'PY'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
trials = [r["trial"] for r in recs]
assert sorted(set(trials)) == list(range(30)), trials
assert len(recs) == 31, len(recs)  # and the re-measured winner
lost = [r for r in recs if r["error"] != 0]
assert len(lost) <= 1, lost
for r in lost:
    assert (r["error"] == 8 and r["error_msg"].startswith("device " + sys.argv[2] + " lost")) or \
        (r["error"] == 6 and r["error_msg"].startswith("timeout")), r
print("%d record(s) lost with the device" % len(lost))
PY
sed 's/^/    /' "$WORK/check.out"

# ---- a tuner killed mid-run continues with --resume, measuring nothing twice ----
rm -f "$WORK/resume.log"
"$TT" "$WORK/mm.json" --trials 20 --tuner xgb --rpc "$A" --rpc-key-file "$WORK/dev.key" \
  --log "$WORK/resume.log" --quiet >/dev/null 2>&1 &
tuner=$!
while kill -0 "$tuner" 2>/dev/null && [ "$(cat "$WORK/resume.log" 2>/dev/null | wc -l)" -lt 6 ]; do
  sleep 0.05
done
kill -9 "$tuner"
wait "$tuner" 2>/dev/null
before=$(wc -l <"$WORK/resume.log")
expect 0 "done" "$WORK/mm.json" --trials 20 --tuner xgb --rpc "$A" --rpc-key-file "$WORK/dev.key" \
  --log "$WORK/resume.log" --resume
check "the resumed run measured only the missing trials (killed after $before)" /usr/bin/python3 - "$WORK/resume.log" <<'PY'
import json, sys
recs = []
for line in open(sys.argv[1]):
    try:
        recs.append(json.loads(line))
    except ValueError:
        pass  # a line the kill cut short
trials = [r["trial"] for r in recs]
assert sorted(set(trials)) == list(range(20)), trials
assert len(trials) - len(set(trials)) == 1, trials  # only the winner is logged twice
PY
# No process left behind: every session of server a (the crash, the hang, the tuners killed
# mid-run) ends once its client is gone; polled, as the session notices the hang-up on its own.
for _ in $(seq 300); do
  [ -z "$(pgrep -P "$a_pid")" ] && break
  sleep 0.1
done
check "no session process of a server outlives its client" test -z "$(pgrep -P "$a_pid")"
finish
