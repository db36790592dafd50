#!/bin/sh
# Runs bench_kernels (issue 3) several times, each in a fresh process, and prints the median of
# each row's figures over the runs (2-thread peer figures vary 10-20% between processes).
#   usage: benchmarks/run_kernels.sh [BUILD_DIR] [RUNS] [-- bench_kernels options]
#   e.g.   benchmarks/run_kernels.sh build 3 -- --runs 7 --min-ms 50
# The raw outputs and the load average before each run go to BUILD_DIR/bench_kernels_runs/.
set -eu
build=${1:-build}
n=${2:-3}
[ $# -ge 2 ] && shift 2 || shift $#
[ "${1:-}" = "--" ] && shift
bin="$build/benchmarks/bench_kernels"
if [ ! -x "$bin" ]; then
    echo "run_kernels.sh: $bin not found; build it: cmake --build $build --target bench_kernels" >&2
    exit 2
fi
out="$build/bench_kernels_runs"
mkdir -p "$out"
rm -f "$out"/run_*.txt
i=1
while [ "$i" -le "$n" ]; do
    echo "run $i/$n: load average $(cut -d' ' -f1-3 /proc/loadavg)" | tee "$out/load_$i.txt" >&2
    "$bin" "$@" > "$out/run_$i.txt"
    i=$((i + 1))
done
sed "/^$/q" "$out/run_1.txt" | sed "/^$/d"
echo "median over $n processes (load averages before each: $(cat "$out"/load_*.txt |
    sed 's/.*average //' | tr '\n' ';'))"
echo
echo "| op | threads | ours GFLOPS | peer | peer GFLOPS | ratio | compile ms | max rel err |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- |"
# Rows keyed by op|threads|peer; each numeric column's median over the runs. The ratio column is
# the median of the per-run ratios (ours and the peer measured side by side in one process).
cat "$out"/run_*.txt | awk -F'|' '
    /^\| (matmul|conv2d)/ {
        key = $2 "|" $3 "|" $5
        if (!(key in seen)) { seen[key] = 1; order[++nk] = key }
        cnt[key]++
        v[key, 1, cnt[key]] = $4 + 0; v[key, 2, cnt[key]] = $6 + 0
        v[key, 3, cnt[key]] = $7 + 0; v[key, 4, cnt[key]] = $8 + 0
        err[key] = $9
    }
    function med(key, col,    m, a, i, j, t) {
        m = cnt[key]
        for (i = 1; i <= m; i++) a[i] = v[key, col, i]
        for (i = 1; i <= m; i++) for (j = i + 1; j <= m; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
        return (m % 2) ? a[(m + 1) / 2] : (a[m / 2] + a[m / 2 + 1]) / 2
    }
    END {
        for (k = 1; k <= nk; k++) {
            key = order[k]; split(key, p, "|")
            printf "|%s|%s| %7.1f |%s| %7.1f | %5.2f | %7.1f |%s|\n", p[1], p[2], med(key, 1),
                p[3], med(key, 2), med(key, 3), med(key, 4), err[key]
        }
    }'
