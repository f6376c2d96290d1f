#!/usr/bin/env bash
# A throw-away PostgreSQL 15 cluster for Mayfly's tests: initdb into a
# temporary directory (as the unprivileged `postgres` user when run as root),
# listening on 127.0.0.1 only, on a free port, with its unix sockets in that
# directory and a password for the test role in a 0600 file.
#
#   eval "$(scripts/pg-test-cluster.sh start)"   # exports MAYFLY_TEST_PG_URL
#                                                # and MAYFLY_TEST_PG_PASSWORD_FILE
#   ... run tests ...
#   scripts/pg-test-cluster.sh stop              # stops it, removes the directory
#
# start prints only the export lines on stdout (progress goes to stderr) and
# also writes them to $dir/env. The directory is $MAYFLY_PG_TEST_DIR, by
# default /tmp/mayfly-pg-test-$UID; start refuses to run over a live cluster.
set -euo pipefail

dir=${MAYFLY_PG_TEST_DIR:-/tmp/mayfly-pg-test-$(id -u)}
bindir=${MAYFLY_PG_BINDIR:-/usr/lib/postgresql/15/bin}
role=mayfly_test
database=mayfly_test

# Runs a PostgreSQL binary as the cluster's owner: initdb and postgres refuse
# to run as root.
as_owner() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

stop() {
  if [ -f "$dir/data/postmaster.pid" ]; then
    as_owner "$bindir/pg_ctl" -D "$dir/data" -m immediate -w stop >&2 || true
  fi
  rm -rf "$dir"
}

start() {
  [ -x "$bindir/initdb" ] || { echo "pg-test-cluster: $bindir/initdb not found (apt-get install postgresql)" >&2; exit 1; }
  if [ -f "$dir/data/postmaster.pid" ]; then
    echo "pg-test-cluster: a cluster is running in $dir; stop it first" >&2
    exit 1
  fi
  rm -rf "$dir"
  mkdir -m 0700 "$dir"
  if [ "$(id -u)" -eq 0 ]; then chown postgres: "$dir"; fi
  local password
  password=$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')
  # The password file: 0600, owned by whoever initdb runs as (root reads it
  # anyway), never on a command line.
  (umask 077; printf '%s\n' "$password" >"$dir/password")
  if [ "$(id -u)" -eq 0 ]; then chown postgres: "$dir/password"; fi
  as_owner "$bindir/initdb" -D "$dir/data" -U "$role" --auth=scram-sha-256 --pwfile="$dir/password" \
    -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 ||
    { cat "$dir/initdb.log" >&2; exit 1; }
  # A random port, another one when it is taken. fsync off: the cluster is
  # thrown away, and the tests are about what each transaction sees, not
  # about surviving power loss.
  local port attempt
  for attempt in 1 2 3 4 5 6 7 8; do
    port=$((20000 + RANDOM % 30000))
    if as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 \
        -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$dir -c fsync=off -c max_connections=200" \
        start >/dev/null 2>&1; then
      break
    fi
    port=""
  done
  if [ -z "$port" ]; then
    echo "pg-test-cluster: PostgreSQL did not start; its log:" >&2
    cat "$dir/server.log" >&2 || true
    exit 1
  fi
  PGPASSFILE=/dev/null PGPASSWORD=$password "$bindir/psql" -q -h 127.0.0.1 -p "$port" -U "$role" -d postgres \
    -v ON_ERROR_STOP=1 -c "CREATE DATABASE $database" >&2
  cat >"$dir/env" <<ENV
export MAYFLY_TEST_PG_URL='postgresql://$role@127.0.0.1:$port/$database'
export MAYFLY_TEST_PG_PASSWORD_FILE='$dir/password'
ENV
  echo "pg-test-cluster: PostgreSQL on 127.0.0.1:$port, data in $dir" >&2
  cat "$dir/env"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
