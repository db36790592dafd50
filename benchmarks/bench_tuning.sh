#!/bin/sh
# Tuning benchmark (issue 4): (1) the tuning overhead of a 200-trial random search on matmul
# 512^3: wall time over the time the kernels ran inside timed repeats (goal < 1.3); (2) the best
# GFLOPS random and GA find in 200 trials on matmul 1024^3, next to OpenBLAS (bench_kernels,
# same script, same thread count).
#   usage: benchmarks/bench_tuning.sh [BUILD_DIR] [TRIALS]      (default: build 200)
# Logs and databases go to BUILD_DIR/bench_tuning/.
set -eu
build=${1:-build}
trials=${2:-200}
tt="$build/tuner/tvm-tune"
out="$build/bench_tuning"
[ -x "$tt" ] || { echo "bench_tuning.sh: $tt not found: build first" >&2; exit 2; }
rm -rf "$out"
mkdir -p "$out"
threads=$(hwloc-calc -N core all 2>/dev/null || nproc)   # the tuner runs on the physical cores

cat >"$out/mm512.json" <<'JSON'
{"measure": {"repeat": 3, "min_repeat_ms": 50, "timeout_s": 10},
 "op": "matmul", "M": 512, "N": 512, "K": 512}
JSON
cat >"$out/mm1024.json" <<'JSON'
{"measure": {"repeat": 3, "min_repeat_ms": 50, "timeout_s": 20},
 "op": "matmul", "M": 1024, "N": 1024, "K": 1024}
JSON

echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) CPUs;" \
     "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"

echo "== overhead: $trials trials, random search, matmul 512^3"
"$tt" "$out/mm512.json" --trials "$trials" --tuner random --quiet --log "$out/mm512_random.log" \
    | tee "$out/mm512_random.txt" | grep -E "^(matmul|time:)"

best_gflops() { grep -E "^matmul_1024" "$1" | awk '{print $4}'; }
for tuner in random ga; do
    echo "== $tuner: $trials trials, matmul 1024^3"
    "$tt" "$out/mm1024.json" --trials "$trials" --tuner "$tuner" --quiet \
        --log "$out/mm1024_$tuner.log" >"$out/mm1024_$tuner.txt"
    grep -E "^(matmul|time:)" "$out/mm1024_$tuner.txt"
done

echo "== OpenBLAS / BLIS / oneDNN sgemm 1024^3 on $threads threads (bench_kernels)"
"$build/benchmarks/bench_kernels" --only matmul --threads "$threads" >"$out/peers.txt"
grep -E "1024x1024x1024" "$out/peers.txt" | head -4

random=$(best_gflops "$out/mm1024_random.txt")
ga=$(best_gflops "$out/mm1024_ga.txt")
overhead=$(sed -n 's/.*(overhead \([0-9.]*\)x).*/\1/p' "$out/mm512_random.txt")
echo
echo "| measure | value |"
echo "| --- | --- |"
echo "| tuning overhead, $trials random trials, matmul 512^3 (wall / timed kernel runs) | ${overhead}x |"
echo "| best GFLOPS in $trials trials, matmul 1024^3, random | $random |"
echo "| best GFLOPS in $trials trials, matmul 1024^3, ga | $ga |"
grep -E "1024x1024x1024.*OpenBLAS" "$out/peers.txt" | head -1 |
    awk -F'|' '{gsub(/ /, "", $6); print "| OpenBLAS sgemm 1024^3, same threads, GFLOPS | " $6 " |"}'
