# Sourced by the benchmarks that run nodes beside peers of their own: a work
# directory, processes stopped by pid at exit, the targets they run, a
# durable PostgreSQL and the S3 server (tests/postgres, tests/s3), free ports.
#   source bench/peers.sh NAME   → $work, pids=(), $build, cleanup on EXIT

# build_targets TARGET...: builds them in $build (BUILD_DIR, default
# build/bench), configured with the benchmarks when it is new.
build=${BUILD_DIR:-build/bench}
build_targets() {
  # A tree configured without the benchmarks (a test build) gets them added.
  grep -qs '^PROGIMAGE_BENCH:BOOL=ON' "$build/CMakeCache.txt" ||
    cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPROGIMAGE_BENCH=ON >/dev/null
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

# wait_http URL: until it answers 2xx (10 s at most).
wait_http() { for _ in $(seq 100); do curl -fs -o /dev/null "$1" && return 0; sleep 0.1; done; echo "no answer from $1" >&2; return 1; }

# tree_pids PID: the process and all its descendants.
tree_pids() { echo "$1"; for c in $(ps -o pid= --ppid "$1"); do tree_pids "$c"; done; }
# reset_hwm PID: forgets the peak RSS of the tree so far (for a run that follows).
reset_hwm() { for p in $(tree_pids "$1"); do echo 5 >"/proc/$p/clear_refs" 2>/dev/null || true; done; }
# peak_rss_mb PID: peak RSS of the tree in MB (sum of VmHWM).
peak_rss_mb() {
  local kb=0 p v
  for p in $(tree_pids "$1"); do
    v=$(awk '/^VmHWM:/ {print $2}' "/proc/$p/status" 2>/dev/null || echo 0)
    kb=$((kb + ${v:-0}))
  done
  awk -v k="$kb" 'BEGIN {printf "%.0f", k / 1024}'
}
# cpu_ms PID: CPU time (user + system) the process has used so far, in ms.
cpu_ms() { awk -v tck="$(getconf CLK_TCK)" '{printf "%d\n", ($14 + $15) * 1000 / tck}' "/proc/$1/stat"; }

# wait_quiet SECONDS: waits (up to SECONDS) for a 1-minute load under 0.7:
# other engineers compile on the same cores.
wait_quiet() {
  local waited=0 load
  while (($1 > 0)); do
    load=$(cut -d' ' -f1 /proc/loadavg)
    awk -v l="$load" 'BEGIN {exit !(l < 0.7)}' && break
    if ((waited >= $1)); then echo "warning: 1-minute load still $load after ${waited}s; measuring anyway" >&2; break; fi
    echo "waiting for a quiet machine (1-minute load $load)" >&2
    sleep 30
    waited=$((waited + 30))
  done
  echo "load at start: $(cat /proc/loadavg)" >&2
}

# wrk_run URL SECONDS [wrk args...]: "req/s p50 p99 errors" at 16 connections,
# after a 2-second warm-up.
wrk_run() {
  wrk -t2 -c16 -d2s --timeout 30s "${@:3}" "$1" >/dev/null
  local out
  out=$(wrk -t2 -c16 -d"$2"s --timeout 30s --latency "${@:3}" "$1")
  awk '/Requests\/sec/ {rate = $2} $1 == "50%" {p50 = $2} $1 == "99%" {p99 = $2}
       /Non-2xx/ {errs += $NF} /Socket errors/ {for (i = 4; i <= NF; i += 2) errs += $i}
       END {print rate, p50, p99, errs + 0}' <<<"$out"
}

# ratio A B: A / B with two decimals, or "–".
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (b > 0) printf "%.2f", a / b; else print "–"}'; }
