# tvm-tune --help/--version and `tvm-tune show` on the examples and on bad input.
. "$(dirname "$0")/lib.sh"

expect 0 "tvm-tune" --version
expect 0 "show OP.json" --help
expect 2 "usage" 
expect 2 "unknown command 'bogus'" bogus
expect 0 "--emit KIND" show --help
expect 2 "expected one OP.json" show
expect 2 "cannot open" show "$WORK/missing.json"

cat >"$WORK/mm.json" <<'JSON'
{"op": "matmul", "M": 24, "N": 20, "K": 12}
JSON
expect 0 "for (" show "$WORK/mm.json"
expect 0 "sum(" show "$WORK/mm.json" --emit compute
expect 0 "int matmul_24x20x12_f32(" show "$WORK/mm.json" --emit c
cp "$WORK/out" "$WORK/mm.c"
checks=$((checks + 1))
if sed 1d "$WORK/mm.c" | cc -std=c11 -fsyntax-only -Wall -Werror -x c - 2>"$WORK/cc.err"; then
  echo "ok: emitted C compiles"
else
  echo "FAIL: emitted C does not compile"; head "$WORK/cc.err"; failures=$((failures + 1))
fi
expect 0 "define" show "$WORK/mm.json" --emit llvm
expect 0 "ret" show "$WORK/mm.json" --emit asm --target "llvm -mtriple=aarch64-linux-gnu -mcpu=cortex-a72"
expect 2 "--emit bogus" show "$WORK/mm.json" --emit bogus
expect 2 "no task named 'nope'" show "$WORK/mm.json" --task nope
expect 2 "target" show "$WORK/mm.json" --emit llvm --target "gcc -O3"

# A schedule from a file changes the nest; a step that does not apply is exit 2, naming it.
cat >"$WORK/steps.json" <<'JSON'
[{"s": "split", "stage": "C", "loop": "j", "factors": [4]},
 {"s": "reorder", "stage": "C", "loops": ["i", "j.0", "k", "j.1"]},
 {"s": "parallel", "stage": "C", "loop": "i"},
 {"s": "vectorize", "stage": "C", "loop": "j.1"}]
JSON
expect 0 "parallel" show "$WORK/mm.json" --steps "$WORK/steps.json"
expect 0 "vectorized" show "$WORK/mm.json" --steps "$WORK/steps.json"
expect 0 "#pragma omp simd" show "$WORK/mm.json" --steps "$WORK/steps.json" --emit c
expect 0 "<4 x float>" show "$WORK/mm.json" --steps "$WORK/steps.json" --emit llvm
cat >"$WORK/bad_steps.json" <<'JSON'
[{"s": "split", "stage": "C", "loop": "nope", "factors": [4]}]
JSON
expect 2 "nope" show "$WORK/mm.json" --steps "$WORK/bad_steps.json"
echo '[{' >"$WORK/broken.json"
expect 2 "--steps" show "$WORK/mm.json" --steps "$WORK/broken.json"

# Bad op.json: position and field in the message, exit 2.
printf '{"op": "matmul",\n "M": -4, "N": 2, "K": 2}\n' >"$WORK/bad.json"
expect 2 "bad.json:2:" show "$WORK/bad.json"
expect 2 "\"M\"" show "$WORK/bad.json"
printf '{"op": "matmul", "M": 4' >"$WORK/trunc.json"
expect 2 "trunc.json:1:" show "$WORK/trunc.json"

finish
