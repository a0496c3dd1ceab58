#!/usr/bin/env bash
# Transformation benchmark (issue 3), side by side in one run on loopback:
#   ProgImage (cold: --cache-bytes 0, every request renders; warm: derivative cache hit),
#   a sharp server (bench/sharp-server, node:cluster over all cores),
#   the in-process ceiling (bench/transform_ceiling: imaging::render on all cores, no HTTP),
#   nginx serving the same output file (the ceiling for a warm hit).
# Scenarios: 1920x1080 JPEG -> w=300 JPEG; 4000x3000 JPEG -> w=300 WebP; 1920x1080 -> w=512 AVIF.
#   bench/bench_transform.sh [seconds per run, default 10]
# Env: BUILD_DIR (default build/bench), BENCH_WAIT_MAX seconds to wait for a quiet machine
# (default 1200; 0 to skip), CEILING_ITERS (default 200).
# Prints a Markdown table and ratios; bench/RESULTS.md records a run.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
build=${BUILD_DIR:-build/bench}
wait_max=${BENCH_WAIT_MAX:-1200}
iters=${CEILING_ITERS:-200}

if [[ ! -x $build/src/app/progimage || ! -x $build/bench/transform_ceiling ]]; then
  cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPROGIMAGE_TESTS=OFF -DPROGIMAGE_BENCH=ON >/dev/null
fi
cmake --build "$build" --target progimage transform_ceiling -- -j2 >/dev/null
(cd bench/sharp-server && { [[ -d node_modules/sharp ]] || npm ci --no-audit --no-fund >/dev/null 2>&1 || npm install --no-audit --no-fund >/dev/null; })

work=$(mktemp -d /tmp/progimage-bench-transform.XXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
stop() {  # stop one server started by this script, by its pid
  kill "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
  local keep=()
  for p in "${pids[@]}"; do [[ $p == "$1" ]] || keep+=("$p"); done
  pids=("${keep[@]}")
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_http() { for _ in $(seq 100); do curl -fs -o /dev/null "$1" && return 0; sleep 0.1; done; echo "no answer from $1" >&2; return 1; }
# Peak RSS in MB of a process and all its descendants (sum of VmHWM).
tree_pids() { echo "$1"; for c in $(ps -o pid= --ppid "$1"); do tree_pids "$c"; done; }
peak_rss_mb() {
  local kb=0 p v
  for p in $(tree_pids "$1"); do
    v=$(awk '/^VmHWM:/ {print $2}' "/proc/$p/status" 2>/dev/null || echo 0)
    kb=$((kb + ${v:-0}))
  done
  awk -v k="$kb" 'BEGIN {printf "%.0f", k / 1024}'
}

# Wait for a quiet machine: other engineers compile on the same two cores.
waited=0
while (( wait_max > 0 )); do
  load=$(cut -d' ' -f1 /proc/loadavg)
  awk -v l="$load" 'BEGIN {exit !(l < 0.7)}' && break
  if (( waited >= wait_max )); then echo "warning: 1-minute load still $load after ${waited}s; measuring anyway" >&2; break; fi
  echo "waiting for a quiet machine (1-minute load $load)" >&2
  sleep 30
  waited=$((waited + 30))
done
echo "load at start: $(cat /proc/loadavg)" >&2

# Test images from the corpus, made with the vips CLI.
src=tests/corpus/exif-orientation/Landscape_1.jpg
mkdir -p "$work/img" "$work/www"
chmod 755 "$work" "$work/www"  # nginx workers run as an unprivileged user
vips thumbnail "$src" "$work/img/hd.jpg[Q=90,strip]" 1920 --height 1080 --crop centre --size both
vips thumbnail "$src" "$work/img/big.jpg[Q=90,strip]" 4000 --height 3000 --crop centre --size both

# name | source file | ProgImage path suffix | sharp query | ceiling query | extension
scenarios=(
  "1920x1080 JPEG -> w=300 JPEG|hd.jpg|.jpg?w=300|w=300&format=jpeg|w=300&format=jpeg|jpg|250"
  "4000x3000 JPEG -> w=300 WebP|big.jpg|.webp?w=300|w=300&format=webp|w=300&format=webp|webp|250"
  "1920x1080 JPEG -> w=512 AVIF|hd.jpg|.avif?w=512|w=512&format=avif|w=512&format=avif|avif|462"
)

# Resets the peak-RSS mark of a process tree, so that uploads before a run do not count.
reset_hwm() { for p in $(tree_pids "$1"); do echo 5 >"/proc/$p/clear_refs" 2>/dev/null || true; done; }

run_wrk() {  # url [wrk args...] -> "req/s p50 p99 errors"
  wrk -t2 -c16 -d2s --timeout 30s "${@:2}" "$1" >/dev/null  # warm up
  local out
  out=$(wrk -t2 -c16 -d${secs}s --timeout 30s --latency "${@:2}" "$1")
  local rate p50 p99 errs
  rate=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
  p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
  errs=$(awk '/Non-2xx/ {n += $NF} /Socket errors/ {for (i = 4; i <= NF; i += 2) n += $i} END {print n + 0}' <<<"$out")
  echo "$rate $p50 $p99 $errs"
}

start_progimage() {  # data dir, extra args... -> sets pi_pid, pi_port
  pi_port=$(free_port)
  "$build/src/app/progimage" serve --listen 127.0.0.1:$pi_port --data "$1" "${@:2}" >"$1.log" 2>&1 &
  pi_pid=$!
  pids+=("$pi_pid")
  wait_http "http://127.0.0.1:$pi_port/healthz"
}
upload() {  # port file -> id
  curl -fs --data-binary @"$2" -H 'Content-Type: image/jpeg' "127.0.0.1:$1/v1/images" |
    sed -E 's/.*"id":"([^"]+)".*/\1/'
}

rows=()
declare -A rate
row() { rows+=("| $1 | $2 | $3 | $4 | $5 | $6 | $7 |"); }

for i in "${!scenarios[@]}"; do
  IFS='|' read -r name file pi_suffix sharp_q ceil_q ext vary <<<"${scenarios[$i]}"
  # Cold runs: each request another width (vary..vary+99, averaging the target), see bench/vary_width.lua.
  cold_args=(-s bench/vary_width.lua)
  export VARY_BASE=$vary
  target_w=$(sed -E 's/.*w=([0-9]+).*/\1/' <<<"$pi_suffix")
  echo "scenario: $name" >&2

  # ProgImage, cold: the cache is off, every request decodes, resizes and encodes.
  start_progimage "$work/cold$i" --cache-bytes 0
  id=$(upload "$pi_port" "$work/img/$file")
  reset_hwm "$pi_pid"
  read -r r p50 p99 errs <<<"$(run_wrk "http://127.0.0.1:$pi_port/v1/images/$id${pi_suffix/w=$target_w/w=WIDTH}" "${cold_args[@]}")"
  rate[pi_cold_$i]=$r
  row "$name" "ProgImage cold (--cache-bytes 0)" "$r" "$p50" "$p99" "$(peak_rss_mb "$pi_pid")" "$errs"
  stop "$pi_pid"

  # sharp, cold.
  sport=$(free_port)
  PORT=$sport IMAGE_DIR="$work/img" node bench/sharp-server/server.js >"$work/sharp$i.log" 2>&1 &
  sharp_pid=$!
  pids+=("$sharp_pid")
  wait_http "http://127.0.0.1:$sport/resize?file=$file&$sharp_q"
  read -r r p50 p99 errs <<<"$(run_wrk "http://127.0.0.1:$sport/resize?file=$file&${sharp_q/w=$target_w/w=WIDTH}" "${cold_args[@]}")"
  rate[sharp_$i]=$r
  row "$name" "sharp $(node -p 'require("./bench/sharp-server/node_modules/sharp/package.json").version'), node:cluster $(nproc) workers" \
    "$r" "$p50" "$p99" "$(peak_rss_mb "$sharp_pid")" "$errs"
  stop "$sharp_pid"

  # The in-process ceiling: the same imaging::render on every core, no HTTP.
  c=$("$build/bench/transform_ceiling" "$work/img/$file" "$ceil_q" "$iters" 2>/dev/null | tail -1 | awk '{print $1}')
  rate[ceiling_$i]=$c
  row "$name" "ceiling: imaging::render in-process, $(nproc) threads" "$c" "–" "–" "–" "–"

  # ProgImage, warm: a derivative cache hit; against nginx serving the same output file.
  start_progimage "$work/warm$i"
  id=$(upload "$pi_port" "$work/img/$file")
  url="http://127.0.0.1:$pi_port/v1/images/$id$pi_suffix"
  curl -fs -o "$work/www/out$i.$ext" "$url"
  [[ $(curl -fs -o /dev/null -D - "$url" | tr -d '\r' | awk -F': ' 'tolower($1) == "x-cache" {print $2}') == hit ]] ||
    echo "warning: the warm URL is not a cache hit" >&2
  reset_hwm "$pi_pid"
  read -r r p50 p99 errs <<<"$(run_wrk "$url")"
  rate[pi_warm_$i]=$r
  row "$name" "ProgImage warm (derivative hit)" "$r" "$p50" "$p99" "$(peak_rss_mb "$pi_pid")" "$errs"
  stop "$pi_pid"

  nport=$(free_port)
  cat >"$work/nginx.conf" <<NGINX
worker_processes $(nproc);
pid $work/nginx.pid;
error_log $work/nginx-error.log;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on; tcp_nopush on; keepalive_requests 100000;
  types { image/jpeg jpg; image/webp webp; image/avif avif; }
  server { listen 127.0.0.1:$nport; root $work/www; }
}
NGINX
  nginx -c "$work/nginx.conf" -g 'daemon off;' 2>>"$work/nginx-error.log" &
  nginx_pid=$!
  pids+=("$nginx_pid")
  wait_http "http://127.0.0.1:$nport/out$i.$ext"
  read -r r p50 p99 errs <<<"$(run_wrk "http://127.0.0.1:$nport/out$i.$ext")"
  rate[nginx_$i]=$r
  row "$name" "nginx $(nginx -v 2>&1 | sed 's/.*nginx\///'), same output file" "$r" "$p50" "$p99" "$(peak_rss_mb "$nginx_pid")" "$errs"
  stop "$nginx_pid"
done

echo "| scenario | server | req/s | p50 | p99 | peak RSS (MB) | errors |"
echo "|---|---|---:|---:|---:|---:|---:|"
printf '%s\n' "${rows[@]}"
echo
echo "| scenario | cold ProgImage / sharp | cold ProgImage / ceiling | warm ProgImage / nginx |"
echo "|---|---:|---:|---:|"
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (b > 0) printf "%.2f", a / b; else print "–"}'; }
for i in "${!scenarios[@]}"; do
  IFS='|' read -r name _ <<<"${scenarios[$i]}"
  echo "| $name | $(ratio "${rate[pi_cold_$i]}" "${rate[sharp_$i]}") | $(ratio "${rate[pi_cold_$i]}" "${rate[ceiling_$i]}") | $(ratio "${rate[pi_warm_$i]}" "${rate[nginx_$i]}") |"
done
echo
echo "load at end: $(cat /proc/loadavg)"
