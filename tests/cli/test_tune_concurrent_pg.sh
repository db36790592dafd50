# Four tuners writing one PostgreSQL database at once lose nothing: every line each wrote to its
# own log is a row of the shared database (by key and seed), and the four runs are recorded as
# finished. Runs on the fixture's server (tests/CMakeLists.txt), in a fresh database.
. "$(dirname "$0")/lib.sh"
cd "$WORK" || exit 1
[ -n "${TT_PG_STATE:-}" ] && [ -f "$TT_PG_STATE/uri" ] || {
  echo "TT_PG_STATE is not set: run through ctest (the pg fixture)"
  exit 1
}
BASE=$(cat "$TT_PG_STATE/uri")
PSQL=$(ls /usr/lib/postgresql/*/bin/psql | head -1)
db="tt_cli_$$_four"
"$PSQL" -q -X "$BASE" -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" >/dev/null
URI="${BASE%/*}/$db"
sql() { "$PSQL" -X -A -t "$URI" -c "$1"; }

cat >a.json <<'JSON'
{"measure": {"repeat": 1, "min_repeat_ms": 1, "timeout_s": 10},
 "op": "matmul", "M": 16, "N": 16, "K": 16}
JSON
cat >b.json <<'JSON'
{"measure": {"repeat": 1, "min_repeat_ms": 1, "timeout_s": 10},
 "op": "expr", "name": "rowsum", "inputs": {"X": [32, 48]}, "compute": "Y[i] = sum(j, X[i, j])"}
JSON

# two tuners per op (seeds 1 and 2), all four at once, on a database none of them created yet
pids=()
for op in a b; do
  for seed in 1 2; do
    "$TT" "$op.json" --trials 12 --seed "$seed" --db "$URI" --log "$op$seed.log" --jobs 1 --quiet \
      --tuner random >"$op$seed.out" 2>&1 &
    pids+=($!)
  done
done
for p in "${pids[@]}"; do
  wait "$p"
  check "tuner $p exits 0" test $? = 0
done
# in_db KEY SEED LOG: the database has one row per line of LOG (an empty log fails).
in_db() {
  [ -s "$3" ] && [ "$(sql "SELECT count(*) FROM records WHERE key LIKE '$1-%' AND seed = $2")" = "$(wc -l <"$3")" ]
}
for seed in 1 2; do
  check "every line of a$seed.log is in the database" in_db matmul_16x16x16_f32 "$seed" "a$seed.log"
  check "every line of b$seed.log is in the database" in_db rowsum "$seed" "b$seed.log"
done
check "13 lines per log (12 trials and the winner)" test "$(cat a1.log a2.log b1.log b2.log | wc -l)" = 52
check "52 records in all" test "$(sql 'SELECT count(*) FROM records')" = 52
check "four runs, all finished" test "$(sql "SELECT count(*) FROM runs WHERE status = 'finished'")" = 4
"$PSQL" -q -X "$BASE" -c "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1
finish
