#!/usr/bin/env bash
# `tvm-tune farm` against the PostgreSQL server of the test fixture (TT_PG_STATE), in a fresh
# database: bad usage (exit 2, naming the flag), an unreachable server (exit 1, naming it, never
# the password), the device pool and the job queue as `farm devices` and `farm status` print
# them, and two workers on two RPC servers where the first is killed with SIGKILL mid-job and the
# second (--until-empty) waits out its lease and finishes every job: no trial stored twice.
source "$(dirname "$0")/lib.sh"
cd "$WORK" || exit 1
w1=""
w4=""

if [ -z "${TT_PG_STATE:-}" ] || [ ! -f "$TT_PG_STATE/uri" ]; then
  echo "skip: no PostgreSQL fixture (TT_PG_STATE)"
  exit 77
fi
base=$(cat "$TT_PG_STATE/uri")
db=tt_cli_farm_$$
psql -q "$base" -c "CREATE DATABASE $db" || exit 1
URI=${base%/*}/$db
sql() { psql -qAt "$URI" -c "$1"; }
# A count, 0 while its table does not exist yet (a worker creates the tuning tables when it starts).
count() {
  local n
  n=$(psql -qAt "$URI" -c "$1" 2>/dev/null)
  echo "${n:-0}"
}

# ---- usage and connection errors ----
expect 2 "usage: tvm-tune farm" farm
expect 2 "unknown subcommand 'list'" farm list
expect 2 "--db URL is required" farm devices
expect 2 "expected a postgresql:// or postgres:// URI" farm devices --db tuning.db
expect 2 "unknown flag '--password'" farm devices --db "$URI" --password x
expect 2 "--kind is required" farm device add --db "$URI" h:1
expect 2 "expected one HOST:PORT" farm device add --db "$URI" --kind k
expect 2 "expected HOST:PORT" farm device add --db "$URI" --kind k nohost
expect 2 "--key ../k: expected a file name" farm device add --db "$URI" --kind k h:1 --key ../k
expect 2 "--trials N is required" farm submit "$ROOT/examples/matmul.json" --db "$URI" --kind k
expect 2 "--trials 0: expected an integer >= 1" farm submit "$ROOT/examples/matmul.json" --db "$URI" --trials 0 --kind k
expect 2 "nope.json" farm submit nope.json --db "$URI" --trials 4 --kind k
expect 2 "--lease-s 1: expected an integer from 3 to 86400" farm work --db "$URI" --lease-s 1
expect 2 "--tuner best: expected" farm work --db "$URI" --tuner best
expect 2 "--key-dir $WORK/none: not a directory" farm work --db "$URI" --key-dir "$WORK/none"
expect 1 "database 127.0.0.1:1/farm: cannot connect" farm devices --db "postgresql://tt:s3cret@127.0.0.1:1/farm"
check "an unreachable server's message has no password" sh -c "! grep -q s3cret '$WORK/out'"
port=$(sed 's|.*:\([0-9]*\)/.*|\1|' <<<"$URI")
expect 1 "password authentication failed" farm status --db "postgresql://tt:wr0ngpw@127.0.0.1:$port/$db"
check "a refused password is not printed" sh -c "! grep -q wr0ngpw '$WORK/out'"
# The right password in the URI (no PGPASSFILE): it works, and appears in no output.
pw=$(cut -d: -f5 "$PGPASSFILE")
pgpass=$PGPASSFILE
unset PGPASSFILE
expect 0 "no device" farm devices --db "postgresql://tt:$pw@127.0.0.1:$port/$db"
export PGPASSFILE=$pgpass
check "the URI's password is not printed" sh -c "! grep -qF -- '$pw' '$WORK/out'"

# ---- the device pool: two RPC servers, one key each ----
mkdir keys
expect 0 "" rpc keygen -o keys/dev1
expect 0 "" rpc keygen -o keys/dev2
pids=()
ports=()
for k in dev1 dev2; do
  coproc SRV { exec "$TT" rpc server --port 0 --key-file "keys/$k" --work-dir "$WORK" 2>>"$WORK/servers.err"; }
  pids+=("$SRV_PID")
  read -r line <&"${SRV[0]}"
  ports+=("${line##*:}")
done
trap 'kill "${pids[@]}" $w1 $w4 2>/dev/null; psql -q "$base" -c "DROP DATABASE IF EXISTS $db" 2>/dev/null; rm -rf "$WORK"' EXIT
expect 0 "added 127.0.0.1:${ports[0]} (kind x86, key dev1)" farm device add --db "$URI" --kind x86 "127.0.0.1:${ports[0]}" --key dev1
expect 0 "added 127.0.0.1:${ports[1]} (kind x86, key dev2)" farm device add --db "$URI" --kind x86 "127.0.0.1:${ports[1]}" --key dev2
expect 0 "updated 127.0.0.1:${ports[1]}" farm device add --db "$URI" --kind x86 "127.0.0.1:${ports[1]}" --key dev2
expect 0 "added 10.0.0.9:9090 (kind rk3399, key rk3399)" farm device add --db "$URI" --kind rk3399 10.0.0.9:9090
expect 0 "removed 10.0.0.9:9090" farm device remove --db "$URI" 10.0.0.9:9090
expect 2 "no device '10.0.0.9:9090' in the pool" farm device remove --db "$URI" 10.0.0.9:9090
expect 0 "KIND         ADDRESS                  FAILURES LAST SEEN               STATE" farm devices --db "$URI"
check "farm devices: both free, never seen" test "$(grep -c 'x86 .* 0 *never *free$' "$WORK/out")" = 2
# A quarantined device as the pool shows it, then brought back by adding it again.
sql "UPDATE farm_devices SET state = 'quarantined', failures_in_row = 3, quarantine_reason = 'device lost: reset' WHERE addr = '127.0.0.1:${ports[1]}'"
expect 0 "quarantined: device lost: reset" farm devices --db "$URI"
expect 0 "updated" farm device add --db "$URI" --kind x86 "127.0.0.1:${ports[1]}" --key dev2
expect 0 "" farm devices --db "$URI"
check "adding it again cleared the quarantine" sh -c "! grep -q quarantined '$WORK/out'"

# ---- the queue ----
cat >op.json <<'EOF'
{"measure": {"repeat": 2, "min_repeat_ms": 5, "timeout_s": 5},
 "tasks": [{"op": "matmul", "M": 64, "N": 64, "K": 64},
           {"op": "matmul", "M": 48, "N": 32, "K": 64}]}
EOF
expect 0 "no job" farm status --db "$URI"
expect 0 "submitted 2 jobs (0 already queued) of 24 trials on x86" farm submit op.json --db "$URI" --trials 24 --kind x86
expect 0 "submitted 0 jobs (2 already queued)" farm submit op.json --db "$URI" --trials 24 --kind x86
expect 0 "matmul_64x64x64_f32" farm status --db "$URI"
check "farm status: both queued at 0/24" test "$(grep -c ' 0/24 .* queued ' "$WORK/out")" = 2

# ---- two workers, the first killed mid-job ----
# w1's trial 6 hangs (until the 5 s limit): it is killed with a job half done, records stored.
TT_FAULT_INJECT=hang@6 "$TT" farm work --db "$URI" --key-dir keys --lease-s 3 --quiet --tuner random --jobs 2 --name w1 >w1.out 2>&1 &
w1=$!
# Until w1 stored a few records (no time limit: ctest's timeout ends a hang).
# (A w1 that ended every job, which must not happen, fails the checks below rather than hangs.)
while kill -0 "$w1" 2>/dev/null &&
  [ "$(count "SELECT count(*) FROM records r JOIN farm_jobs j ON j.task_key = r.key WHERE j.state = 'running'")" -lt 4 ] &&
  [ "$(sql "SELECT count(*) FROM farm_jobs WHERE state IN ('queued', 'running')")" -gt 0 ]; do
  sleep 0.1
done
kill -9 "$w1"
wait "$w1" 2>/dev/null
check "the killed worker stored records" test "$(sql 'SELECT count(*) FROM records')" -ge 4
expect 0 "leased by w1 until" farm devices --db "$URI"
expect 0 "running" farm status --db "$URI"
expect 0 "2 jobs ended by this worker; no open job" farm work --db "$URI" --key-dir keys --lease-s 3 --quiet --tuner random --jobs 2 --name w2 --until-empty
check "the second worker continued the killed worker's job" grep -q "attempt 2" "$WORK/out"
expect 0 "" farm status --db "$URI"
check "farm status: both jobs done at 24/24 by w2" test "$(grep -c ' 24/24 .* done .* w2 ' "$WORK/out")" = 2
check "no trial of a job stored twice (but the winner's re-measurement)" test \
  "$(sql "SELECT count(*) FROM (SELECT key, trial FROM records GROUP BY key, trial HAVING count(*) > 2) x")" = 0
check "every trial 0..23 of both jobs is stored" test \
  "$(sql "SELECT count(DISTINCT (key, trial)) FROM records WHERE trial < 24")" = 48
check "no device still leased" test "$(sql "SELECT count(*) FROM farm_devices WHERE state <> 'free'")" = 0

# Where the records were measured: on the RPC devices when the tuner measures remotely (their
# records name the device), on this host otherwise; both are right for this test.
echo "info: $(sql "SELECT count(*) FILTER (WHERE device <> '') || ' of ' || count(*) FROM records") records measured on an RPC device"
"$TT" farm devices --db "$URI" | sed 's/^/info: /'

# The records are in the same database's tuning tables: best and compile read them there, for
# the target they were measured for (the device's own: jobs were submitted without --target).
target=$(sql "SELECT DISTINCT target FROM records")
check "one target in the records" test "$(wc -l <<<"$target")" = 1 -a -n "$target"
expect 0 "GFLOPS" best --db "$URI"
check "best: both tasks tuned" test "$(grep -c GFLOPS "$WORK/out")" = 2
expect 0 "" compile op.json --db "$URI" --target "$target" -o libops.so
check "compile: no task fell back to the default schedule" sh -c "! grep -q default '$WORK/out'"

# A device that goes away mid-job (only when the tuner measures on the devices): the job goes
# back to the queue after a lease period without records, every new attempt finds the device
# dead, 3 failures in a row quarantine it, and a worker with --until-empty then says no device is
# left (exit 1); a new device of the kind lets the next worker finish the job.
if [ "$(sql "SELECT count(*) FROM records WHERE device <> ''")" -gt 0 ]; then
  coproc SRV3 { exec "$TT" rpc server --port 0 --key-file keys/dev1 --work-dir "$WORK" 2>>"$WORK/servers.err"; }
  srv3=$SRV3_PID
  pids+=("$srv3")
  read -r line <&"${SRV3[0]}"
  port3=${line##*:}
  expect 0 "added" farm device add --db "$URI" --kind lossy "127.0.0.1:$port3" --key dev1
  expect 0 "submitted 1 job" farm submit "$ROOT/examples/matmul.json" --db "$URI" --trials 24 --kind lossy
  "$TT" farm work --db "$URI" --key-dir keys --lease-s 3 --quiet --tuner random --jobs 2 --name w4 --until-empty >w4.out 2>&1 &
  w4=$!
  while kill -0 "$w4" 2>/dev/null &&
    [ "$(count "SELECT count(*) FROM records WHERE device LIKE '127.0.0.1:$port3%'")" -lt 3 ]; do
    sleep 0.1
  done
  # The server and its session processes (each in a process group of its own) die.
  for p in $(ps -o pid= --ppid "$srv3") "$srv3"; do kill -9 "$p" 2>/dev/null; done
  wait "$w4"
  check "a worker whose only device died exits 1" test $? = 1
  expect 0 "quarantined: " farm devices --db "$URI"
  check "the dead device is quarantined with its last error" grep -q "lossy .* quarantined: .*127.0.0.1:$port3 lost" "$WORK/out"
  coproc SRV4 { exec "$TT" rpc server --port 0 --key-file keys/dev1 --work-dir "$WORK" 2>>"$WORK/servers.err"; }
  pids+=("$SRV4_PID")
  read -r line <&"${SRV4[0]}"
  expect 0 "added" farm device add --db "$URI" --kind lossy "127.0.0.1:${line##*:}" --key dev1
  expect 0 "1 job ended by this worker" farm work --db "$URI" --key-dir keys --lease-s 3 --quiet --tuner random --jobs 2 --name w5 --until-empty
  expect 0 "" farm status --db "$URI"
  check "the job is done at 24/24 by w5" grep -q ' 24/24 .* done .* w5 ' "$WORK/out"
else
  echo "skip: a device that goes away (the tuner measures on this host, not on the devices)"
fi

# A job whose kind has no device: a worker with --until-empty says so (exit 1).
expect 0 "submitted 2 jobs" farm submit op.json --db "$URI" --trials 4 --kind rk3399
expect 1 "2 open jobs wait for devices of a kind that has none outside quarantine" farm work --db "$URI" --key-dir keys --until-empty

# Ctrl-C: the worker stops (exit 130) and gives its job back to the queue, devices released.
expect 0 "submitted 1 job" farm submit "$ROOT/examples/matmul.json" --db "$URI" --trials 60 --kind x86
"$TT" farm work --db "$URI" --key-dir keys --quiet --tuner random --jobs 2 --name w3 >w3.out 2>&1 &
w3=$!
# Once it measured something (the job then runs; 60 trials outlast the signal).
while kill -0 "$w3" 2>/dev/null &&
  [ "$(count "SELECT count(*) FROM records r JOIN farm_jobs j ON j.task_key = r.key WHERE j.state = 'running'")" -lt 1 ]; do
  sleep 0.1
done
kill -INT "$w3"
wait "$w3"
check "SIGINT: farm work exits 130" test $? = 130
check "SIGINT: the job is back in the queue" test \
  "$(sql "SELECT state || ' ' || coalesce(worker, '-') FROM farm_jobs WHERE task_name LIKE 'matmul_256%' AND kind = 'x86'")" = "queued -"
check "SIGINT: its device is free again" test "$(sql "SELECT count(*) FROM farm_devices WHERE kind = 'x86' AND state <> 'free'")" = 0

kill -TERM "${pids[@]}"
wait "${pids[@]}" 2>/dev/null
finish
