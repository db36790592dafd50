#!/bin/bash
# Tuned convolutions and odd-shape matmuls against oneDNN and OpenBLAS (issue 13): tunes each
# shape of the sets per thread count (op.json "measure": {"threads": T}), compiles its best
# record (tvm-tune compile), times the compiled kernel against the peers in ONE process
# (bench_tuned: the protocol of bench_kernels), and runs the xgb-against-random curves
# (bench_curves.sh --opdir). Tables: OUT/shapes.md, OUT/shapes_curves.md (and stdout).
#   usage: benchmarks/bench_shapes.sh [--build DIR] [--trials N] [--seeds "1 2 3"]
#          [--set conv|odd|all] [--threads "1 2"] [--tuners "xgb random"] [--only NAME]
#          [--out DIR] [--curves "NAME..."|all|none] [--curve-trials N] [--runs N]
# The kernel table is tuned with the first of --tuners and the first of --seeds; the curves
# run every tuner and seed on the --curves shapes (default all selected, first thread count,
# --curve-trials, default 200). Defaults are the issue's full run (500 trials, seeds 1-3, 20
# shapes, 1 and 2 threads): days on 2 cores. Logs, databases and libraries: BUILD/bench_shapes.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
build=$root/build
trials=500
seeds="1 2 3"
set=all
threads="1 2"
tuners="xgb random"
only=""
out=$root/benchmarks/results
curves=all
ctrials=200
runs=7
cmdline=benchmarks/bench_shapes.sh
for a in "$@"; do [[ $a == *" "* ]] && cmdline+=" \"$a\"" || cmdline+=" $a"; done
fail() { echo "bench_shapes.sh: $*" >&2; exit 2; }
while [ $# -gt 0 ]; do
    [ $# -ge 2 ] || { sed -n '2,14p' "$0" >&2; exit 2; }
    case $1 in
    --build) build=$2 ;;
    --trials) trials=$2 ;;
    --seeds) seeds=$2 ;;
    --set) set=$2 ;;
    --threads) threads=$2 ;;
    --tuners) tuners=$2 ;;
    --only) only=$2 ;;
    --out) out=$2 ;;
    --curves) curves=$2 ;;
    --curve-trials) ctrials=$2 ;;
    --runs) runs=$2 ;;
    *) sed -n '2,14p' "$0" >&2; exit 2 ;;
    esac
    shift 2
done
case $set in conv | odd | all) ;; *) fail "--set $set: expected conv, odd or all" ;; esac
[ -d "$build" ] || fail "build directory $build not found: run scripts/build.sh release"
tt=$build/tuner/tvm-tune
bt=$build/benchmarks/bench_tuned
[ -x "$tt" ] || fail "$tt not found: build first (scripts/build.sh release)"
[ -x "$bt" ] || fail "$bt not found: cmake --build $build --target bench_tuned"
# bench_tuned exits 2 naming the peer library it was built without
"$bt" --check-peers >/dev/null || fail "a peer library is missing (above); the table needs both"

# The sets, one line per shape: NAME then bench_tuned's SHAPE arguments (the op.json below is
# written from the same words, so the tuned op and the timed one cannot differ).
shapes() {
    if [ "$set" != odd ]; then
        for lay in NCHW NHWC; do
            local l=${lay,,}
            echo "r50_3x3_64_56_$l conv2d $lay 64 56 56 64 3 3 1 1"
            echo "r50_3x3_128_28_$l conv2d $lay 128 28 28 128 3 3 1 1"
            echo "r50_3x3_256_14_$l conv2d $lay 256 14 14 256 3 3 1 1"
            echo "r50_3x3_512_7_$l conv2d $lay 512 7 7 512 3 3 1 1"
            echo "r50_1x1_64x256_56_$l conv2d $lay 64 56 56 256 1 1 1 0"
            echo "r50_1x1s2_256x512_56_$l conv2d $lay 256 56 56 512 1 1 2 0"
            echo "dw_3x3_128_28_$l depthwise_conv2d $lay 128 28 28 3 3 1 1"
        done
    fi
    if [ "$set" != conv ]; then
        for mnk in 1x4096x4096 7x513x1023 251x253x509 2000x10x256 127x131x257 999x17x64; do
            echo "mm_$mnk matmul ${mnk//x/ }"
        done
    fi
}
selected=$(shapes | awk -v only="$only" 'only == "" || $1 == only')
[ -n "$selected" ] || fail "--only $only: no such shape in set $set ($(shapes | cut -d' ' -f1 | tr '\n' ' '))"

work=$build/bench_shapes
mkdir -p "$work/ops" "$work/logs" "$work/libs" "$out"
measure() { echo "\"measure\": {\"repeat\": 3, \"min_repeat_ms\": 20, \"timeout_s\": 20, \"threads\": $1}"; }
opjson() { # opjson THREADS NAME KIND ARGS... -> path of NAME_tTHREADS.json
    local t=$1 name=$2 kind=$3 f=$work/ops/${2}_t$1.json
    shift 3
    case $kind in
    matmul) echo "{$(measure "$t"), \"op\": \"matmul\", \"name\": \"$name\", \"M\": $1, \"N\": $2, \"K\": $3}" ;;
    conv2d) echo "{$(measure "$t"), \"op\": \"conv2d\", \"name\": \"$name\", \"layout\": \"$1\", \"N\": 1,
        \"C\": $2, \"H\": $3, \"W\": $4, \"K\": $5, \"R\": $6, \"S\": $7, \"stride\": $8, \"pad\": $9}" ;;
    depthwise_conv2d) echo "{$(measure "$t"), \"op\": \"depthwise_conv2d\", \"name\": \"$name\",
        \"layout\": \"$1\", \"N\": 1, \"C\": $2, \"H\": $3, \"W\": $4, \"R\": $5, \"S\": $6,
        \"stride\": $7, \"pad\": $8}" ;;
    esac >"$f"
    echo "$f"
}
load() { cut -d' ' -f1-3 /proc/loadavg; }

tuner=${tuners%% *}
seed=${seeds%% *}
# The winner's shape: its vector loop, its register tile per axis (S3, or S2*S3), packed inputs, k
# blocking (reduce loops above the accumulator tile), the parallel loop.
winner() {
    python3 - "$1" <<'PY'
import json, sys
best = {}
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r.get("error", 1) == 0 and r.get("costs"):
        c = sorted(r["costs"])[len(r["costs"]) // 2]
        best[json.dumps(r["steps"])] = c  # the latest measurement of a schedule counts
if not best:
    print("-"); sys.exit()
steps = json.loads(min(best, key=best.get))
split = {s["loop"]: s["factors"] for s in steps if s["s"] == "split"}
vec = [s["loop"] for s in steps if s["s"] == "vectorize"]
tile = "x".join(f"{a}{f[1]}*{f[2]}" if f[1] > 1 else f"{a}{f[2]}"
               for a, f in split.items() if len(f) == 3)
order = next((s["loops"] for s in steps if s["s"] == "reorder"), [])
cw = next((s["loop"].split("@")[-1] for s in steps if s["s"] == "cache_write"), None)
reduce = [a + ".0" for a, f in split.items() if len(f) == 1]
kb = cw in order and any(l in reduce for l in order[:order.index(cw)])
out = [f"vec {vec[0] if vec else 'none'}", f"tile {tile}"]
out += [f"pack {s['tensor']}" for s in steps if s["s"] == "pack"]
out += ["acc tile" + (" k-blocked" if kb else "")] if cw else []
out += [f"par {s['loop']}" for s in steps if s["s"] == "parallel"]
print(", ".join(out))
PY
}
started=$(date -u '+%Y-%m-%d %H:%M UTC')
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) CPUs;" \
    "load before: $(load)" >&2
rows=$work/rows.txt
: >"$rows"
while read -r name kind args; do
    for t in $threads; do
        op=$(opjson "$t" "$name" "$kind" $args)
        base=$work/logs/${name}_t$t
        rm -f "$base.log" "$base.db" "$work/libs/${name}_t$t".*
        tload=$(load)
        # a failed tuning run still leaves its records; compile says when there are none
        "$tt" tune "$op" --trials "$trials" --tuner "$tuner" --seed "$seed" --quiet \
            --log "$base.log" --db "$base.db" </dev/null >"$base.txt" 2>&1 || true
        overhead=$(sed -n 's/.*(overhead \([0-9.]*\)x).*/\1/p' "$base.txt" | tail -1)
        # distinct trial numbers (the re-measurement of the winner repeats one)
        ntrials=$(grep -o '"trial": *[0-9]*' "$base.log" 2>/dev/null | sort -u | wc -l)
        lib=$work/libs/${name}_t$t.so
        if ! "$tt" compile "$op" --db "$base.db" -o "$lib" </dev/null >>"$base.txt" 2>&1; then
            echo "$name, $t threads: compile failed ($base.txt)" >&2
            continue
        fi
        bload=$(load)
        row=$("$bt" --lib "$lib" --func "$name" --threads "$t" --runs "$runs" "$kind" $args </dev/null) ||
            { echo "$name, $t threads: bench_tuned failed" >&2; continue; }
        # one core's FMA peak now (a loaded machine runs slower clocks), and what the winner is
        peak=$("$bt" --peak)
        echo "$row ${overhead:--} | $ntrials | $tload / $bload | $peak | $(winner "$base.log") |" |
            tee -a "$rows" >&2
    done
done <<<"$selected"

# The table: the rows, the target of each (conv: >= 1.0x oneDNN, odd: >= 0.95x the better peer)
# and the geometric mean of the ratios per set and thread count against the set's goal.
{
    echo "# Tuned kernels against oneDNN and OpenBLAS (bench_shapes.sh)"
    echo
    echo "Command: \`$cmdline\`; started $started, finished $(date -u '+%H:%M UTC');" \
        "tuner $tuner, seed $seed, $trials trials per shape and thread count;" \
        "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) CPUs" \
        "shared with other builds (load averages 1/5/15 min before tuning / before timing in each row)."
    echo
    python3 - "$rows" <<'PY'
import math, sys, collections
rows = []
for line in open(sys.argv[1]):
    c = [x.strip() for x in line.strip().strip("|").split("|")]
    if len(c) >= 11:
        rows.append(c)
print("| shape | threads | ours GFLOPS | oneDNN | OpenBLAS | ratio vs better peer | better peer "
      "| target | met | ours / oneDNN % of peak | tuning overhead | trials | max rel err | load "
      "| our winner |")
print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
gm = collections.defaultdict(list)
for c in rows:
    name, t, ours, dnnl, blas, ratio, peer, err, overhead, trials, load = c[:11]
    peak, win = (c[11], c[12]) if len(c) >= 13 else ("0", "-")
    # the peak of one core times the threads: the share of the FMA units each kernel keeps busy
    p = float(peak) * int(t)
    pct = f"{100 * float(ours) / p:.0f} / {100 * float(dnnl) / p:.0f}" if p > 0 else "-"
    odd = name.startswith("mm_")
    goal = 0.95 if odd else 1.0
    r = float(ratio)
    gm[("odd" if odd else "conv", t)].append(r)
    ov = f"{overhead}x" if overhead != "-" else "-"
    print(f"| {name} | {t} | {ours} | {dnnl} | {blas} | {r:.2f}x | {peer} | >= {goal}x | "
          f"{'yes' if r >= goal else 'no'} | {pct} | {ov} | {trials} | {err} | {load} | {win} |")
print()
print("| set | threads | shapes | geometric mean ratio | target | met |")
print("| --- | --- | --- | --- | --- | --- |")
for (s, t), v in sorted(gm.items()):
    g = math.exp(sum(math.log(x) for x in v) / len(v))
    goal = 1.1 if s == "odd" else 1.05
    print(f"| {s} | {t} | {len(v)} | {g:.2f}x | >= {goal}x | {'yes' if g >= goal else 'no'} |")
PY
} | tee "$out/shapes.md"

# The curves: every tuner and seed on the chosen shapes at the first thread count, through
# bench_curves.sh (its CSV, trial counting, seed rotation and reach table).
[ "$curves" = none ] && exit 0
t1=${threads%% *}
if [ "$curves" = all ]; then
    curves=$(echo "$selected" | cut -d' ' -f1 | tr '\n' ' ')
fi
cops=""
for n in $curves; do
    line=$(shapes | awk -v n="$n" '$1 == n') || true
    [ -n "$line" ] || fail "--curves: no shape $n in set $set"
    opjson "$t1" $line >/dev/null
    cops="$cops ${n}_t$t1"
done
cstart=$(date -u '+%Y-%m-%d %H:%M UTC')
cload=$(load)
"$root/benchmarks/bench_curves.sh" --build "$build" --trials "$ctrials" --seeds "$seeds" \
    --tuners "$tuners" --ops "${cops# }" --out "$work/curves" --opdir "$work/ops" \
    --no-transfer --no-peers >"$work/curves.txt" 2>&1 ||
    { cat "$work/curves.txt" >&2; fail "bench_curves.sh failed"; }
cp "$work/curves/curves.csv" "$out/shapes_curves.csv"
[ -f "$work/curves/curves.png" ] && cp "$work/curves/curves.png" "$out/shapes_curves.png"
{
    echo "# xgb against random on the conv and odd-shape sets (bench_shapes.sh)"
    echo
    echo "Command: \`$cmdline\`; curves started $cstart (load $cload), finished" \
        "$(date -u '+%H:%M UTC') (load $(load)); $ctrials trials per run, seeds $seeds," \
        "$t1 thread(s); the tuners of a seed run back to back, the first rotating with the seed."
    echo "Curves: shapes_curves.csv (tuner, op, seed, trial, best GFLOPS), shapes_curves.png."
    echo
    grep -E '^(xgb|random|ga)_' "$work/curves.txt" | sed 's/^/    /'
    echo
    if [ -s "$work/curves/reach.md" ]; then cat "$work/curves/reach.md"; fi
    echo
    cat "$work/curves/summary.md"
} | tee "$out/shapes_curves.md"
