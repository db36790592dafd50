#!/usr/bin/env bash
# Farm benchmark (issue 12), on its own throw-away PostgreSQL (scripts/pg-server.sh, loopback),
# stopped on exit:
#  1. jobs claimed per second from the queue by 1 and 4 claimer processes (build/benchmarks/
#     bench_farm: each claim and each finish its own transaction), median of ROUNDS; SQLite has no
#     queue (a farm needs a server), so there is no SQLite column;
#  2. a farm's tuning wall time against one local run of the same total trials: an op of two
#     matmul tasks, TRIALS per task, tuned (a) by `tvm-tune OP.json --trials 2*TRIALS` here and (b)
#     by a farm of two `tvm-tune rpc server`s on loopback and two `tvm-tune farm work` workers.
#     On this machine the devices share the host's CPUs, so (b) shows the farm's overhead (queue,
#     leases, heartbeats, records over the network, RPC), not a speed-up.
#   usage: benchmarks/bench_farm.sh [BUILD_DIR] [TRIALS] [ROUNDS]   (default: build 40 3)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-build}
trials=${2:-40}
rounds=${3:-3}
tt="$build/tuner/tvm-tune"
bench="$build/benchmarks/bench_farm"
for f in "$tt" "$bench"; do
  [ -x "$f" ] || { echo "bench_farm.sh: $f not found: build first" >&2; exit 2; }
done
work=$(mktemp -d)
pids=()
state="$work/pg"
cleanup() {
  for p in "${pids[@]}"; do
    kill -9 -- "-$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
  done
  "$root/scripts/pg-server.sh" stop "$state" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
base=$("$root/scripts/pg-server.sh" start "$state")
export PGPASSFILE="$state/pgpass"
psql=$(ls /usr/lib/postgresql/*/bin/psql | head -1)
fresh_db() { # fresh_db NAME: a new empty database; prints its URI
  "$psql" -q -X "$base" -c "SET client_min_messages = warning" \
    -c "DROP DATABASE IF EXISTS $1" -c "CREATE DATABASE $1"
  echo "${base%/*}/$1"
}

echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) CPUs;" \
  "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "PostgreSQL $("$psql" -X -A -t "$base" -c 'SHOW server_version') (fsync off, loopback TCP)"

printf '%-9s %8s %10s\n' claimers jobs "jobs/s"
for claimers in 1 4; do
  rates=()
  for r in $(seq "$rounds"); do
    uri=$(fresh_db claims)
    rates+=("$("$bench" "$uri" "$claimers" 2000 | sed 's/.*jobs\/s //')")
  done
  printf '%-9s %8s %10s\n' "$claimers" 2000 "$(printf '%s\n' "${rates[@]}" | sort -n | sed -n "$(((rounds + 1) / 2))p")"
done

cat >"$work/op.json" <<'JSON'
{"tasks": [{"op": "matmul", "M": 128, "N": 128, "K": 128},
           {"op": "matmul", "M": 96, "N": 160, "K": 64}],
 "measure": {"repeat": 3, "min_repeat_ms": 10}}
JSON
total=$((2 * trials))
t0=$(date +%s.%N)
"$tt" "$work/op.json" --trials "$total" --tuner random --quiet --log "$work/local.log" >/dev/null
t1=$(date +%s.%N)
local_s=$(echo "$t1 - $t0" | bc -l)

mkdir -p "$work/keys"
"$tt" rpc keygen -o "$work/keys/x86" 2>/dev/null
uri=$(fresh_db farm)
for d in 1 2; do
  mkfifo "$work/s$d.fifo"
  setsid "$tt" rpc server --port 0 --key-file "$work/keys/x86" >"$work/s$d.fifo" 2>/dev/null &
  pids+=($!)
  read -r line <"$work/s$d.fifo"
  "$tt" farm device add --db "$uri" --kind x86 "127.0.0.1:${line##*:}" --key x86 >/dev/null
done
"$tt" farm submit "$work/op.json" --db "$uri" --trials "$trials" --kind x86 >/dev/null
t0=$(date +%s.%N)
for w in 1 2; do
  "$tt" farm work --db "$uri" --key-dir "$work/keys" --until-empty --tuner random --quiet \
    --name "bench$w" >"$work/w$w.out" 2>&1 &
  workers[$w]=$!
done
for w in 1 2; do
  wait "${workers[$w]}" || { echo "bench_farm.sh: worker $w failed:" >&2; cat "$work/w$w.out" >&2; exit 1; }
done
t1=$(date +%s.%N)
farm_s=$(echo "$t1 - $t0" | bc -l)
stored=$("$psql" -X -A -t "$uri" -c "SELECT count(DISTINCT (key, trial)) FROM records")
echo "tuning 2 matmul tasks x $trials trials (random tuner):"
printf '  one local run (--trials %d): %.1f s\n' "$total" "$local_s"
printf '  farm, 2 loopback devices, 2 workers: %.1f s (%s trials stored): %.2fx the local run\n' \
  "$farm_s" "$stored" "$(echo "$farm_s / $local_s" | bc -l)"
