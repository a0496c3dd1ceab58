# Sourced by the benchmarks that run nodes beside peers of their own: a work
# directory, processes stopped by pid at exit, the targets they run, a
# durable PostgreSQL and the S3 server (tests/postgres, tests/s3), free ports.
#   source bench/peers.sh NAME   → $work, pids=(), $build, cleanup on EXIT

# build_targets TARGET...: builds them in $build (BUILD_DIR, default
# build/bench), configured with the benchmarks when it is new.
build=${BUILD_DIR:-build/bench}
build_targets() {
  [[ -f $build/CMakeCache.txt ]] ||
    cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPROGIMAGE_TESTS=OFF -DPROGIMAGE_BENCH=ON >/dev/null
  cmake --build "$build" --target "$@" >/dev/null
}

work=$(mktemp -d "/tmp/progimage-bench-$1.XXXX")
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
  tests/postgres/server.sh stop "$work/pg" >/dev/null 2>&1 || true
  tests/s3/server.sh stop "$work/s3" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# start_postgres: a server that writes as production would (fsync and
# synchronous commit on, unlike the tests'); sets $pg to its admin URL.
start_postgres() {
  PROGIMAGE_POSTGRES_OPTIONS="-c fsync=on -c synchronous_commit=on -c full_page_writes=on" \
    tests/postgres/server.sh start "$work/pg" >/dev/null
  pg=$(cat "$work/pg/url")
}

# pg_cpu_ms: CPU time the PostgreSQL server has used so far (postmaster,
# its live backends and those that have exited), in ms.
pg_cpu_ms() {
  local pm
  pm=$(cat "$work/pg/pid")
  {
    awk '{print $14 + $15 + $16 + $17}' "/proc/$pm/stat"
    for child in $(ps -o pid= --ppid "$pm"); do awk '{print $14 + $15}' "/proc/$child/stat" 2>/dev/null || true; done
  } | awk -v tck="$(getconf CLK_TCK)" '{s += $1} END {printf "%d\n", s * 1000 / tck}'
}

# new_database NAME: prints the URL of a new, empty database on that server.
new_database() {
  psql -X -q -v ON_ERROR_STOP=1 "$pg" -c "SET client_min_messages = warning" \
    -c "DROP DATABASE IF EXISTS $1" -c "CREATE DATABASE $1"
  echo "${pg%/*}/$1"
}

# start_s3: s3rver on loopback; sets $s3 to its own endpoint (not the
# signature-checking proxy in front of it, which would be measured too).
start_s3() {
  [[ -x tests/s3/node_modules/.bin/s3rver ]] || (cd tests/s3 && npm ci --no-audit --no-fund --loglevel=error)
  tests/s3/server.sh start "$work/s3" >/dev/null
  s3=$(cat "$work/s3/s3rver_endpoint")
}

# queue_empty PORT: true once the node's job queue has nothing queued or running.
queue_empty() {
  curl -sf "http://127.0.0.1:$1/metrics" | awk '/^progimage_job_queue_items/ {s += $2} END {exit !(s == 0)}'
}
