#!/usr/bin/env bash
# Working copies (issue 14), side by side in one run on loopback:
#   cold stored-image renders — ProgImage once the image's working copies exist,
#   ProgImage on a fresh upload whose copies do not exist yet (--working-copies
#   off: it decodes the original, as every render did before), a sharp server
#   (bench/sharp-server: decodes the original on every request) and the
#   in-process ceiling (bench/transform_ceiling) from the original and from the
#   copy the server would pick; peak RSS of ProgImage and sharp at 16 connections;
#   the upload cost including the copies (uploads until the queue is drained,
#   server CPU per upload, copies on and off); and the growth curve: cold 300 px
#   renders from 1, 4, 12, 24 and 48 MP sources.
#   bench/bench_working_copies.sh [seconds per run, default 10]
# Env: BUILD_DIR (default build/bench), BENCH_WAIT_MAX (seconds to wait for a
# quiet machine, default 600; 0 skips), CEILING_ITERS (default 200), UPLOADS (default 20).
# Prints Markdown tables; bench/RESULTS.md records runs.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
iters=${CEILING_ITERS:-200}
uploads=${UPLOADS:-20}
source bench/peers.sh working-copies
build_targets progimage transform_ceiling
(cd bench/sharp-server && { [[ -d node_modules/sharp ]] || npm ci --no-audit --no-fund >/dev/null 2>&1; })
wait_quiet "${BENCH_WAIT_MAX:-600}"

# Sources from the corpus photo, made with the vips CLI (smooth, camera-like).
photo=tests/corpus/exif-orientation/Landscape_1.jpg
img=$work/img
mkdir -p "$img"
vips thumbnail "$photo" "$img/hd.jpg[Q=90,strip]" 1920 --height 1080 --crop centre --size both
vips thumbnail "$photo" "$img/12mp.jpg[Q=90,strip]" 4000 --height 3000 --crop centre --size both
vips thumbnail "$photo" "$work/rgb.png" 1600 --height 1200 --crop centre --size both
# An alpha channel that is not flat: a horizontal ramp.
vips identity "$work/ramp.v" && vips resize "$work/ramp.v" "$work/ramp1600.v" 6.25 --vscale 1200 --kernel linear
vips bandjoin "$work/rgb.png $work/ramp1600.v" "$img/rgba.png"
for mp in 1 4 12 24 48; do
  w=$(awk -v mp="$mp" 'BEGIN {printf "%d", sqrt(mp * 1e6 * 3 / 2)}')
  vips thumbnail "$photo" "$img/growth$mp.jpg[Q=90,strip]" "$w" --height $((w * 2 / 3)) --crop centre --size both
done

start_progimage() {  # data dir, extra args... -> sets pi_pid, pi_port
  pi_port=$(free_port)
  "$build/src/app/progimage" serve --listen 127.0.0.1:$pi_port --data "$1" --cache-bytes 0 "${@:2}" >"$1.log" 2>&1 &
  pi_pid=$!
  pids+=("$pi_pid")
  wait_http "http://127.0.0.1:$pi_port/healthz"
}
stop() {  # stops one process this script started
  kill "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}
upload() {  # file -> id (on $pi_port)
  curl -fs --data-binary @"$1" -H 'Content-Type: application/octet-stream' "127.0.0.1:$pi_port/v1/images" |
    sed -E 's/.*"id":"([^"]+)".*/\1/'
}
wait_drained() {  # until the node's queue (variants, working copies) is empty
  for _ in $(seq 1200); do queue_empty "$pi_port" && return 0; sleep 0.1; done
  echo "warning: the queue did not drain" >&2
}
decodes_copy() {  # id query: true when /explain names a working copy
  curl -fs "127.0.0.1:$pi_port/v1/images/$1/explain?$2" | grep -q '"working_copy"'
}

rows=()
row() { rows+=("| $1 | $2 | $3 | $4 | $5 | $6 | $7 |"); }
declare -A rate rss

# name | file | ProgImage suffix | sharp query | ceiling query | base width for bench/vary_width.lua
scenarios=(
  "12 MP JPEG -> w=300 WebP|12mp.jpg|.webp?w=300|w=300&format=webp|w=300&format=webp|250"
  "1600x1200 RGBA PNG -> w=300 WebP|rgba.png|.webp?w=300|w=300&format=webp|w=300&format=webp|250"
  "1920x1080 JPEG -> w=300 JPEG|hd.jpg|.jpg?w=300|w=300&format=jpeg|w=300&format=jpeg|250"
)
cold_args=(-s bench/vary_width.lua)

for i in "${!scenarios[@]}"; do
  IFS='|' read -r name file pi_suffix sharp_q ceil_q vary <<<"${scenarios[$i]}"
  export VARY_BASE=$vary
  echo "scenario: $name" >&2
  for mode in copies fresh; do
    if [[ $mode == copies ]]; then
      start_progimage "$work/$mode$i"
      label="ProgImage cold, working copies made"
    else
      start_progimage "$work/$mode$i" --working-copies off
      label="ProgImage cold, first render (no working copy yet)"
    fi
    id=$(upload "$img/$file")
    wait_drained
    if [[ $mode == copies ]] && ! decodes_copy "$id" "${pi_suffix#*\?}"; then echo "warning: no working copy serves $name" >&2; fi
    reset_hwm "$pi_pid"
    read -r r p50 p99 errs <<<"$(wrk_run "http://127.0.0.1:$pi_port/v1/images/$id${pi_suffix/w=300/w=WIDTH}" "$secs" "${cold_args[@]}")"
    rate[${mode}_$i]=$r
    rss[${mode}_$i]=$(peak_rss_mb "$pi_pid")
    row "$name" "$label" "$r" "$p50" "$p99" "${rss[${mode}_$i]}" "$errs"
    stop "$pi_pid"
  done

  sport=$(free_port)
  PORT=$sport IMAGE_DIR="$img" node bench/sharp-server/server.js >"$work/sharp$i.log" 2>&1 &
  sharp_pid=$!
  pids+=("$sharp_pid")
  wait_http "http://127.0.0.1:$sport/resize?file=$file&$sharp_q"
  reset_hwm "$sharp_pid"
  read -r r p50 p99 errs <<<"$(wrk_run "http://127.0.0.1:$sport/resize?file=$file&${sharp_q/w=300/w=WIDTH}" "$secs" "${cold_args[@]}")"
  rate[sharp_$i]=$r
  rss[sharp_$i]=$(peak_rss_mb "$sharp_pid")
  row "$name" "sharp $(node -p 'require("./bench/sharp-server/node_modules/sharp/package.json").version'), node:cluster $(nproc) workers" \
    "$r" "$p50" "$p99" "${rss[sharp_$i]}" "$errs"
  stop "$sharp_pid"

  c=$("$build/bench/transform_ceiling" "$img/$file" "$ceil_q" "$iters" 2>/dev/null | tail -1 | awk '{print $1}')
  rate[ceiling_$i]=$c
  row "$name" "ceiling from the original: imaging::render in-process, $(nproc) threads" "$c" "–" "–" "–" "–"
  c=$(CEILING_WORKING_COPIES=1 "$build/bench/transform_ceiling" "$img/$file" "$ceil_q" "$((iters * 3))" 2>/dev/null |
    tail -1 | awk '{print $1}')
  rate[ceiling_copy_$i]=$c
  row "$name" "ceiling from the working copy, in-process" "$c" "–" "–" "–" "–"
done

echo "| scenario | server | req/s | p50 | p99 | peak RSS (MB) | errors |"
echo "|---|---|---:|---:|---:|---:|---:|"
printf '%s\n' "${rows[@]}"
echo
echo "| scenario | with copies / sharp | with copies / ceiling from the copy | first render / sharp | first render / ceiling from the original | RSS with copies / sharp |"
echo "|---|---:|---:|---:|---:|---:|"
for i in "${!scenarios[@]}"; do
  IFS='|' read -r name _ <<<"${scenarios[$i]}"
  echo "| $name | $(ratio "${rate[copies_$i]}" "${rate[sharp_$i]}") | $(ratio "${rate[copies_$i]}" "${rate[ceiling_copy_$i]}") |" \
    "$(ratio "${rate[fresh_$i]}" "${rate[sharp_$i]}") | $(ratio "${rate[fresh_$i]}" "${rate[ceiling_$i]}") |" \
    "$(ratio "${rss[copies_$i]}" "${rss[sharp_$i]}") |"
done
echo

# ---- the upload cost, copies included -------------------------------------------
# Distinct 12 MP uploads (a unique trailer after the JPEG's end marker), one
# at a time; the clock and the server's CPU run until the queue has drained.
echo "| upload of $uploads distinct 12 MP JPEGs, until the queue is drained | wall s | uploads/s | server CPU ms per upload | stored (MB) | working copies (MB) |"
echo "|---|---:|---:|---:|---:|---:|"
for mode in on off; do
  start_progimage "$work/uploads-$mode" --working-copies "$mode"
  cpu0=$(cpu_ms "$pi_pid")
  t0=$(date +%s.%N)
  for n in $(seq "$uploads"); do
    { cat "$img/12mp.jpg"; printf 'upload %s %s' "$mode" "$n"; } >"$work/one.jpg"
    upload "$work/one.jpg" >/dev/null
  done
  wait_drained
  t1=$(date +%s.%N)
  cpu1=$(cpu_ms "$pi_pid")
  stats=$(curl -fs "127.0.0.1:$pi_port/v1/stats")
  stored=$(sed -E 's/.*"bytes_stored":([0-9]+).*/\1/' <<<"$stats")
  copies=$(sed -E 's/.*"bytes_working_copies":([0-9]+).*/\1/' <<<"$stats")
  awk -v m="$mode" -v n="$uploads" -v t0="$t0" -v t1="$t1" -v c0="$cpu0" -v c1="$cpu1" -v s="$stored" -v w="$copies" \
    'BEGIN {printf "| working copies %s | %.1f | %.2f | %.0f | %.1f | %.1f |\n", m, t1 - t0, n / (t1 - t0), (c1 - c0) / n, s / 1e6, w / 1e6}'
  stop "$pi_pid"
done
echo

# ---- the growth curve ------------------------------------------------------------
echo "| source | req/s, copies made | req/s, first render (no copy) |"
echo "|---|---:|---:|"
declare -A growth
for mp in 1 4 12 24 48; do
  for mode in on off; do
    start_progimage "$work/growth$mp-$mode" --working-copies "$mode"
    id=$(upload "$img/growth$mp.jpg")
    wait_drained
    export VARY_BASE=250
    read -r r _ <<<"$(wrk_run "http://127.0.0.1:$pi_port/v1/images/$id.jpg?w=WIDTH" "$secs" "${cold_args[@]}")"
    growth[${mp}_$mode]=$r
    stop "$pi_pid"
  done
  echo "| $mp MP JPEG -> w=300 JPEG | ${growth[${mp}_on]} | ${growth[${mp}_off]} |"
done
spread() {  # mode: fastest / slowest over the sources
  printf '%s\n' "${growth[1_$1]}" "${growth[4_$1]}" "${growth[12_$1]}" "${growth[24_$1]}" "${growth[48_$1]}" |
    sort -g | awk 'NR == 1 {lo = $1} {hi = $1} END {if (lo > 0) printf "%.2f", hi / lo; else print "–"}'
}
echo "| fastest / slowest | $(spread on) | $(spread off) |"
echo
echo "load at end: $(cat /proc/loadavg)"
