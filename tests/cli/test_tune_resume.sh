# Interrupting tvm-tune: kill -9 in the middle of a run, then --resume (every record intact, no
# candidate measured twice, the trial numbers go on); SIGINT (exit 130, the run marked
# interrupted in the database, resumable).
. "$(dirname "$0")/lib.sh"
cd "$WORK" || exit 1

# wait_lines FILE N PID: until FILE has N lines, while PID lives. No time limit: a slow machine
# only waits longer (ctest's timeout ends a tuner that hangs).
wait_lines() {
  while kill -0 "$3" 2>/dev/null; do
    [ -f "$1" ] && [ "$(wc -l <"$1")" -ge "$2" ] && return 0
    sleep 0.1
  done
  [ -f "$1" ] && [ "$(wc -l <"$1")" -ge "$2" ]
}

# The log's records: every line but a truncated last one decodes; no schedule of a workload is
# measured under two trial numbers (the winner's re-measurement keeps its trial); prints the
# number of distinct trials and the largest trial number.
log_facts() {
  python3 - "$1" <<'PY'
import json, sys
lines = open(sys.argv[1]).read().split("\n")
recs = []
for n, line in enumerate(lines, 1):
    if not line:
        continue
    try:
        recs.append(json.loads(line))
    except ValueError:
        assert n == len(lines) or lines[n:] == [""] or "\"v\"" in line, f"line {n} is corrupt"
        print(f"skipped a truncated line {n}", file=sys.stderr)
seen = {}
for r in recs:
    k = (r["key"], json.dumps(r["steps"], sort_keys=True))
    assert seen.setdefault(k, r["trial"]) == r["trial"], f"{k} measured as trials {seen[k]} and {r['trial']}"
trials = {r["trial"] for r in recs}
print(len(trials), max(trials))
PY
}

cat >mm.json <<'JSON'
{"measure": {"repeat": 2, "min_repeat_ms": 2, "timeout_s": 10},
 "op": "matmul", "M": 48, "N": 40, "K": 32}
JSON

# kill -9 after a few records, then resume to the same budget.
"$TT" mm.json --trials 24 --jobs 1 --db t.db >run1.out 2>&1 &
pid=$!
check "records appear" wait_lines mm.log 5 $pid
kill -9 $pid
wait $pid 2>/dev/null
read -r n1 max1 < <(log_facts mm.log)
check "killed run left a valid log ($n1 trials)" test "$n1" -ge 5 -a "$n1" -lt 24
check "killed run stays 'running' in the database" test "$(sqlite3 t.db 'select status from runs')" = running
expect 0 "matmul_48x40x32_f32" mm.json --trials 24 --jobs 1 --db t.db --resume
read -r n2 max2 < <(log_facts mm.log)
check "resumed to 24 trials, numbered on (got $n2, max $max2)" test "$n2" = 24 -a "$max2" = 23
check "resumed summary counts every trial" grep -qE "^matmul_48x40x32_f32 +24 " out
valid_lines() {
  python3 -c "
import json, sys
n = 0
for l in open(sys.argv[1]):
    try: json.loads(l); n += 1
    except ValueError: pass
print(n)" "$1"
}
check "database holds every record of the log" test "$(sqlite3 t.db 'select count(*) from records')" = "$(valid_lines mm.log)"
check "resumed run finished with its own trials" test "$(sqlite3 t.db "select trials_done from runs where id = 2 and status = 'finished'")" = $((24 - n1))

# A larger budget continues the same log.
expect 0 "" mm.json --trials 28 --jobs 1 --resume
read -r n3 max3 < <(log_facts mm.log)
check "continued to 28 trials (got $n3, max $max3)" test "$n3" = 28 -a "$max3" = 27

# A truncated last line (a crash mid-write): resume warns, skips it and goes on.
printf '{"v":1,"key":"matmul_48x40x32_f32-' >>mm.log
expect 0 "mm.log:" mm.json --trials 30 --jobs 1 --resume
read -r n4 max4 < <(log_facts mm.log)
check "after a truncated line (got $n4, max $max4)" test "$n4" = 30 -a "$max4" = 29

# SIGINT: exit 130, the run interrupted in the database, then resumable.
cp mm.json mm2.json
"$TT" mm2.json --trials 30 --jobs 1 --db t2.db >int.out 2>&1 &
pid=$!
check "records appear (SIGINT run)" wait_lines mm2.log 4 $pid
kill -INT $pid
wait $pid
code=$?
check "SIGINT exits 130 (got $code)" test "$code" = 130
check "SIGINT message" grep -qF "continue with --resume" int.out
check "SIGINT summary" grep -qE "^matmul_48x40x32_f32 +[0-9]+ .*interrupted" int.out
check "run marked interrupted" test "$(sqlite3 t2.db 'select status from runs')" = interrupted
read -r n5 max5 < <(log_facts mm2.log)
expect 0 "" mm2.json --trials 30 --jobs 1 --db t2.db --resume
read -r n6 max6 < <(log_facts mm2.log)
check "resumed after SIGINT (got $n6, max $max6)" test "$n6" = 30 -a "$max6" = 29
check "second run finished" test "$(sqlite3 t2.db "select group_concat(status) from runs")" = "interrupted,finished"

finish
