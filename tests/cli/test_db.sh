# `tvm-tune db import|export|best|stats|merge` on hand-made logs (tests/cli/mkrecords.py):
# importing twice adds nothing, export --best K keeps K per workload and target, stats counts,
# merge adds only what is new, bad input is exit 2 and never creates a database.
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3

expect 0 "import LOG..." db --help
expect 2 "usage: tvm-tune db" db
expect 2 "unknown subcommand 'bogus'" db bogus
for sub in import export best stats merge; do
  expect 0 "usage: tvm-tune db $sub" db "$sub" --help
done

X86="llvm -mtriple=x86_64-linux-gnu -mcpu=skylake-avx512"
A72="llvm -mtriple=aarch64-linux-gnu -mcpu=cortex-a72"
MM='{"K":32,"M":32,"N":32,"dtype":"float32","name":"matmul_32x32x32_f32","op":"matmul"}'
MM2='{"K":48,"M":32,"N":32,"dtype":"float32","name":"matmul_32x32x48_f32","op":"matmul"}'
S1='[{"s":"parallel","stage":"C","loop":"i"}]'
S2='[{"s":"unroll","stage":"C","loop":"k"}]'
S3='[]'
# Two workloads on x86 (4 and 3 records, one of them an error) and one on aarch64 (2 records).
"$PY" "$ROOT/tests/cli/mkrecords.py" "$WORK/a.log" --keys >"$WORK/keys" <<JSON
[{"workload": $MM, "target": "$X86", "steps": $S1, "costs": [0.003], "trial": 0, "flops": 65536},
 {"workload": $MM, "target": "$X86", "steps": $S2, "costs": [0.001], "trial": 1, "flops": 65536},
 {"workload": $MM, "target": "$X86", "steps": $S3, "costs": [0.002], "trial": 2, "flops": 65536},
 {"workload": $MM, "target": "$X86", "steps": $S3, "costs": [], "error": 6, "trial": 3,
  "flops": 65536},
 {"workload": $MM2, "target": "$X86", "steps": $S1, "costs": [0.004], "trial": 4, "flops": 98304},
 {"workload": $MM2, "target": "$X86", "steps": $S2, "costs": [0.005], "trial": 5, "flops": 98304},
 {"workload": $MM2, "target": "$X86", "steps": $S3, "costs": [0.006], "trial": 6, "flops": 98304},
 {"workload": $MM, "target": "$A72", "steps": $S1, "costs": [0.02], "trial": 7, "flops": 65536},
 {"workload": $MM, "target": "$A72", "steps": $S2, "costs": [0.01], "trial": 8, "flops": 65536}]
JSON
KEY=$(sed -n 1p "$WORK/keys")
KEY2=$(sed -n 5p "$WORK/keys")
D="$WORK/t.db"

# import: idempotent.
expect 0 "9 added, 0 skipped" db import "$WORK/a.log" --db "$D"
expect 0 "0 added, 9 skipped" db import "$WORK/a.log" --db "$D"
expect 0 "records:   9 (1 errors)" db stats --db "$D"
expect 0 "workloads: 2" db stats --db "$D"
expect 0 "targets:   2" db stats --db "$D"

# export: everything (errors included), or the best K per workload and target (errors never).
expect 0 "wrote 9 records" db export --db "$D" -o "$WORK/all.log"
check "export: 9 lines" test "$(wc -l <"$WORK/all.log")" = 9
expect 0 "wrote 3 records" db export --db "$D" -o "$WORK/best1.log" --best 1
check "export --best 1: one line per workload and target" test "$(wc -l <"$WORK/best1.log")" = 3
expect 0 "wrote 6 records" db export --db "$D" -o "$WORK/best2.log" --best 2
check "export --best 2: 2 + 2 + 2 lines" test "$(wc -l <"$WORK/best2.log")" = 6
expect 0 "wrote 8 records" db export --db "$D" -o "$WORK/best9.log" --best 9
check "export --best: no error record" sh -c "! grep -q '\"error\":6' '$WORK/best9.log'"
check "export --best 1: the 1 ms record of $KEY on x86" \
  grep -q "\"key\":\"$KEY\".*\"costs\":\[0.001\]" "$WORK/best1.log"
# An exported log imports back into a new database with the same contents.
expect 0 "9 added" db import "$WORK/all.log" --db "$WORK/copy.db"
expect 0 "0 added, 9 skipped" db import "$WORK/a.log" --db "$WORK/copy.db"

# best: per workload and target, filtered by key or target; -k N records each.
expect 0 "0.07 GFLOPS  median 1.0000 ms" db best --db "$D"
expect 0 "steps: $S2" db best --db "$D" --key "$KEY" --target "$X86"
expect 0 "0.01 GFLOPS  median 10.0000 ms" db best --db "$D" --target "$A72"
db_best_lines() { "$TT" db best --db "$D" "$@" | grep -c GFLOPS; }
check "db best: one record per workload and target" test "$(db_best_lines)" = 3
check "db best -k 2: two each" test "$(db_best_lines -k 2)" = 6
check "db best -k 0: all without errors" test "$(db_best_lines -k 0)" = 8
check "db best --key: that workload only" test "$(db_best_lines --key "$KEY2" -k 0)" = 3
expect 0 "no record of key nope" db best --db "$D" --key nope
expect 0 "$KEY2" best --db "$D"

# merge: only new records; twice adds nothing.
"$PY" "$ROOT/tests/cli/mkrecords.py" "$WORK/b.log" <<JSON
[{"workload": $MM, "target": "$X86", "steps": $S1, "costs": [0.003], "trial": 0, "flops": 65536},
 {"workload": $MM, "target": "$X86", "steps": $S1, "costs": [0.0005], "trial": 10, "flops": 65536}]
JSON
expect 0 "2 added" db import "$WORK/b.log" --db "$WORK/b.db"
expect 0 "1 records added" db merge --db "$D" "$WORK/b.db"
expect 0 "0 records added" db merge --db "$D" "$WORK/b.db"
expect 0 "records:   10 (1 errors)" db stats --db "$D"
expect 0 "0.5000 ms" db best --db "$D" --key "$KEY" --target "$X86"
expect 0 "10 records added" db merge --db "$WORK/new.db" "$D"

# A log whose last line was cut short by a crash: the rest imports, with a warning.
head -c -40 "$WORK/b.log" >"$WORK/cut.log"
"$PY" "$ROOT/tests/cli/mkrecords.py" "$WORK/cut2.log" <<JSON
[{"workload": $MM2, "target": "$A72", "steps": $S1, "costs": [0.03], "trial": 11, "flops": 98304}]
JSON
cat "$WORK/cut2.log" "$WORK/cut.log" >"$WORK/crash.log"
expect 0 "2 added, 0 skipped" db import "$WORK/crash.log" --db "$WORK/crash.db"
expect 0 "crash.log:3" db import "$WORK/crash.log" --db "$WORK/crash.db"

# Bad input: exit 2, and a database that does not exist is not created by reading commands.
for sub in stats best; do
  expect 2 "database '$WORK/none.db' does not exist" db "$sub" --db "$WORK/none.db"
done
expect 2 "does not exist" db export --db "$WORK/none.db" -o "$WORK/x.log"
expect 2 "does not exist" db merge --db "$D" "$WORK/none.db"
check "no database created by failed commands" test ! -e "$WORK/none.db"
expect 2 "--db FILE is required" db stats
expect 2 "expected at least one LOG" db import --db "$D"
expect 2 "cannot open log" db import "$WORK/missing.log" --db "$D"
printf '{"v": 1, "key": 3}\n{"v": 1}\n' >"$WORK/bad.log"
expect 2 "bad.log:1" db import "$WORK/bad.log" --db "$D"
expect 2 "not a tvm-tune database" db stats --db "$WORK/a.log"
expect 2 "not a tvm-tune database" db merge --db "$D" "$WORK/a.log"
expect 2 "--best 0: expected an integer >= 1" db export --db "$D" -o "$WORK/x.log" --best 0
expect 2 "-k x: expected an integer >= 0" db best --db "$D" -k x
expect 2 "output directory" db export --db "$D" -o "$WORK/nodir/x.log"
expect 2 "expected -o LOG" db export --db "$D"
expect 2 "is the database itself" db export --db "$D" -o "$D"
expect 0 "records:   10 (1 errors)" db stats --db "$D"
expect 2 "unexpected option" db stats --db "$D" --best 2
expect 2 "expected one OTHER database" db merge --db "$D"
expect 2 "into itself" db merge --db "$D" "$D"

# The exit code follows the error's category, not its text: a database that refuses the insert
# fails the import with 1 (the database's failure) though the message names the log's line
# (once read as a malformed line, 2); a key that names another workload in the other database
# is bad input, 2.
cp "$WORK/b.db" "$WORK/refuses.db"
"$PY" - "$WORK/refuses.db" <<'PY'
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
c.execute("CREATE TRIGGER refuse BEFORE INSERT ON records BEGIN "
          "SELECT RAISE(ABORT, 'the disk is full (a test trigger)'); END")
c.commit()
PY
expect 1 "the disk is full" db import "$WORK/a.log" --db "$WORK/refuses.db"
check "the refused import names the log's line" grep -qF "a.log:1" "$WORK/out"
cp "$WORK/b.db" "$WORK/other.db"
"$PY" - "$WORK/other.db" "$KEY" <<'PY'
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
c.execute("UPDATE workloads SET workload = '{\"op\":\"matmul\"}' WHERE key = ?", (sys.argv[2],))
c.commit()
PY
expect 2 "different workloads" db merge --db "$D" "$WORK/other.db"

finish
