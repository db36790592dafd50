#!/bin/sh
# The spread of logged figures (issue 13, item 4): tunes OP for TRIALS trials, then times its fully
# measured records again in fresh children (remeasure --ab: each record under the protocol without
# retries of disturbed repeats and with them, interleaved, ROUNDS rounds), and prints logged
# against re-measured and round against round, as the median and the largest deviation over the
# records; the tuner's own end-of-run re-measurement of its best records comes first.
#   usage: benchmarks/bench_spread.sh [BUILD_DIR] [OP.json] [TRIALS] [ROUNDS]
#          (default: build, the matmul 512^3 of bench_tuning.sh, 40, 3)
# Logs and outputs go to BUILD_DIR/bench_spread/.
set -eu
build=${1:-build}
op=${2:-}
trials=${3:-40}
rounds=${4:-3}
tt="$build/tuner/tvm-tune"
rm_="$build/benchmarks/remeasure"
out="$build/bench_spread"
[ -x "$tt" ] && [ -x "$rm_" ] || { echo "bench_spread.sh: $tt or $rm_ not found: build first" >&2; exit 2; }
rm -rf "$out"
mkdir -p "$out"
if [ -z "$op" ]; then
    op="$out/mm512.json"
    echo '{"measure": {"repeat": 3, "min_repeat_ms": 50, "timeout_s": 20}, "op": "matmul",
 "M": 512, "N": 512, "K": 512}' >"$op"
fi
threads=$(hwloc-calc -N core all 2>/dev/null || nproc)
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) CPUs;" \
     "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== tuning $op: $trials trials, seed 1 (the tuner's re-measurement of its best):"
"$tt" "$op" --trials "$trials" --seed 1 --quiet --verbose --log "$out/tune.log" >"$out/tune.txt"
grep -E 'measured again|^time' "$out/tune.txt" || true
# The records timed in full (not stopped early as clearly slower), at most 24, in file order.
lines=$(python3 - "$out/tune.log" <<'PY'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
full = max((len(r["costs"]) for r in recs if r["error"] == 0), default=0)
ok = [i for i, r in enumerate(recs) if r["error"] == 0 and len(r["costs"]) == full]
print(" ".join(map(str, ok[:24])))
PY
)
[ -n "$lines" ] || { echo "bench_spread.sh: no record was timed in full" >&2; exit 1; }
echo "== re-measured, $rounds rounds, $threads threads: records $lines"
"$rm_" "$op" "$out/tune.log" $lines --rounds "$rounds" --threads "$threads" --ab >"$out/remeasure.txt"
sed -n '/^(GFLOPS/,$p' "$out/remeasure.txt"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
