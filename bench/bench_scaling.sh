#!/usr/bin/env bash
# Scaling out (issue 12): bulk-job throughput of one worker node pinned to one
# core (taskset) against two nodes, each pinned to a core of its own, sharing
# one PostgreSQL catalog (a durable server of this run's own) and one blob
# store. Goal: two nodes >= 1.8 x one.
#   bench/bench_scaling.sh [items, default 400] [rounds, default 2]   (BUILD_DIR, default build/bench)
# Items are N x (1920x1080 JPEG -> w=300 WebP) of one stored image with the
# derivative cache off, as in bench_jobs.sh, so every item decodes, resizes
# and encodes. PostgreSQL is not pinned: with one node it has the other core
# to itself, with two it shares both, so the ratio is a lower bound of what
# a node on a machine of its own would add. The PostgreSQL server's CPU time
# per item is the catalog's cost of the queue, for the capacity model in
# docs/DEPLOY.md. Prints a Markdown table.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-400}
rounds=${2:-2}
source bench/peers.sh scaling
build_targets progimage
start_postgres
catalog=$(new_database scaling)

# start_node NAME CORE ROLE: a node pinned to CORE; sets node_port (no subshell: its pid must reach pids).
start_node() {
  local name=$1 core=$2 role=$3 port
  port=$(free_port)
  taskset -c "$core" "$build/src/app/progimage" serve --listen "127.0.0.1:$port" --data "$work/$name" \
    --catalog "$catalog" --storage "file://$work/blobs" --role "$role" --workers 2 \
    --cache-bytes 0 --log-level warn >"$work/$name.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
  node_port=$port
}

start_node a 0 all
a=$node_port
vips thumbnail tests/corpus/exif-orientation/Landscape_1.jpg "$work/hd.jpg[Q=85]" 1920 --height 1080 --size force >/dev/null
id=$(curl -sf --data-binary @"$work/hd.jpg" -H 'Content-Type: image/jpeg' "http://127.0.0.1:$a/v1/images" |
  python3 -c 'import sys, json; print(json.load(sys.stdin)["id"])')
for _ in $(seq 300); do queue_empty "$a" && break; sleep 0.1; done
python3 -c "import json, sys; print(json.dumps({'sources': [sys.argv[1]] * int(sys.argv[2]), 'params': 'w=300', 'format': 'webp'}))" \
  "$id" "$n" >"$work/job.json"

# job_rate: runs the job once; prints items/s and the catalog's CPU per item (ms).
job_rate() {
  local before rate
  before=$(pg_cpu_ms)
  rate=$(python3 bench/run_job.py "$a" "$work/job.json" | awk '{print $1}')
  echo "$rate $(python3 -c "print(f'{($(pg_cpu_ms) - $before) / $n:.2f}')")"
}

one=() one_pg=()
for _ in $(seq "$rounds"); do read -r r c <<<"$(job_rate)"; one+=("$r"); one_pg+=("$c"); done
start_node b 1 worker
two=() two_pg=()
for _ in $(seq "$rounds"); do read -r r c <<<"$(job_rate)"; two+=("$r"); two_pg+=("$c"); done

# The catalog's cost of an upload, with the default variants it queues and
# their items run: PostgreSQL CPU over the uploads of a wrk run through node A,
# counted once the queue is empty again.
vips thumbnail tests/corpus/exif-orientation/Landscape_1.jpg "$work/small.jpg[Q=85,strip]" 640 >/dev/null
before=$(pg_cpu_ms)
uploads=$(UPLOAD_FILE="$work/small.jpg" wrk -t2 -c8 -d5s -s bench/upload.lua "http://127.0.0.1:$a/" |
  awk '/requests in/ {print $1}')
for _ in $(seq 600); do queue_empty "$a" && break; sleep 0.2; done
upload_pg=$(python3 -c "print(f'{($(pg_cpu_ms) - $before) / $uploads:.2f}')")

best() { printf '%s\n' "$@" | sort -g | tail -1; }
one_best=$(best "${one[@]}")
two_best=$(best "${two[@]}")
ratio=$(python3 -c "print(f'{$two_best / $one_best:.2f}')")
echo "| $n x 1920x1080 JPEG -> w=300 WebP, PostgreSQL catalog | items/s: best (each of ${rounds} rounds) | vs one node | PostgreSQL CPU per item, ms (each round) |"
echo "|---|---|---|---|"
echo "| one node on core 0 (2 workers) | $one_best (${one[*]}) | 1.00 | ${one_pg[*]} |"
echo "| two nodes, cores 0 and 1 (2 workers each) | $two_best (${two[*]}) | $ratio | ${two_pg[*]} |"
echo
echo "PostgreSQL CPU per 66 KB upload, its 3 variants included: $upload_pg ms ($uploads uploads)"
