# tvm-tune OP.json --trials N: short real tuning runs of a matmul, a conv2d and an expr op; what
# the log lines and the database hold; the summary; bad input and its exit codes.
. "$(dirname "$0")/lib.sh"
cd "$WORK" || exit 1

# Every line of a log decodes and has the fields docs/ARCHITECTURE.md lists, with the right types.
valid_log() {
  python3 - "$@" <<'PY'
import json, sys
path, want_key, want = sys.argv[1], sys.argv[2], int(sys.argv[3])
lines = open(path).read().splitlines()
trials = set()
for n, line in enumerate(lines, 1):
    r = json.loads(line)
    for f, t in [("v", int), ("key", str), ("workload", dict), ("target", str), ("steps", list),
                 ("costs", list), ("error", int), ("error_msg", str), ("build_s", (int, float)),
                 ("gflops", (int, float)), ("time", str), ("tuner", str), ("trial", int),
                 ("seed", int)]:
        assert isinstance(r[f], t), f"line {n}: field {f} is {r[f]!r}"
    assert r["key"].startswith(want_key), f"line {n}: key {r['key']}"
    assert r["target"].startswith("llvm -mtriple="), r["target"]
    if r["error"] == 0:
        assert r["costs"] and r["gflops"] > 0 and all(c > 0 for c in r["costs"]), f"line {n}"
    else:
        assert r["costs"] == [] and r["gflops"] == 0 and r["error_msg"], f"line {n}"
    trials.add(r["trial"])
assert trials == set(range(want)), f"trials {sorted(trials)}, expected 0..{want - 1}"
assert len(lines) == want + 1, f"{len(lines)} lines, expected {want} and the winner"
PY
}

expect 0 "--early-stopping N" tune --help
expect 0 "--resume" tune --help
expect 0 "tune OP.json" --help
expect 2 "--trials N is required" tune mm.json

cat >mm.json <<'JSON'
{"measure": {"repeat": 2, "min_repeat_ms": 1, "timeout_s": 10},
 "op": "matmul", "M": 24, "N": 20, "K": 16}
JSON
expect 0 "matmul_24x20x16_f32" mm.json --trials 12 --db tune.db --jobs 2 --seed 7
check "summary row" grep -qE "^matmul_24x20x16_f32 +12 +[0-9]+ +[0-9.]+ +[0-9.e-]+ +done" out
check "progress on stderr" grep -qF "task 1/1 matmul_24x20x16_f32 | trials" out
check "time line: wall, timed kernel runs, overhead" grep -qE "^time: [0-9.]+ s, of which timed kernel runs [0-9.]+ s \(overhead [0-9.]+x\)$" out
check "matmul log (mm.log, default name)" valid_log mm.log matmul_24x20x16_f32- 12
check "seed in the log" grep -q '"seed":7' mm.log
# One kernel thread: on a machine with a CPU to spare the builds run beside the measurements
# (else as always); either way every candidate is built, checked and logged once, and a run
# with --serial-builds measures the same candidates.
cat >mm1t.json <<'JSON'
{"measure": {"repeat": 2, "min_repeat_ms": 1, "timeout_s": 10, "threads": 1},
 "op": "matmul", "M": 24, "N": 20, "K": 16}
JSON
expect 0 "matmul_24x20x16_f32" mm1t.json --trials 20 --tuner random --log mm1t.log --seed 3 --quiet
check "one kernel thread: log" valid_log mm1t.log matmul_24x20x16_f32- 20
expect 0 "matmul_24x20x16_f32" mm1t.json --trials 20 --tuner random --log mm1t_serial.log --seed 3 --quiet --serial-builds
check "--serial-builds: log" valid_log mm1t_serial.log matmul_24x20x16_f32- 20
check "the same candidates with and without --serial-builds" python3 - mm1t.log mm1t_serial.log <<'PY'
import json, sys
a, b = ([(r["trial"], json.dumps(r["steps"])) for r in map(json.loads, open(f))][:20]
        for f in sys.argv[1:3])
assert a == b, "different candidates"
PY
expect 0 "time by phase" tune mm.json --trials 6 --log mm_verbose.log --verbose --quiet
# The phases are parts of the wall time: together at most the total, each one non-negative.
check "phase times add up to at most the wall time" python3 - "$WORK/out" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
wall = float(re.search(r"^time: ([0-9.]+) s", text, re.M).group(1))
m = re.search(r"^time by phase: search ([0-9.]+) s, lowering ([0-9.]+) s, builds ([0-9.]+) s, "
              r"measurement ([0-9.]+) s \(timed runs ([0-9.]+) s\), records ([0-9.]+) s, "
              r"re-measurement ([0-9.]+) s$", text, re.M)
assert m, "no phase line"
v = [float(x) for x in m.groups()]
phases = v[0] + v[1] + v[2] + v[3] + v[5] + v[6]
assert v[4] <= v[3] + 0.05, f"timed {v[4]} > measurement {v[3]}"
assert min(v) >= 0, f"negative phase: {v}"
assert phases <= wall + 0.15, f"phases {phases} > wall {wall}"  # each printed to 0.1 s
PY
check "database run row" test "$(sqlite3 tune.db "select status || ' ' || trials_asked || ' ' || trials_done || ' ' || tuner from runs")" = "finished 12 12 xgb"
check "database records" test "$(sqlite3 tune.db 'select count(*) from records')" = 13

cat >conv.json <<'JSON'
{"measure": {"repeat": 2, "min_repeat_ms": 1, "timeout_s": 10},
 "op": "conv2d", "N": 1, "C": 3, "H": 9, "W": 9, "K": 4, "R": 3, "S": 3, "pad": [1, 1],
 "bias": true, "activation": "relu"}
JSON
expect 0 "conv2d_nchw" tune conv.json --trials 12 --log conv.tlog --db tune.db --tuner random --quiet
check "quiet: no progress" sh -c "! grep -q 'trials/s' $WORK/out"
check "no phase times without --verbose" sh -c "! grep -q '^time by phase' $WORK/out"
check "conv2d log" valid_log conv.tlog conv2d_nchw_n1_c3_h9_w9_k4 12
check "random tuner named" grep -q '"tuner":"random"' conv.tlog

cat >expr.json <<'JSON'
{"measure": {"repeat": 2, "min_repeat_ms": 1, "timeout_s": 10},
 "op": "expr", "name": "scaled_mm", "inputs": {"A": [16, 12], "B": [12, 8], "s": [8]},
 "compute": "C[i, j] = sum(k, A[i, k] * B[k, j]) * s[j]"}
JSON
expect 0 "scaled_mm" expr.json --trials 12 --db tune.db --early-stopping 100
check "expr log" valid_log expr.log scaled_mm- 12
check "three runs finished" test "$(sqlite3 tune.db "select count(*) from runs where status = 'finished'")" = 3

# An existing log without --resume: exit 2, the file unchanged.
sum_before=$(md5sum mm.log)
expect 2 "pass --resume to continue it or choose another --log" mm.json --trials 4
check "log unchanged" test "$(md5sum mm.log)" = "$sum_before"

# A log with a corrupt line (not a crash's truncated last line) is refused on --resume.
{ echo 'not json'; cat mm.log; } >corrupt.log
expect 2 "corrupt.log:1:" mm.json --trials 14 --log corrupt.log --resume

# --resume of another workload's log (the expr run's): exit 2, the file unchanged.
sum_before=$(md5sum expr.log)
expect 2 "none of them of these tasks (it is a log of scaled_mm-" mm.json --trials 14 --log expr.log --resume
check "foreign log unchanged" test "$(md5sum expr.log)" = "$sum_before"

# Bad input: the op.json's position, a database in a missing directory, a directory as the log,
# a target of another machine, bad flags.
printf '{"op": "matmul",\n "M": -4, "N": 2, "K": 2}\n' >bad.json
expect 2 "bad.json:2:" bad.json --trials 4
expect 2 "cannot open" missing.json --trials 4
expect 2 "--db" mm.json --trials 4 --log new.log --db "$WORK/no/such/dir/t.db"
check "nothing written for a bad database" test ! -e new.log
mkdir adir
expect 2 "not a regular file" mm.json --trials 4 --log adir
expect 2 "not a regular file" mm.json --trials 4 --log adir --resume
expect 2 "does not run on this machine" mm.json --trials 4 --log t2.log --target "llvm -mtriple=aarch64-linux-gnu"
expect 2 "--tuner xgb2" mm.json --trials 4 --tuner xgb2
expect 2 "--trials 0" mm.json --trials 0
expect 2 "--jobs x: expected an integer" mm.json --trials 4 --jobs x --log jobs.log
# One message, from the one integer parser (a failed parse once went on to read the unset value).
check "one message for a bad --jobs" test "$(grep -c . "$WORK/out")" = 1
check "nothing written for a bad --jobs" test ! -e jobs.log
expect 2 "--jobs 4x: expected an integer" mm.json --trials 4 --jobs 4x --log jobs.log
expect 2 "--jobs 99999999999: expected an integer from" mm.json --trials 4 --jobs 99999999999
expect 2 "--jobs 257: expected an integer from 1 to 256" mm.json --trials 4 --jobs 257 --log jobs.log
expect 2 "--jobs -1: expected an integer from 1 to 256" mm.json --trials 4 --jobs -1 --log jobs.log
check "nothing written for --jobs out of range" test ! -e jobs.log
expect 2 "--timeout 0.5s: expected a number of seconds" mm.json --trials 4 --timeout 0.5s
expect 2 "--timeout -1: expected seconds" mm.json --trials 4 --timeout -1

finish
