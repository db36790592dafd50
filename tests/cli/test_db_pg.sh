# `--db postgresql://...` everywhere --db is taken, on the fixture's PostgreSQL server (a fresh
# database per run): import, export, best, stats, merge in both directions between a file and
# the server, tuning into the server, `compile` from the server building the same header and
# library as from a file, the password never printed, a server that does not answer (exit 1,
# naming the address) and a malformed URI (exit 2).
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
[ -n "${TT_PG_STATE:-}" ] && [ -f "$TT_PG_STATE/uri" ] || {
  echo "TT_PG_STATE is not set: run through ctest (the pg fixture)"
  exit 1
}
BASE=$(cat "$TT_PG_STATE/uri")
PSQL=$(ls /usr/lib/postgresql/*/bin/psql 2>/dev/null | head -1)
[ -x "$PSQL" ] || PSQL=psql
# fresh NAME: a new empty database on the server; prints its URI.
fresh() {
  local name="tt_cli_$$_$1"
  "$PSQL" -q -X "$BASE" -c "DROP DATABASE IF EXISTS $name" -c "CREATE DATABASE $name" \
    >/dev/null 2>&1 || { echo "cannot create database $name" >&2; exit 1; }
  echo "${BASE%/*}/$name"
}
U=$(fresh main)
U2=$(fresh other)

X86="llvm -mtriple=x86_64-linux-gnu -mcpu=skylake-avx512"
A72="llvm -mtriple=aarch64-linux-gnu -mcpu=cortex-a72"
MM='{"K":32,"M":32,"N":32,"dtype":"float32","name":"matmul_32x32x32_f32","op":"matmul"}'
MM2='{"K":48,"M":32,"N":32,"dtype":"float32","name":"matmul_32x32x48_f32","op":"matmul"}'
S1='[{"s":"parallel","stage":"C","loop":"i"}]'
S2='[{"s":"unroll","stage":"C","loop":"k"}]'
S3='[]'
"$PY" "$ROOT/tests/cli/mkrecords.py" "$WORK/a.log" --keys >"$WORK/keys" <<JSON
[{"workload": $MM, "target": "$X86", "steps": $S1, "costs": [0.003], "trial": 0, "flops": 65536},
 {"workload": $MM, "target": "$X86", "steps": $S2, "costs": [0.001], "trial": 1, "flops": 65536},
 {"workload": $MM, "target": "$X86", "steps": $S3, "costs": [0.002], "trial": 2, "flops": 65536},
 {"workload": $MM, "target": "$X86", "steps": $S3, "costs": [], "error": 6, "trial": 3,
  "flops": 65536},
 {"workload": $MM2, "target": "$X86", "steps": $S1, "costs": [0.004], "trial": 4, "flops": 98304},
 {"workload": $MM2, "target": "$X86", "steps": $S2, "costs": [0.004], "trial": 5, "flops": 98304},
 {"workload": $MM2, "target": "$X86", "steps": $S3, "costs": [0.006], "trial": 6, "flops": 98304},
 {"workload": $MM, "target": "$A72", "steps": $S1, "costs": [0.02], "trial": 7, "flops": 65536},
 {"workload": $MM, "target": "$A72", "steps": $S2, "costs": [0.01], "trial": 8, "flops": 65536}]
JSON
KEY=$(sed -n 1p "$WORK/keys")

# import, stats, export, best: the same answers as an SQLite file of the same log.
expect 0 "9 added, 0 skipped" db import "$WORK/a.log" --db "$U"
expect 0 "0 added, 9 skipped" db import "$WORK/a.log" --db "$U"
expect 0 "database:  $U" db stats --db "$U"
expect 0 "records:   9 (1 errors)" db stats --db "$U"
expect 0 "9 added" db import "$WORK/a.log" --db "$WORK/t.db"
for k in 0 1 2 9; do
  if [ "$k" = 0 ]; then best=(); else best=(--best "$k"); fi
  expect 0 "wrote" db export --db "$U" -o "$WORK/pg$k.log" "${best[@]}"
  expect 0 "wrote" db export --db "$WORK/t.db" -o "$WORK/lite$k.log" "${best[@]}"
  check "export ${best[*]:-(all)}: the server and the file give the same log" \
    cmp "$WORK/pg$k.log" "$WORK/lite$k.log"
done
check "export of everything reproduces the log" cmp "$WORK/a.log" "$WORK/pg0.log"
for args in "" "-k 0" "-k 2 --target $X86" "--key $KEY"; do
  # shellcheck disable=SC2086
  "$TT" db best --db "$U" $args >"$WORK/best.pg" 2>&1
  # shellcheck disable=SC2086
  "$TT" db best --db "$WORK/t.db" $args >"$WORK/best.lite" 2>&1
  check "db best $args: the same on both engines (ties: the earlier record)" \
    cmp "$WORK/best.pg" "$WORK/best.lite"
done
expect 0 "steps: $S2" best --db "$U"

# merge: a file into the server and the server into a file; twice adds nothing.
"$PY" "$ROOT/tests/cli/mkrecords.py" "$WORK/b.log" <<JSON
[{"workload": $MM, "target": "$X86", "steps": $S1, "costs": [0.003], "trial": 0, "flops": 65536},
 {"workload": $MM, "target": "$X86", "steps": $S1, "costs": [0.0005], "trial": 10, "flops": 65536}]
JSON
expect 0 "2 added" db import "$WORK/b.log" --db "$WORK/b.db"
expect 0 "1 records added" db merge --db "$U" "$WORK/b.db"
expect 0 "0 records added" db merge --db "$U" "$WORK/b.db"
expect 0 "records:   10 (1 errors)" db stats --db "$U"
expect 0 "10 records added" db merge --db "$WORK/release.db" "$U"
expect 0 "0 records added" db merge --db "$WORK/release.db" "$U"
expect 0 "10 records added" db merge --db "$U2" "$U"
expect 0 "records:   10 (1 errors)" db stats --db "$U2"
expect 2 "into itself" db merge --db "$U" "$U"

# compile from the server: the same header and library as from the exported file.
cat >"$WORK/ops.json" <<'JSON'
{"tasks": [{"op": "matmul", "M": 32, "N": 32, "K": 32}, {"op": "matmul", "M": 32, "N": 32, "K": 48}]}
JSON
expect 0 "wrote" db export --db "$U" -o "$WORK/ship.log"
expect 0 "added" db import "$WORK/ship.log" --db "$WORK/ship.db"
mkdir -p "$WORK/from_pg" "$WORK/from_file"
expect 0 "" compile "$WORK/ops.json" --db "$U" --target "$X86" -o "$WORK/from_pg/libops.so"
expect 0 "" compile "$WORK/ops.json" --db "$WORK/ship.db" --target "$X86" \
  -o "$WORK/from_file/libops.so"
check "compile: the same header from the server as from the file" \
  cmp "$WORK/from_pg/libops.h" "$WORK/from_file/libops.h"
check "compile: the best schedule is in the header" grep -qF "steps: $S1" "$WORK/from_pg/libops.h"
check "compile: the same library from the server as from the file" \
  cmp "$WORK/from_pg/libops.so" "$WORK/from_file/libops.so"

# tuning into the server: every record and a finished run.
cat >"$WORK/mm.json" <<'JSON'
{"measure": {"repeat": 1, "min_repeat_ms": 1, "timeout_s": 10},
 "op": "matmul", "M": 8, "N": 8, "K": 8}
JSON
U3=$(fresh tune)
expect 0 "database: $U3" "$WORK/mm.json" --trials 4 --db "$U3" --log "$WORK/mm.log" --jobs 1
expect 0 "records:   $(wc -l <"$WORK/mm.log") (" db stats --db "$U3"
expect 0 "1 finished" db stats --db "$U3"

# The password: from the URI it works, and nothing prints it.
PW=$(cut -d: -f5 "$TT_PG_STATE/pgpass")
WITH_PW="${U%%@*}:$PW@${U#*@}"
PGPASSFILE=/nonexistent expect 0 "database:  $U" db stats --db "$WITH_PW"
check "db stats does not print the password" sh -c "! grep -qF '$PW' '$WORK/out'"
PGPASSFILE=/nonexistent expect 0 "into $U" db merge --db "$WITH_PW" "$WORK/b.db"
check "db merge does not print the password" sh -c "! grep -qF '$PW' '$WORK/out'"
U4=$(fresh tunepw)
WITH_PW4="${U4%%@*}:$PW@${U4#*@}"
PGPASSFILE=/nonexistent expect 0 "database: $U4" "$WORK/mm.json" --trials 2 --db "$WITH_PW4" \
  --log "$WORK/mm4.log" --jobs 1
check "tuning does not print the password" sh -c "! grep -qF '$PW' '$WORK/out'"
U5=$(fresh tunepw2) # --resume into a database that lacks the log's records: the tuner adds them
PGPASSFILE=/nonexistent expect 0 "database $U5: added" "$WORK/mm.json" --trials 3 \
  --db "${U5%%@*}:$PW@${U5#*@}" --log "$WORK/mm4.log" --jobs 1 --resume
check "resuming does not print the password" sh -c "! grep -qF '$PW' '$WORK/out'"
PGPASSFILE=/nonexistent expect 1 "password authentication failed" \
  db stats --db "${U%%@*}:wrong$PW@${U#*@}"
check "a refused password is not printed" sh -c "! grep -qF '$PW' '$WORK/out'"

# A server that does not answer: exit 1 naming it; a malformed URI: exit 2.
PORT=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
expect 1 "127.0.0.1:$PORT/farm" db stats --db "postgresql://tt:hunter2@127.0.0.1:$PORT/farm"
check "connection refused: the password is not printed" sh -c "! grep -qF hunter2 '$WORK/out'"
expect 1 "127.0.0.1:$PORT/farm" best --db "postgresql://tt@127.0.0.1:$PORT/farm"
expect 1 "127.0.0.1:$PORT/farm" compile "$WORK/ops.json" \
  --db "postgresql://tt@127.0.0.1:$PORT/farm" -o "$WORK/x.so"
expect 2 "malformed URI" db stats --db "postgresql://tt:hunter2@127.0.0.1/farm?bogus=1"
check "malformed URI: the password is not printed" sh -c "! grep -qF hunter2 '$WORK/out'"
expect 2 "malformed URI" db import "$WORK/a.log" --db "postgres://tt@127.0.0.1/farm?bogus=1"

# A database of another application is refused, untouched.
F=$(fresh foreign)
"$PSQL" -q -X "$F" -c "CREATE TABLE records(x INTEGER)" >/dev/null 2>&1
expect 2 "not a tvm-tune database" db import "$WORK/a.log" --db "$F"
check "foreign database untouched" test "$("$PSQL" -X -A -t "$F" -c "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")" = 1

for db in main other tune tunepw tunepw2 foreign; do
  "$PSQL" -q -X "$BASE" -c "DROP DATABASE IF EXISTS tt_cli_$$_$db" >/dev/null 2>&1
done
finish
