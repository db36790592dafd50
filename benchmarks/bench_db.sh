#!/usr/bin/env bash
# Database benchmark (issue 12): records written per second into PostgreSQL and into SQLite by 1
# and 4 writer processes at once, each record its own transaction as the tuner writes them
# (build/benchmarks/bench_db). Starts its own throw-away PostgreSQL (scripts/pg-server.sh, on a
# loopback port) and stops it on exit; SQLite files go to BUILD_DIR/bench_db/. Each case runs
# ROUNDS times on a fresh database (the median counts); the ratio is PostgreSQL / SQLite.
#   usage: benchmarks/bench_db.sh [BUILD_DIR] [RECORDS_PER_WRITER] [ROUNDS]   (default: build 2000 3)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-build}
per=${2:-2000}
rounds=${3:-3}
bench="$build/benchmarks/bench_db"
[ -x "$bench" ] || { echo "bench_db.sh: $bench not found: build first" >&2; exit 2; }
out="$build/bench_db"
rm -rf "$out"
mkdir -p "$out"
state="$out/pg"
trap '"$root/scripts/pg-server.sh" stop "$state" >/dev/null 2>&1 || true' EXIT
base=$("$root/scripts/pg-server.sh" start "$state")
export PGPASSFILE="$state/pgpass"
psql=$(ls /usr/lib/postgresql/*/bin/psql | head -1)

echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) CPUs;" \
     "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "PostgreSQL $("$psql" -X -A -t "$base" -c 'SHOW server_version') (fsync off, loopback TCP)," \
     "SQLite $(python3 -c 'import sqlite3; print(sqlite3.sqlite_version)') (WAL, synchronous=NORMAL);" \
     "$per records per writer, median of $rounds rounds"

# rate ENGINE WRITERS: the median records/s of ROUNDS runs, each on a fresh database.
rate() {
  local engine=$1 writers=$2 r target rates=()
  for r in $(seq "$rounds"); do
    if [ "$engine" = pg ]; then
      "$psql" -q -X "$base" -c "SET client_min_messages = warning" \
        -c "DROP DATABASE IF EXISTS bench" -c "CREATE DATABASE bench"
      target="${base%/*}/bench"
    else
      target="$out/bench-$writers-$r.db"
      rm -f "$target" "$target-wal" "$target-shm"
    fi
    rates+=("$("$bench" "$target" "$writers" "$per" | sed 's/.*records\/s //')")
  done
  printf '%s\n' "${rates[@]}" | sort -n | sed -n "$(((rounds + 1) / 2))p"
}

printf '%-8s %14s %14s %8s\n' writers "sqlite rec/s" "postgres rec/s" "pg/sqlite"
for writers in 1 4; do
  lite=$(rate sqlite "$writers")
  pg=$(rate pg "$writers")
  printf '%-8s %14s %14s %8.2f\n' "$writers" "$lite" "$pg" "$(echo "$pg / $lite" | bc -l)"
done
