# tvm-tune model eval LOG: train the cost model on the first part of a real tuning log and rank
# the rest; save and load the model; bad input (corrupt model files, logs with no usable
# records, bad flags) and its exit codes.
. "$(dirname "$0")/lib.sh"
cd "$WORK" || exit 1

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

expect 0 "model eval LOG" model --help
expect 2 "model eval LOG" model
expect 2 "unknown subcommand 'frob'" model frob
expect 0 "--train-fraction F" model eval --help

cat >mm.json <<'JSON'
{"measure": {"repeat": 1, "min_repeat_ms": 1, "timeout_s": 10},
 "op": "matmul", "M": 32, "N": 32, "K": 16}
JSON
expect 0 "" mm.json --trials 40 --log mm.log --tuner random --seed 3 --quiet --jobs 2

expect 0 "pairwise ranking accuracy: 0." model eval mm.log --model-out m.model --threads 1
check "recall reported" grep -qE "recall of the true top-10 among the predicted top-32: [01]\.[0-9]{3} \(1 workload\)" out
check "train and test parts (41 records: 32 + 9)" grep -qE "^train: 32 records -> 32 rows" out
check "test part" grep -qE "^test: 9 records -> 9 rows" out
grep "^pairwise ranking accuracy" out >trained.txt
check "model saved" head -c 40 m.model
check "model header" grep -q "^tvm-tune-model 1 features=[0-9]* objective=rank" m.model
expect 0 "model: loaded from m.model" model eval mm.log --model-in m.model
check "loaded model scores the same" sh -c "grep '^pairwise ranking accuracy' $WORK/out | cmp - $WORK/trained.txt"
expect 0 "reg:squarederror" model eval mm.log --objective reg --train-fraction 0.5 --rounds 20
check "half and half" grep -qE "^train: 20 records" out

# the model-guided strategy end to end: random until 16 candidates are measured, then guided
expect 0 "matmul_32x32x16_f32" tune mm.json --trials 48 --log xgb.log --tuner xgb --seed 4 --quiet --jobs 2
check "xgb tuner named in the log" test "$(grep -c '"tuner":"xgb"' xgb.log)" -ge 48
check "xgb: 48 distinct schedules" test "$(python3 -c "import json,sys; print(len({json.dumps(json.loads(l)['steps']) for l in open('xgb.log')}))")" -eq 48
expect 2 "expected xgb, ga, random or grid" tune mm.json --trials 4 --tuner xgboost

# bad input
printf 'not a model\n' >junk.model
expect 2 "junk.model: not a tvm-tune model" model eval mm.log --model-in junk.model
head -c 2000 m.model >cut.model
expect 2 "cut.model: corrupt model" model eval mm.log --model-in cut.model
expect 2 "absent.model: cannot read the model" model eval mm.log --model-in absent.model
python3 - mm.log bad.log <<'PY'
import json, sys
out = open(sys.argv[2], "w")
for line in open(sys.argv[1]):
    r = json.loads(line)
    r["steps"] = [{"s": "split", "stage": "C", "loop": "zz", "factors": [2]}]
    out.write(json.dumps(r, separators=(",", ":")) + "\n")
PY
expect 2 "bad.log: no usable records (32 records, none rebuilds and lowers; first problem: line 1:" model eval bad.log
: >empty.log
expect 2 "empty.log: 0 records: too few" model eval empty.log
expect 2 "absent.log" model eval absent.log
expect 2 "--train-fraction 1.5: expected a number between 0 and 1" model eval mm.log --train-fraction 1.5
expect 2 "--objective lambda: expected rank or reg" model eval mm.log --objective lambda
expect 2 "--label-step 1.5: expected 0 <= step < 1" model eval mm.log --label-step 1.5
expect 0 "pairwise ranking accuracy: 0." model eval mm.log --label-step 0.1 --rounds 20
expect 2 "expected one LOG" model eval
finish
