#!/usr/bin/env bash
# Bulk job throughput (issue 4): items/s for N x (1920x1080 JPEG -> w=300 WebP)
# through POST /v1/jobs and the in-process workers, against the in-process
# libvips ceiling (bench/transform_ceiling: the same imaging::render on every
# core, no HTTP, catalog or storage). Goal: jobs >= 0.9 x ceiling.
#   bench/bench_jobs.sh [items, default 1000]        (BUILD_DIR, default build/bench)
# The job's sources are one stored image repeated N times with the derivative
# cache off (--cache-bytes 0), so every item decodes, resizes and encodes, as
# the ceiling does; the job's own costs (claim and completion commits, reading
# the working copy from the blob store, recording the result) are what the ratio
# measures. The image's working copies are made before the job starts, and the
# ceiling renders from the same copy (CEILING_WORKING_COPIES=1). Prints a Markdown table; bench/RESULTS.md records a run.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-1000}
build=${BUILD_DIR:-build/bench}
cores=$(nproc)
if [[ ! -x $build/src/app/progimage || ! -x $build/bench/transform_ceiling ]]; then
  cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPROGIMAGE_TESTS=OFF -DPROGIMAGE_BENCH=ON >/dev/null
fi
cmake --build "$build" --target progimage transform_ceiling >/dev/null

work=$(mktemp -d /tmp/progimage-bench-jobs.XXXX)
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
base="http://127.0.0.1:$port"
src=tests/corpus/exif-orientation/Landscape_1.jpg
vips thumbnail "$src" "$work/hd.jpg[Q=85]" 1920 --height 1080 --size force >/dev/null

"$build/src/app/progimage" serve --listen "127.0.0.1:$port" --data "$work/data" --workers "$cores" \
  --cache-bytes 0 --log-level warn >"$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 100); do curl -sf "$base/healthz" >/dev/null && break; sleep 0.1; done

id=$(curl -sf --data-binary @"$work/hd.jpg" -H 'Content-Type: image/jpeg' "$base/v1/images" |
  python3 -c 'import sys, json; print(json.load(sys.stdin)["id"])')
# Let the image's own variants and working copies finish first: the job should have the workers alone.
queue_empty() {
  curl -sf "$base/metrics" | awk '/^progimage_job_queue_items/ {s += $2} END {exit !(s == 0)}'
}
for _ in $(seq 300); do queue_empty && break; sleep 0.1; done

# The ceiling runs before and after the job; their mean is the reference, so
# that a change of machine load during the run shows as a spread, not a ratio.
ceiling() {
  CEILING_WORKING_COPIES=1 "$build/bench/transform_ceiling" "$work/hd.jpg" "w=300&format=webp" "$n" "$cores" 2>/dev/null |
    awk '/images\/s/ {print $1}'
}
ceiling_before=$(ceiling)

python3 -c "import json, sys; print(json.dumps({'sources': [sys.argv[1]] * int(sys.argv[2]), 'params': 'w=300', 'format': 'webp'}))" \
  "$id" "$n" >"$work/job.json"
# Submitted and timed by one python process polling over a kept-alive
# connection: the poller must not take CPU from the workers it measures.
result=$(python3 bench/run_job.py "$port" "$work/job.json")
read -r job_rate job_status job_done job_failed _ <<<"$result"
ceiling_after=$(ceiling)
ceiling_rate=$(python3 -c "print(f'{($ceiling_before + $ceiling_after) / 2:.1f}')")

ratio=$(python3 -c "print(f'{$job_rate / $ceiling_rate:.2f}')")

echo "| $n x 1920x1080 JPEG -> w=300 WebP, $cores cores | items/s | vs ceiling |"
echo "|---|---|---|"
echo "| in-process libvips ceiling (transform_ceiling, $cores threads; before $ceiling_before, after $ceiling_after) | $ceiling_rate | 1.00 |"
echo "| POST /v1/jobs, $cores workers (job $job_status: $job_done done, $job_failed failed) | $job_rate | $ratio |"
