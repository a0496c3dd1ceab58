#!/usr/bin/env bash
# Core data path benchmark (issue: core service): uploads/s and MB/s for
# 100 KB and 5 MB JPEGs at concurrency 8, and GET of an original against
# nginx serving the same file from disk, side by side in one run on loopback.
#   bench/bench_core.sh [seconds per run, default 10]
# Prints a Markdown table; bench/RESULTS.md records a run.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
scripts/install-deps.sh --bench
cmake -S . -B build/serve -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPROGIMAGE_TESTS=OFF >/dev/null
cmake --build build/serve --target progimage >/dev/null

work=$(mktemp -d /tmp/progimage-bench.XXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null ||
  shuf -i 20000-60000 -n 1; }

# Test images: a ~100 KB and a ~5 MB JPEG made from the corpus with libvips.
src=tests/corpus/exif-orientation/Landscape_1.jpg
vips thumbnail "$src" "$work/small.jpg[Q=85,strip]" 640 >/dev/null
vips resize "$src" "$work/big.jpg[Q=97]" 2.6 >/dev/null
small_kb=$(( $(stat -c %s "$work/small.jpg") / 1024 ))
big_kb=$(( $(stat -c %s "$work/big.jpg") / 1024 ))

port=$(free_port)
build/serve/src/app/progimage serve --listen 127.0.0.1:$port --data "$work/data" >"$work/server.log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do curl -fs "127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done

wrk_rate() { awk '/Requests\/sec/ {print $2}'; }
wrk_p50() { awk '/ 50%/ {print $2}'; }
wrk_p99() { awk '/ 99%/ {print $2}'; }

echo "| scenario | req/s | MB/s | p50 | p99 | note |"
echo "|---|---:|---:|---:|---:|---|"
for f in small big; do
  out=$(UPLOAD_FILE="$work/$f.jpg" wrk -t2 -c8 -d${secs}s --latency -s bench/upload.lua "http://127.0.0.1:$port/")
  rate=$(wrk_rate <<<"$out")
  size=$(stat -c %s "$work/$f.jpg")
  mbs=$(awk -v r="$rate" -v s="$size" 'BEGIN {printf "%.1f", r * s / 1048576}')
  kb=$([[ $f == small ]] && echo $small_kb || echo $big_kb)
  echo "| upload ${kb} KB JPEG, c=8 | $rate | $mbs | $(wrk_p50 <<<"$out") | $(wrk_p99 <<<"$out") | $(grep -o 'non2xx_or_errors=[0-9]*' <<<"$out") |"
done

# GET of an original: ProgImage against nginx serving the same bytes, once the
# background variants of the uploads above are made (they would share the cores).
queue_empty() {
  curl -fs "127.0.0.1:$port/metrics" | awk '/^progimage_job_queue_items/ {s += $2} END {exit !(s == 0)}'
}
for _ in $(seq 600); do queue_empty && break; sleep 0.2; done
id=$(curl -fs --data-binary @"$work/small.jpg" -H 'Content-Type: image/jpeg' "127.0.0.1:$port/v1/images" |
  sed -E 's/.*"id":"([^"]+)".*/\1/')
mkdir -p "$work/www"
chmod 755 "$work" "$work/www"  # nginx workers run as an unprivileged user (else every answer is a 403)
cp "$work/small.jpg" "$work/www/small.jpg"
nport=$(free_port)
cat >"$work/nginx.conf" <<NGINX
worker_processes 2;
pid $work/nginx.pid;
error_log $work/nginx-error.log;
events { worker_connections 1024; }
http {
  access_log $work/nginx-access.log;
  sendfile on; tcp_nopush on; keepalive_requests 100000;
  types { image/jpeg jpg; }
  server { listen 127.0.0.1:$nport; root $work/www; }
}
NGINX
nginx -c "$work/nginx.conf" -g 'daemon off;' &
pids+=($!)
sleep 0.5
declare -A get_rate
for target in "progimage http://127.0.0.1:$port/v1/images/$id" "nginx http://127.0.0.1:$nport/small.jpg"; do
  name=${target%% *}
  url=${target#* }
  # Both must answer the image itself: a fast error page is not a baseline.
  got=$(curl -s -o /dev/null -w '%{http_code} %{size_download}' "$url")
  if [[ $got != "200 $(stat -c %s "$work/small.jpg")" ]]; then
    echo "$name answered $got for $url, not the image" >&2
    exit 1
  fi
  wrk -t2 -c16 -d2s "$url" >/dev/null  # warm up
  out=$(wrk -t2 -c16 -d${secs}s --latency "$url")
  get_rate[$name]=$(wrk_rate <<<"$out")
  echo "| GET original ${small_kb} KB, $name, c=16 | ${get_rate[$name]} | | $(wrk_p50 <<<"$out") | $(wrk_p99 <<<"$out") | $(grep -o 'Non-2xx or 3xx responses: [0-9]*' <<<"$out") |"
done
awk -v a="${get_rate[progimage]}" -v b="${get_rate[nginx]}" 'BEGIN {printf "\nGET original: ProgImage / nginx = %.2f\n", a / b}'
