#!/usr/bin/env bash
# A throw-away PostgreSQL server for tests and benchmarks, on a loopback port, in a temporary
# directory, run by an unprivileged user (PostgreSQL refuses root: as root it runs as the
# `postgres` user that Debian's package creates).
#
#   scripts/pg-server.sh start STATE_DIR   initdb + pg_ctl start; prints the connection URI
#   scripts/pg-server.sh stop STATE_DIR    pg_ctl stop (fast) and removes the cluster
#
# STATE_DIR (created if missing) receives:
#   uri      postgresql://tt@127.0.0.1:PORT/tvmtune  (no password: it is in pgpass)
#   pgpass   the password file (mode 0600) for libpq's PGPASSFILE
#   env      "export PGPASSFILE=...; export TT_PG_URI=..." for `source`
# The role `tt` owns the database `tvmtune` and authenticates with a random password
# (scram-sha-256); nothing listens beyond 127.0.0.1. The cluster itself lives in a directory
# under $TMPDIR that the server's user can reach; STATE_DIR/cluster names it.
set -euo pipefail

die() {
  echo "pg-server: $*" >&2
  exit 1
}

[ $# -eq 2 ] || die "usage: $0 start|stop STATE_DIR"
cmd=$1
state=$2

pg_bin() {
  local d
  for d in /usr/lib/postgresql/*/bin; do
    if [ -x "$d/initdb" ]; then
      echo "$d"
      return 0
    fi
  done
  die "initdb not found under /usr/lib/postgresql (install Debian's postgresql: scripts/install-deps.sh)"
}

# Runs a command as the cluster's owner.
as_owner() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

case "$cmd" in
start)
  bin=$(pg_bin)
  mkdir -p "$state"
  state=$(cd "$state" && pwd)
  if [ -f "$state/cluster" ] && [ -d "$(cat "$state/cluster")" ]; then
    die "a server already runs for $state (stop it first)"
  fi
  cluster=$(mktemp -d "${TMPDIR:-/tmp}/tt-pg.XXXXXX")
  chmod 0755 "$cluster"
  echo "$cluster" >"$state/cluster"
  if [ "$(id -u)" -eq 0 ]; then
    id postgres >/dev/null 2>&1 || die "no 'postgres' user to run the server as (install postgresql)"
    chown postgres: "$cluster"
  fi
  password=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
  pwfile="$cluster/pw"
  as_owner bash -c "umask 077; printf '%s\n' '$password' >'$pwfile'"
  as_owner "$bin/initdb" -D "$cluster/data" -U tt --pwfile="$pwfile" --auth=scram-sha-256 \
    -E UTF8 --locale=C.UTF-8 >"$cluster/initdb.log" 2>&1 ||
    die "initdb failed: $(tail -5 "$cluster/initdb.log")"
  as_owner rm -f "$pwfile"
  # A free port: bind port 0 and read what the kernel gave. Another process could take it
  # before the server does; pg_ctl then fails and we try again with a new one.
  for try in 1 2 3 4 5; do
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    if as_owner "$bin/pg_ctl" -D "$cluster/data" -l "$cluster/server.log" -w -t 60 start \
      -o "-c listen_addresses=127.0.0.1 -p $port -k $cluster -c fsync=off -c max_connections=200" \
      >/dev/null 2>&1; then
      break
    fi
    [ "$try" -lt 5 ] || die "pg_ctl start failed: $(tail -5 "$cluster/server.log")"
  done
  (
    umask 077
    printf '127.0.0.1:%s:*:tt:%s\n' "$port" "$password" >"$state/pgpass"
  )
  uri="postgresql://tt@127.0.0.1:$port/tvmtune"
  PGPASSFILE="$state/pgpass" "$bin/psql" -q -X "postgresql://tt@127.0.0.1:$port/postgres" \
    -c "CREATE DATABASE tvmtune" >/dev/null || die "cannot create the database tvmtune"
  echo "$uri" >"$state/uri"
  printf 'export PGPASSFILE=%q\nexport TT_PG_URI=%q\n' "$state/pgpass" "$uri" >"$state/env"
  echo "$uri"
  ;;
stop)
  [ -d "$state" ] || exit 0
  state=$(cd "$state" && pwd)
  [ -f "$state/cluster" ] || exit 0
  cluster=$(cat "$state/cluster")
  if [ -d "$cluster/data" ]; then
    bin=$(pg_bin)
    as_owner "$bin/pg_ctl" -D "$cluster/data" -m fast -w stop >/dev/null 2>&1 || true
  fi
  rm -rf "$cluster"
  rm -f "$state/cluster" "$state/uri" "$state/pgpass" "$state/env"
  ;;
*)
  die "unknown command '$cmd' (start or stop)"
  ;;
esac
