# tvm-tune tune with a cost model carried between runs: --transfer LOG (train the first model on
# other workloads' records), --model-out / --model-in, their bad inputs, and the task
# schedulers on a two-task op.json. Tiny shapes and few trials: it must stay fast.
. "$(dirname "$0")/lib.sh"
cd "$WORK" || exit 1

expect 0 "--transfer LOG" tune --help
expect 0 "--task-scheduler S" tune --help

cat >a.json <<'JSON'
{"measure": {"repeat": 1, "min_repeat_ms": 1, "timeout_s": 10},
 "op": "matmul", "M": 16, "N": 16, "K": 8}
JSON
cat >b.json <<'JSON'
{"measure": {"repeat": 1, "min_repeat_ms": 1, "timeout_s": 10},
 "op": "matmul", "M": 24, "N": 16, "K": 8}
JSON
expect 0 "" a.json --trials 20 --log a.log --tuner random --seed 2 --quiet --jobs 2

# a new shape guided from its first batch by what a.log taught, saving the model at the end
expect 0 "transfer: a.log: 21 rows from 21 records (0 unusable)" \
  b.json --trials 10 --log b.log --tuner xgb --transfer a.log --model-out b.model --jobs 2
check "model saved" grep -q "^tvm-tune-model 1 features=" b.model
check "10 distinct xgb trials" test "$(python3 -c "import json; print(len({json.dumps(json.loads(l)['steps']) for l in open('b.log') if json.loads(l)['tuner'] == 'xgb'}))")" -eq 10
# the saved model ranks the log it was trained with (b.log) and starts another run
expect 0 "model: loaded from b.model" model eval b.log --model-in b.model --train-fraction 0.5
expect 0 "matmul_24x16x8_f32" b.json --trials 6 --log c.log --tuner xgb --model-in b.model --quiet --jobs 2
check "model-in run logged" test "$(grep -c '"tuner":"xgb"' c.log)" -ge 6

# bad input: before anything is written
expect 2 "--model-in needs the xgb tuner (--tuner xgb), not ga" b.json --trials 4 --log d.log --tuner ga --model-in b.model
expect 2 "--transfer needs the xgb tuner (--tuner xgb), not random" b.json --trials 4 --log d.log --tuner random --transfer a.log
printf 'not a model\n' >junk.model
expect 2 "--model-in: junk.model: not a tvm-tune model" b.json --trials 4 --log d.log --tuner xgb --model-in junk.model
: >empty.log
expect 2 "--transfer: empty.log: no usable records" b.json --trials 4 --log d.log --tuner xgb --transfer empty.log
expect 2 "--transfer: cannot open log 'absent.log'" b.json --trials 4 --log d.log --tuner xgb --transfer absent.log
check "no log written on bad input" test ! -e d.log
expect 2 "--task-scheduler fair: expected gradient or round-robin" b.json --trials 4 --task-scheduler fair
expect 1 "--model-out" b.json --trials 2 --log e.log --quiet --model-out "$WORK/no/such/dir/m.model"

# two tasks: the gradient scheduler gives each a first round, round robin splits by weight
cat >two.json <<'JSON'
{"measure": {"repeat": 1, "min_repeat_ms": 1, "timeout_s": 10},
 "tasks": [{"op": "matmul", "M": 16, "N": 16, "K": 8},
           {"op": "expr", "name": "addmul", "weight": 2, "inputs": {"A": [12, 10], "B": [12, 10]},
            "compute": "C[i, j] = A[i, j] * B[i, j] + 1"}]}
JSON
per_task() { python3 -c "
import json, collections
c = collections.Counter(json.loads(l)['key'].split('-')[0][:6] for l in open('$1'))
print(c['matmul'] > 0 and c['addmul'] > 0 and sum(c.values()) >= $2)"; }
expect 0 "addmul" two.json --trials 12 --log g.log --jobs 2 --quiet
check "gradient: both tasks tuned" test "$(per_task g.log 12)" = True
expect 0 "addmul" two.json --trials 12 --log r.log --jobs 2 --quiet --task-scheduler round-robin
check "round robin: both tasks tuned" test "$(per_task r.log 12)" = True
finish
