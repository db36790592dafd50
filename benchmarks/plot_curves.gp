# Tuning curves of benchmarks/bench_curves.sh: one panel per op, best GFLOPS against trials, a
# line per tuner and seed. Variables (gnuplot -e): csv, png, ops, tuners, seeds (space-separated).
set terminal pngcairo size 1500,500 font ",10"
set output png
set datafile separator ","
set key bottom right
set xlabel "trials"
set ylabel "best GFLOPS"
set grid
nops = words(ops)
set multiplot layout 1, nops title "best GFLOPS found against trials measured (seed 1 solid, seed 2 dashed, then dotted...)"
colour(t) = t eq "xgb" ? "#d62728" : t eq "ga" ? "#1f77b4" : "#2ca02c"
do for [o = 1:nops] {
    op = word(ops, o)
    set title op noenhanced
    plot for [t = 1:words(tuners)] for [s = 1:words(seeds)] \
        csv using ((strcol(1) eq word(tuners, t) && strcol(2) eq op && strcol(3) eq word(seeds, s)) ? $4 : 1/0):5 \
        with lines lw 2 dt s lc rgb colour(word(tuners, t)) \
        title (s == 1 ? word(tuners, t) : "")
}
unset multiplot
