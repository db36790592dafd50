#!/bin/bash
# Tuning curves (issue 5): best GFLOPS against trials for the tuners (xgb, ga, random) on a
# matmul, the ResNet-50 conv2d (C=K=128, 28x28, 3x3, NHWC) and an expr op; a CSV (tuner, op,
# seed, trial, best_gflops) from the logs, a PNG (benchmarks/plot_curves.gp), the trials each
# tuner needs to reach 95% (and 90%) of the best GFLOPS any tuner found, and the transfer comparison (xgb
# on a new matmul shape with --transfer from logs of other matmul shapes, against without).
#   usage: benchmarks/bench_curves.sh [--build DIR] [--trials N] [--seeds "1 2 3"]
#          [--tuners "xgb ga random"] [--ops "matmul conv expr"] [--mm N] [--out DIR]
#          [--no-transfer] [--transfer-trials N (default 200)] [--reuse] [--opdir DIR]
#          [--no-peers]
# --opdir: an op NAME of --ops with a file DIR/NAME.json is tuned from that file (any op.json,
# e.g. bench_shapes.sh's sets); --no-peers skips the bench_kernels peer rows.
# --reuse keeps the runs whose log is already in OUT/logs (add seeds to an earlier run; with
# every log kept it only rebuilds the tables, the plot and summary.md).
# Defaults are the issue's full run (500 trials, seeds 1-3, matmul 1024^3): hours on 2 cores.
# Logs go to OUT/logs (not committed); curves.csv, curves.png, trials95.txt, transfer.txt to OUT.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
build=$root/build
trials=500
seeds="1 2 3"
tuners="xgb ga random"
ops="matmul conv expr"
mm=1024
out=$root/benchmarks/results
transfer=1
ttrials=""
reuse=0
ran=0
opdir=""
nopeers=0
while [ $# -gt 0 ]; do
    case $1 in
    --build) build=$2; shift 2 ;;
    --trials) trials=$2; shift 2 ;;
    --seeds) seeds=$2; shift 2 ;;
    --tuners) tuners=$2; shift 2 ;;
    --ops) ops=$2; shift 2 ;;
    --mm) mm=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --no-transfer) transfer=0; shift ;;
    --reuse) reuse=1; shift ;;
    --transfer-trials) ttrials=$2; shift 2 ;;
    --opdir) opdir=$2; shift 2 ;;
    --no-peers) nopeers=1; shift ;;
    *) sed -n '2,15p' "$0" >&2; exit 2 ;;
    esac
done
ttrials=${ttrials:-200}
tt=$build/tuner/tvm-tune
[ -x "$tt" ] || { echo "bench_curves.sh: $tt not found: build first" >&2; exit 2; }
logs=$out/logs
mkdir -p "$logs"
measure='"measure": {"repeat": 3, "min_repeat_ms": 20, "timeout_s": 20}'

opfile() { # opfile NAME -> path of its op.json
    local f=$logs/$1.json
    if [ -n "$opdir" ] && [ -f "$opdir/$1.json" ]; then
        echo "$opdir/$1.json"
        return
    fi
    case $1 in
    matmul) echo "{$measure, \"op\": \"matmul\", \"M\": $mm, \"N\": $mm, \"K\": $mm}" >"$f" ;;
    conv) echo "{$measure, \"op\": \"conv2d\", \"layout\": \"NHWC\", \"N\": 1, \"C\": 128, \"H\": 28,
               \"W\": 28, \"K\": 128, \"R\": 3, \"S\": 3, \"pad\": [1, 1]}" >"$f" ;;
    expr) echo "{$measure, \"op\": \"expr\", \"name\": \"scaled_mm\",
               \"inputs\": {\"A\": [256, 256], \"B\": [256, 256], \"s\": [256]},
               \"compute\": \"C[i, j] = sum(k, A[i, k] * B[k, j]) * s[j]\"}" >"$f" ;;
    mm_*) IFS=x read -r m n k <<<"${1#mm_}"
          echo "{$measure, \"op\": \"matmul\", \"M\": $m, \"N\": $n, \"K\": $k}" >"$f" ;;
    esac
    echo "$f"
}

run() { # run TUNER OP SEED TRIALS [flags...]: one tuning run into logs/TUNER_OP_SEED.log
    local tuner=$1 op=$2 seed=$3 n=$4
    shift 4
    local name=${tuner}_${op}_${seed}
    if [ "$reuse" = 1 ] && [ -s "$logs/$name.log" ]; then
        echo "$name: kept"
        return
    fi
    ran=1
    rm -f "$logs/$name.log"
    local t0=$SECONDS
    "$tt" tune "$(opfile "$op")" --trials "$n" --tuner "${tuner%%+*}" --seed "$seed" --quiet \
        --jobs 2 --log "$logs/$name.log" "$@" >"$logs/$name.txt" 2>&1 || true
    echo "$name: $((SECONDS - t0)) s, $(grep -E '^time:' "$logs/$name.txt" || echo 'no summary')"
}

echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) CPUs;" \
     "load before: $(cut -d' ' -f1-3 /proc/loadavg); trials $trials, seeds $seeds, matmul $mm^3"

# The peers, 2 threads, measured by bench_kernels (issue 3) before and after the tuning runs:
# OpenBLAS/BLIS/oneDNN sgemm at 1024^3 and 512^3, oneDNN on the conv. peers.txt keeps the rows.
bk=$build/benchmarks/bench_kernels
peers() { # peers LABEL
    if [ -x "$bk" ] && [ "$nopeers" = 0 ]; then
        for o in matmul conv; do
            "$bk" --threads 2 --only "$o" 2>/dev/null | grep '^| [mc]' | grep -v ' ours ' |
                sed "s/^/$1 /" >>"$out/peers.txt" || true
        done
    fi
}
if [ "$reuse" = 0 ] || [ ! -s "$out/peers.txt" ]; then
    rm -f "$out/peers.txt"
    peers before
fi
# The tuners of one seed run back to back, first one rotating with the seed: a shared 2-vCPU
# machine drifts by 10-20% over an hour (the same schedule measured 231 then 206 GFLOPS), so
# runs compared with each other must be close in time. Never --reuse logs of another session.
rotate() { # rotate K WORDS...: the words starting at the K-th (mod count)
    local k=$1
    shift
    local n=$# i
    for ((i = 0; i < n; i++)); do
        local j=$(((i + k) % n + 1))
        printf '%s ' "${!j}"
    done
}
for op in $ops; do
    k=0
    for seed in $seeds; do
        for tuner in $(rotate $k $tuners); do
            run "$tuner" "$op" "$seed" "$trials"
        done
        k=$((k + 1))
    done
done

# curves: best GFLOPS after each trial (file order = trial order; the end-of-task
# re-measurement repeats a trial number and is left out so all tuners are counted alike)
curves() { # curves LOG... -> CSV rows
    python3 - "$@" <<'PY'
import json, os, sys
for path in sys.argv[1:]:
    tuner, rest = os.path.basename(path)[:-4].split("_", 1)
    op, seed = rest.rsplit("_", 1)
    seen, best, trial = set(), 0.0, 0
    for line in open(path):
        try:
            r = json.loads(line)
        except ValueError:
            continue
        if r["trial"] in seen:
            continue
        seen.add(r["trial"])
        trial += 1
        if r.get("error", 0) == 0:
            best = max(best, r.get("gflops", 0.0))
        print(f"{tuner},{op},{seed},{trial},{best:.3f}")
PY
}
{
    echo "tuner,op,seed,trial,best_gflops"
    for op in $ops; do for seed in $seeds; do for tuner in $tuners; do
        [ -s "$logs/${tuner}_${op}_${seed}.log" ] && curves "$logs/${tuner}_${op}_${seed}.log"
    done; done; done
} >"$out/curves.csv"

# trials to reach 95% of the best any tuner found on the op (any seed); "-" when never
to95() { # to95 CSV -> table
    python3 - "$1" <<'PY'
import csv, sys, collections
rows = list(csv.DictReader(open(sys.argv[1])))
best = collections.defaultdict(float)
for r in rows:
    best[r["op"]] = max(best[r["op"]], float(r["best_gflops"]))
runs = collections.defaultdict(list)
for r in rows:
    runs[(r["op"], r["tuner"], r["seed"])].append((int(r["trial"]), float(r["best_gflops"])))
print(f"{'op':10} {'tuner':14} {'seed':>4} {'trials':>6} {'best GFLOPS':>11} {'to 95%':>7}  (95% of {'/'.join(f'{o} {b:.1f}' for o, b in best.items())})")
for (op, tuner, seed), c in sorted(runs.items()):
    goal = 0.95 * best[op]
    hit = next((t for t, g in c if g >= goal), None)
    print(f"{op:10} {tuner:14} {seed:>4} {len(c):>6} {c[-1][1]:>11.1f} {hit if hit else '-':>7}")
PY
}
# with --reuse and every log kept, the tables are rebuilt without measuring the peers again
[ "$ran" = 1 ] && peers after
to95 "$out/curves.csv" | tee "$out/trials95.txt"
summary() { # summary CSV -> per op and tuner: median trials to 95%, best GFLOPS, x the peer
    python3 - "$1" "$out/peers.txt" "$mm" <<'PY'
import csv, sys, collections, statistics
rows = list(csv.DictReader(open(sys.argv[1])))
mm = sys.argv[3]
peer = collections.defaultdict(list)  # op -> [(name, GFLOPS)] over the before/after rows
try:
    for line in open(sys.argv[2]):
        cells = [c.strip() for c in line.split("|")]
        if len(cells) < 7 or cells[2] != "2":
            continue
        name, gf = cells[4], float(cells[5])
        if cells[1].startswith(f"matmul {mm}x{mm}x{mm}"):
            peer["matmul"].append((name, gf))
        elif cells[1].startswith("conv2d 3x3"):
            peer["conv"].append((name, gf))
except OSError:
    pass
best = collections.defaultdict(float)
for r in rows:
    best[r["op"]] = max(best[r["op"]], float(r["best_gflops"]))
runs = collections.defaultdict(list)
for r in rows:
    runs[(r["op"], r["tuner"], r["seed"])].append(float(r["best_gflops"]))
by = collections.defaultdict(list)
for (op, tuner, seed), c in runs.items():
    hit = next((i + 1 for i, g in enumerate(c) if g >= 0.95 * best[op]), None)
    hit90 = next((i + 1 for i, g in enumerate(c) if g >= 0.90 * best[op]), None)
    by[(op, tuner)].append((hit, c[-1], len(c), hit90))
def median_hits(hits, n):  # never: counted as more than the run
    med = statistics.median(h if h else n + 1 for h in hits)
    return f">{n}" if med > n else f"{med:g}"
print("| op | tuner | seeds | trials to 95% (each seed) | median | to 90% (each seed) | median | best GFLOPS (median) | peer (2T, mean of before/after) | best / peer |")
print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
for (op, tuner), v in sorted(by.items()):
    n = v[0][2]
    meds = median_hits([h for h, _, _, _ in v], n)
    meds90 = median_hits([h for _, _, _, h in v], n)
    g = statistics.median(b for _, b, _, _ in v)
    ps = collections.defaultdict(list)
    for name, gf in peer.get(op, []):
        ps[name].append(gf)
    pk = [(k, statistics.mean(x)) for k, x in ps.items() if k in ("OpenBLAS", "oneDNN")]
    pstr = ", ".join(f"{k} {x:.1f}" for k, x in pk) or "none"
    rstr = ", ".join(f"{g / x:.2f}x {k}" for k, x in pk) or "-"
    each = " ".join(str(h) if h else "-" for h, _, _, _ in v)
    each90 = " ".join(str(h) if h else "-" for _, _, _, h in v)
    print(f"| {op} | {tuner} | {len(v)} | {each} | {meds} | {each90} | {meds90} | {g:.1f} | {pstr} | {rstr} |")
PY
}
summary "$out/curves.csv" | tee "$out/summary.md"

# xgb against random (issue 13): random's best after 200 trials (or all it ran, if fewer), and
# the trial at which xgb first reaches it (goal <= 100); per op, each seed and the mean.
reach() { # reach CSV -> table
    python3 - "$1" <<'PY'
import csv, sys, collections, statistics
rows = list(csv.DictReader(open(sys.argv[1])))
cur = collections.defaultdict(list)
for r in rows:
    cur[(r["op"], r["tuner"], r["seed"])].append(float(r["best_gflops"]))
ops = sorted({o for o, t, _ in cur if t == "random" and (o, "xgb", _) in cur})
print("| op | seeds | random best after N trials (GFLOPS, each seed) | N | xgb reaches it at trial (each seed) | mean | goal <= 100 |")
print("| --- | --- | --- | --- | --- | --- | --- |")
for op in ops:
    seeds = sorted(s for o, t, s in cur if o == op and t == "random" and (op, "xgb", s) in cur)
    goals, hits = [], []
    for s in seeds:
        rnd, xgb = cur[(op, "random", s)], cur[(op, "xgb", s)]
        n = min(200, len(rnd))
        goals.append(rnd[n - 1])
        hits.append(next((i + 1 for i, g in enumerate(xgb) if g >= goals[-1]), None))
    # a seed whose xgb never got there counts as one trial more than xgb ran
    mean = statistics.mean(h if h else len(cur[(op, "xgb", s)]) + 1 for h, s in zip(hits, seeds))
    miss = any(h is None for h in hits)
    print(f"| {op} | {len(seeds)} | {' '.join(f'{g:.1f}' for g in goals)} | {n} | "
          f"{' '.join(str(h) if h else '-' for h in hits)} | {'>' if miss else ''}{mean:.0f} | "
          f"{'yes' if not miss and mean <= 100 else 'no'} |")
PY
}
if [[ " $tuners " == *" xgb "* && " $tuners " == *" random "* ]]; then
    reach "$out/curves.csv" | tee "$out/reach.md"
fi

if command -v gnuplot >/dev/null; then
    gnuplot -e "csv='$out/curves.csv'; png='$out/curves.png'; ops='$ops'; tuners='$tuners'; seeds='$seeds'" \
        "$root/benchmarks/plot_curves.gp" && echo "plot: $out/curves.png"
fi

# the early part of the curves, where a transferred model should help: the best GFLOPS after
# 8, 16, 32 and 64 trials, mean over seeds, as a share of the best any run found on the op
early() { # early CSV -> table
    python3 - "$1" <<'PY'
import csv, sys, collections, statistics
rows = list(csv.DictReader(open(sys.argv[1])))
best = collections.defaultdict(float)
at = collections.defaultdict(dict)
for r in rows:
    g = float(r["best_gflops"])
    best[r["op"]] = max(best[r["op"]], g)
    at[(r["op"], r["tuner"], r["seed"])][int(r["trial"])] = g
marks = [8, 16, 32, 64]
print()
print("| op | tuner | " + " | ".join(f"after {m} trials" for m in marks) + " |")
print("| --- | --- | " + " | ".join("---" for _ in marks) + " |")
for op in sorted(best):
    for tuner in sorted({t for (o, t, _) in at if o == op}):
        cells = []
        for m in marks:
            v = [c[m] for (o, t, _), c in at.items() if o == op and t == tuner and m in c]
            cells.append(f"{statistics.mean(v):.1f} GF ({statistics.mean(v) / best[op]:.0%})" if v else "-")
        print(f"| {op} | {tuner} | " + " | ".join(cells) + " |")
PY
}

# transfer: logs of two other matmul shapes, then a new shape with and without them
if [ "$transfer" = 1 ]; then
    # a target large enough (151 MFLOP, about a millisecond) that schedules differ by more
    # than the timing noise; sources of other shapes and aspect ratios
    src1=mm_512x256x384 src2=mm_256x640x512 new=mm_384x384x512
    for s in $src1 $src2; do run random "$s" 1 "$ttrials"; done
    k=0
    for seed in $seeds; do
        for tuner in $(rotate $k xgb xgb+transfer); do
            if [ "$tuner" = xgb ]; then
                run xgb "$new" "$seed" "$ttrials"
            else
                run xgb+transfer "$new" "$seed" "$ttrials" --transfer "$logs/random_${src1}_1.log" \
                    --transfer "$logs/random_${src2}_1.log"
            fi
        done
        k=$((k + 1))
    done
    {
        echo "tuner,op,seed,trial,best_gflops"
        for seed in $seeds; do
            curves "$logs/xgb_${new}_${seed}.log" "$logs/xgb+transfer_${new}_${seed}.log"
        done
    } >"$out/transfer.csv"
    to95 "$out/transfer.csv" | tee "$out/transfer.txt"
    summary "$out/transfer.csv" | tee -a "$out/transfer.txt"
    early "$out/transfer.csv" | tee -a "$out/transfer.txt"
fi
