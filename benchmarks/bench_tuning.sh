#!/bin/sh
# Tuning overhead (issues 4 and 13): wall time over the time the kernels ran inside timed repeats
# (the figure the CLI prints; goal <= 1.3), with where the rest went (`tvm-tune --verbose`:
# search, lowering, builds, measurement outside the timed repeats, records), for N-trial runs of
# the default tuner (xgb) on matmul 512^3, matmul 1024^3 and the ResNet-50 conv2d (C=K=128,
# 28x28, 3x3, pad 1, NHWC); the best GFLOPS each run found, next to OpenBLAS / oneDNN
# (bench_kernels, same script, same thread count).
#   usage: benchmarks/bench_tuning.sh [BUILD_DIR] [TRIALS] [OPS]   (default: build 300 "mm512 mm1024 conv")
# Logs and outputs go to BUILD_DIR/bench_tuning/.
set -eu
build=${1:-build}
trials=${2:-300}
ops=${3:-"mm512 mm1024 conv"}
tt="$build/tuner/tvm-tune"
out="$build/bench_tuning"
[ -x "$tt" ] || { echo "bench_tuning.sh: $tt not found: build first" >&2; exit 2; }
rm -rf "$out"
mkdir -p "$out"
threads=$(hwloc-calc -N core all 2>/dev/null || nproc)   # the tuner runs on the physical cores

measure='"measure": {"repeat": 3, "min_repeat_ms": 50, "timeout_s": 20}'
cat >"$out/mm512.json" <<JSON
{$measure, "op": "matmul", "M": 512, "N": 512, "K": 512}
JSON
cat >"$out/mm1024.json" <<JSON
{$measure, "op": "matmul", "M": 1024, "N": 1024, "K": 1024}
JSON
cat >"$out/conv.json" <<JSON
{$measure, "op": "conv2d", "layout": "NHWC", "N": 1, "C": 128, "H": 28, "W": 28, "K": 128,
 "R": 3, "S": 3, "pad": 1}
JSON

echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) CPUs;" \
     "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"

# "| op | trials | overhead | wall | timed | search | lowering | builds | measurement | records |
#  re-measurement | best GFLOPS |" from a run's stdout
row() {
    awk -v op="$1" -v trials="$trials" '
        /^time: / { wall = $2; timed = $9; ov = $12; gsub(/[()x]/, "", ov) }
        /^time by phase: / {
            for (i = 1; i <= NF; i++) {
                if ($i == "search") s = $(i + 1)
                if ($i == "lowering") l = $(i + 1)
                if ($i == "builds") b = $(i + 1)
                if ($i == "measurement") m = $(i + 1)
                if ($i == "records") r = $(i + 1)
                if ($i == "re-measurement") rm = $(i + 1)
            }
        }
        $1 ~ /^(matmul|conv2d)_/ && NF >= 6 { g = $4 }
        END { printf "| %s | %s | %.2fx | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
              op, trials, ov, wall, timed, s, l, b, m, r, rm, g }' "$2"
}

for op in $ops; do
    echo "== $op: $trials trials, xgb" >&2
    echo "load average before $op: $(cut -d' ' -f1-3 /proc/loadavg)" >"$out/$op.load"
    "$tt" "$out/$op.json" --trials "$trials" --quiet --verbose --log "$out/$op.log" \
        >"$out/$op.txt"
done

echo "== OpenBLAS / oneDNN on $threads threads (bench_kernels)" >&2
"$build/benchmarks/bench_kernels" --threads "$threads" >"$out/peers.txt" 2>/dev/null || true

echo
echo "| op | trials | overhead (wall / timed) | wall s | timed s | search s | lowering s | builds s | measurement s (incl. timed) | records s | re-measurement s | best GFLOPS |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
for op in $ops; do
    row "$op" "$out/$op.txt"
done
echo
echo "load averages: $(cat "$out"/*.load | sed 's/load average before //' | tr '\n' ';')"
echo "peers ($threads threads, GFLOPS):"
grep -E "1024x1024x1024|512x512x512|conv2d" "$out/peers.txt" | grep -E "OpenBLAS|oneDNN" || echo "  (bench_kernels gave no peer rows)"
