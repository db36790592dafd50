# The test-only fault injector (TT_FAULT_INJECT="KIND@TRIAL,...", honoured by the tuning loop;
# see tuner/tune_build.c): broken candidates become error records with the right codes while
# tuning goes on; 20 failures in a row stop a task with a diagnosis and exit 1.
. "$(dirname "$0")/lib.sh"
cd "$WORK" || exit 1

# code_of LOG TRIAL: the error code of the first record of TRIAL.
code_of() {
  python3 -c "
import json, sys
for l in open(sys.argv[1]):
    r = json.loads(l)
    if r['trial'] == int(sys.argv[2]):
        print(r['error'], r['error_msg'][:80]); break" "$1" "$2"
}
# has_code LOG TRIAL REGEX: the record of TRIAL, as "CODE MESSAGE", matches REGEX.
has_code() {
  code_of "$1" "$2" | grep -q "$3"
}

cat >mm.json <<'JSON'
{"measure": {"repeat": 2, "min_repeat_ms": 1, "timeout_s": 10},
 "op": "matmul", "M": 16, "N": 16, "K": 16}
JSON
export TT_FAULT_INJECT="build_crash@1,segv@2,hang@3,wrong@4,build_error@5"
# --timeout limits every candidate's build as well as the hang's run: with 2 s, good candidates
# whose builds took up to 1.8 s under ASan with one core loaded came close to failing. 8 s is
# near the 10 s of the other CLI tests, and unlike the file's, so the message shows --timeout won.
expect 0 "trial 3 matmul_16x16x16_f32: run timeout" mm.json --trials 10 --timeout 8 --verbose
check "build crash: code 2" has_code mm.log 1 '^2 build crashed'
check "segv: code 3, signal 11" has_code mm.log 2 '^3 .*signal 11'
check "hang: code 6, after --timeout" has_code mm.log 3 '^6 run timed out after 8.0 s'
check "wrong: code 4" has_code mm.log 4 '^4 max relative error'
check "build error: code 2" has_code mm.log 5 '^2 injected build error'
check "good candidates still measured" has_code mm.log 6 '^0 '
check "summary: 10 trials, 5 errors" grep -qE "^matmul_16x16x16_f32 +10 +5 " out

# Every candidate fails: the task stops after 20 in a row, naming the most common error.
faults=""
for t in $(seq 0 29); do faults="$faults${faults:+,}build_error@$t"; done
export TT_FAULT_INJECT="$faults"
expect 1 "stopped after 20 failed candidates in a row; most common: compile error: injected build error" \
  mm.json --trials 30 --log all_bad.log
check "stopped at 20 records" test "$(wc -l <all_bad.log)" = 20
check "summary says why" grep -qE "^matmul_16x16x16_f32 +20 +20 .*too many errors" out

export TT_FAULT_INJECT="segv@x"
expect 2 "TT_FAULT_INJECT" mm.json --trials 3 --log x.log
unset TT_FAULT_INJECT

finish
