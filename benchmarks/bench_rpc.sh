#!/usr/bin/env bash
# What measuring over RPC costs, on this machine (docs/ARCHITECTURE.md "Tuning over RPC"):
#  1. tuning wall time per candidate through a tvm-tune-rpc server on loopback (one session for
#     the whole run) against the same run measured locally: same op, seed, tuner and trials,
#     alternated over rounds so that a load that comes and goes hits both; also the time per
#     candidate outside timed kernel runs (what the protocol adds, independent of kernel speed);
#  2. the handshake (TCP connect, key exchange, mutual authentication) in ms, over N connects;
#  3. upload throughput in MB/s (encrypted, chunked) for a 32 MiB file.
# The server is the host build (`tvm-tune rpc server`), so the ratio shows the protocol's cost,
# not another CPU's speed. With --aarch64 the same runs go to the aarch64 server under qemu too;
# qemu timings are functional only.
#   usage: benchmarks/bench_rpc.sh [--build DIR] [--trials N] [--rounds R] [--aarch64]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build="$root/build"
trials=60
rounds=3
aarch64=0
while [ $# -gt 0 ]; do
  case $1 in
  --build) build=$2; shift 2 ;;
  --trials) trials=$2; shift 2 ;;
  --rounds) rounds=$2; shift 2 ;;
  --aarch64) aarch64=1; shift ;;
  *) echo "usage: $0 [--build DIR] [--trials N] [--rounds R] [--aarch64]" >&2; exit 2 ;;
  esac
done
tt="$build/tuner/tvm-tune"
[ -x "$tt" ] || { echo "bench_rpc: $tt missing: build first (scripts/build.sh)" >&2; exit 2; }
work=$(mktemp -d)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; rm -rf "$work"' EXIT

"$tt" rpc keygen -o "$work/dev.key" 2>/dev/null
# start_server CMD...: a server whose first stdout line names its port; sets $port.
start_server() {
  local fifo="$work/fifo.$RANDOM"
  mkfifo "$fifo"
  "$@" --port 0 --key-file "$work/dev.key" >"$fifo" 2>"$work/server.err" &
  pids+=($!)
  local line
  read -r line <"$fifo"
  port=${line##*:}
}

cat >"$work/mm.json" <<'JSON'
{"op": "matmul", "M": 256, "N": 256, "K": 256, "measure": {"repeat": 3, "min_repeat_ms": 20}}
JSON

# "ELAPSED TIMED" seconds of one tuning run (the CLI's "time:" line: wall time, and the part of
# it spent inside timed kernel runs)
tune_s() {
  rm -f "$work/$1.log"
  "$tt" "$work/mm.json" --trials "$trials" --tuner random --seed 7 --quiet --log "$work/$1.log" \
    "${@:2}" | sed -n 's/^time: \([0-9.]*\) s, of which timed kernel runs \([0-9.]*\) s.*/\1 \2/p'
}

echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "op: matmul 256x256x256 float32, $trials trials, tuner random (the same candidates both ways),"
echo "    $rounds rounds alternating local and RPC; medians over rounds"
start_server "$tt" rpc server
x86_port=$port
for r in $(seq "$rounds"); do
  echo "local $(tune_s local)" >>"$work/runs"
  echo "rpc $(tune_s rpc --rpc "127.0.0.1:$x86_port" --rpc-key-file "$work/dev.key")" >>"$work/runs"
done
/usr/bin/python3 - "$work/runs" "$trials" <<'PY'
import statistics, sys
runs = {"local": [], "rpc": []}
for line in open(sys.argv[1]):
    kind, wall, timed = line.split()
    runs[kind].append((float(wall), float(timed)))
n = int(sys.argv[2])
med = {k: (statistics.median(w for w, _ in v), statistics.median(w - t for w, t in v))
       for k, v in runs.items()}
for k in ("local", "rpc"):
    print("%-5s wall %.1f s (%.0f ms per candidate), outside timed kernel runs %.0f ms per candidate"
          % (k, med[k][0], 1e3 * med[k][0] / n, 1e3 * med[k][1] / n))
print("tuning wall time over RPC on loopback / local: %.2fx (per round: %s)"
      % (med["rpc"][0] / med["local"][0],
         ", ".join("%.2f" % (r[0] / l[0]) for l, r in zip(runs["local"], runs["rpc"]))))
PY

PYTHONPATH="$root/python" TT_BUILD_DIR="$build" /usr/bin/python3 - "$x86_port" "$work" <<'PY'
import os, statistics, sys, time
import tvm_tune.rpc as rpc
port, work = int(sys.argv[1]), sys.argv[2]
key = os.path.join(work, "dev.key")
times = []
for _ in range(20):
    t0 = time.perf_counter()
    s = rpc.connect("127.0.0.1", port, key_file=key)
    s.device_info()
    times.append(time.perf_counter() - t0)
    s.close()
print("handshake + device_info: median %.2f ms over 20 connects (min %.2f ms)"
      % (1e3 * statistics.median(times), 1e3 * min(times)))
path = os.path.join(work, "blob.bin")
with open(path, "wb") as f:
    f.write(os.urandom(32 << 20))
s = rpc.connect("127.0.0.1", port, key_file=key)
rates = []
for i in range(3):
    t0 = time.perf_counter()
    s.upload(path, "blob%d.bin" % i)
    rates.append(32 / (time.perf_counter() - t0))
print("upload 32 MiB: %.0f MB/s (median of 3, encrypted, loopback)" % statistics.median(rates))
s.close()
PY

if [ "$aarch64" = 1 ]; then
  start_server "$root/scripts/run-aarch64-server.sh"
  a64_s=$(tune_s a64 --rpc "127.0.0.1:$port" --rpc-key-file "$work/dev.key" | cut -d' ' -f1)
  awk -v r="$a64_s" -v n="$trials" 'BEGIN {
    printf "aarch64 under qemu (functional only): %.1f s, %.0f ms per candidate\n", r, 1000 * r / n }'
fi
