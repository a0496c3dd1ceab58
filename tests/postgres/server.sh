#!/usr/bin/env bash
# A PostgreSQL server of the tests' own, in a temporary directory, on a free
# loopback port:
#   server.sh start DIR   initdb + start; writes DIR/url (a libpq URI of the
#                         "postgres" database, user postgres, no password),
#                         DIR/pid and DIR/data (where the server's files are)
#   server.sh stop DIR    stops that server by its process id, removes its files
# As root, the server runs as the "postgres" user (it refuses root), in a
# directory under /tmp that it can reach whatever DIR's parents allow. Made
# for tests, not for data: fsync is off unless PROGIMAGE_POSTGRES_OPTIONS
# (server options appended, e.g. "-c fsync=on" for a benchmark) says otherwise.
set -euo pipefail
cmd=${1:?start or stop}
dir=${2:?directory}

as_owner() {
  if [[ $(id -u) == 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

bindir() {
  local initdb
  initdb=$(ls -d /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -V | tail -1)
  [[ -n $initdb ]] || { echo "server.sh: no PostgreSQL server (apt-get install postgresql-15)" >&2; exit 1; }
  dirname "$initdb"
}

# The server runs as "postgres", which must reach its binaries and /tmp. A
# root directory that only root may enter (mode 700, as a bare root made with
# mktemp -d has) lets no other user run anything: give it the o+x of every
# Debian system, saying so.
reachable_root() {
  [[ $(id -u) == 0 ]] || return 0
  runuser -u postgres -- /bin/true 2>/dev/null && return 0
  if [[ $(stat -c %a /) == 700 ]]; then
    echo "server.sh: / is mode 700, so the postgres user can run nothing; setting o+x on / as on any Debian system" >&2
    chmod o+x /
  fi
  runuser -u postgres -- /bin/true || { echo "server.sh: the postgres user cannot run programs here" >&2; exit 1; }
}

start() {
  local bin port home
  bin=$(bindir)
  reachable_root
  stop
  mkdir -p "$dir"
  home=$(mktemp -d /tmp/progimage-postgres.XXXXXX)
  echo "$home" >"$dir/data"
  if [[ $(id -u) == 0 ]]; then chown postgres: "$home"; fi
  as_owner "$bin/initdb" -D "$home/data" -A trust -U postgres -E UTF8 --locale=C.UTF-8 --no-sync >"$home/initdb.log"
  for _ in $(seq 1 20); do
    port=$((20000 + RANDOM % 40000))
    if as_owner "$bin/pg_ctl" -D "$home/data" -l "$home/server.log" -w -t 30 \
        -o "-c listen_addresses=127.0.0.1 -p $port -k $home -c fsync=off -c synchronous_commit=off \
            -c full_page_writes=off -c max_connections=400 -c shared_buffers=64MB ${PROGIMAGE_POSTGRES_OPTIONS:-}" start >/dev/null; then
      head -1 "$home/data/postmaster.pid" >"$dir/pid"
      echo "postgresql://postgres@127.0.0.1:$port/postgres" >"$dir/url"
      echo "PostgreSQL $(cat "$dir/pid") on 127.0.0.1:$port"
      return 0
    fi
  done
  echo "server.sh: the server did not start; see $home/server.log" >&2
  exit 1
}

stop() {
  local pid=""
  [[ -f $dir/pid ]] && pid=$(cat "$dir/pid")
  if [[ -n $pid ]]; then
  # SIGINT is PostgreSQL's fast shutdown.
    kill -INT "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  if [[ -f $dir/data ]]; then
    local home
    home=$(cat "$dir/data")
    [[ $home == /tmp/progimage-postgres.* ]] && rm -rf "$home"
  fi
  rm -rf "$dir"
}

case $cmd in
  start) start ;;
  stop) stop ;;
  *) echo "usage: server.sh start|stop DIR" >&2; exit 2 ;;
esac
