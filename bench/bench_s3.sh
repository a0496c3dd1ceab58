#!/usr/bin/env bash
# S3 path against file path (issue 12): upload throughput, GET of a 5 MB
# original and cold transforms of one node on s3:// storage (s3rver on
# loopback, tests/s3, without the signature-checking proxy) as ratios to the
# same node on file:// storage, side by side in one run.
#   bench/bench_s3.sh [seconds per run, default 10]   (BUILD_DIR, default build/bench)
# s3rver is a Node.js server writing each object to its own files, far from
# a production store: the ratio bounds what the S3 path costs ProgImage
# itself from above. The derivative cache is off (--cache-bytes 0), so that
# every transform renders. Prints a Markdown table; bench/RESULTS.md records a run.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
source bench/peers.sh s3
build_targets progimage
start_s3

# start_node NAME STORAGE: sets node_port (no subshell: its pid must reach pids).
start_node() {
  local name=$1 storage=$2 port
  port=$(free_port)
  AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER "$build/src/app/progimage" serve \
    --listen "127.0.0.1:$port" --data "$work/$name" --storage "$storage" --cache-bytes 0 --log-level warn >"$work/$name.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
  node_port=$port
}
upload() {
  curl -sf --data-binary @"$2" -H 'Content-Type: image/jpeg' "http://127.0.0.1:$1/v1/images" |
    python3 -c 'import sys, json; print(json.load(sys.stdin)["id"])'
}
rate() { awk '/Requests\/sec/ {print $2}'; }

src=tests/corpus/exif-orientation/Landscape_1.jpg
vips thumbnail "$src" "$work/small.jpg[Q=85,strip]" 640 >/dev/null
vips resize "$src" "$work/big.jpg[Q=97]" 2.6 >/dev/null
vips thumbnail "$src" "$work/hd.jpg[Q=85]" 1920 --height 1080 --size force >/dev/null

declare -A result
for kind in file s3; do
  if [[ $kind == file ]]; then storage="file://$work/file-blobs"; else storage="s3://bench?endpoint=$s3&create_bucket=true"; fi
  start_node "$kind" "$storage"
  port=$node_port
  base="http://127.0.0.1:$port"
  result[$kind,upload]=$(UPLOAD_FILE="$work/small.jpg" wrk -t2 -c8 -d"${secs}s" -s bench/upload.lua "$base/" | rate)
  for _ in $(seq 600); do queue_empty "$port" && break; sleep 0.2; done
  big=$(upload "$port" "$work/big.jpg")
  hd=$(upload "$port" "$work/hd.jpg")
  for _ in $(seq 600); do queue_empty "$port" && break; sleep 0.2; done
  result[$kind,get]=$(wrk -t2 -c8 -d"${secs}s" "$base/v1/images/$big" | rate)
  # Cold renders: another width each time (bench/vary_width.lua) so that no cache answers.
  result[$kind,cold]=$(wrk -t2 -c8 -d"${secs}s" -s bench/vary_width.lua "$base/v1/images/$hd?w=WIDTH&format=webp" | rate)
  kill "${pids[-1]}"; wait "${pids[-1]}" 2>/dev/null || true
done

ratio() { python3 -c "print(f'{$1 / $2:.2f}')"; }
echo "| c=8, ${secs} s each | file:// req/s | s3:// req/s (s3rver on loopback) | s3 / file |"
echo "|---|---:|---:|---:|"
echo "| upload $(( $(stat -c %s "$work/small.jpg") / 1024 )) KB JPEG | ${result[file,upload]} | ${result[s3,upload]} | $(ratio "${result[s3,upload]}" "${result[file,upload]}") |"
echo "| GET original $(( $(stat -c %s "$work/big.jpg") / 1048576 )) MB JPEG | ${result[file,get]} | ${result[s3,get]} | $(ratio "${result[s3,get]}" "${result[file,get]}") |"
echo "| cold 1920x1080 JPEG -> w=250..349 WebP | ${result[file,cold]} | ${result[s3,cold]} | $(ratio "${result[s3,cold]}" "${result[file,cold]}") |"
