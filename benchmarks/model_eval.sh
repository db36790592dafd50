#!/bin/sh
# The cost model's ranking on random tuning logs, over shuffled train/test splits (issue 13,
# item 4). One `tvm-tune model eval` split of a 150-400-record log moves by +-0.03 pairwise
# accuracy from one split to the next; the mean over SPLITS shuffles (fixed seeds 1..SPLITS, so
# two binaries see the same splits) is what to compare. A random log has no order to keep.
#
#   benchmarks/model_eval.sh TVM_TUNE FRACTION SPLITS LOG...
# prints per log: mean / min / max pairwise accuracy and mean recall of the top-10.
set -eu
if [ $# -lt 4 ]; then
    echo "usage: $0 TVM_TUNE FRACTION SPLITS LOG..." >&2
    exit 2
fi
tvm_tune=$1 fraction=$2 splits=$3
shift 3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for log in "$@"; do
    i=1
    : >"$tmp/out"
    while [ "$i" -le "$splits" ]; do
        python3 -c 'import random, sys
lines = open(sys.argv[1]).read().splitlines()
random.Random(int(sys.argv[2])).shuffle(lines)
open(sys.argv[3], "w").write("\n".join(lines) + "\n")' "$log" "$i" "$tmp/split.log"
        "$tvm_tune" model eval "$tmp/split.log" --train-fraction "$fraction" --threads 1 >>"$tmp/out"
        i=$((i + 1))
    done
    python3 -c 'import re, sys
text = open(sys.argv[1]).read()
acc = [float(x) for x in re.findall(r"pairwise ranking accuracy: ([0-9.]+)", text)]
rec = [float(x) for x in re.findall(r"top-32: ([0-9.]+)", text)]
print("%s: train %s, %d splits: pairwise accuracy %.3f (min %.3f, max %.3f), top-10 recall %.3f"
      % (sys.argv[2], sys.argv[3], len(acc), sum(acc) / len(acc), min(acc), max(acc),
         sum(rec) / len(rec)))' "$tmp/out" "$log" "$fraction"
done
