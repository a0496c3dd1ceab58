#!/usr/bin/env bash
# progimage-cli upload (issue 13, "Benchmarks"): N small distinct images
# (64x64 PNGs of noise, ~12 KB) uploaded by `progimage-cli upload DIR` at
# concurrency 1, 4 and 16, against a shell loop of `curl -F` uploads (one
# process and one connection per image), each run against a fresh server on
# a free port (its own data directory, so nothing is a duplicate; --workers 0,
# so background variants do not compete with the uploads), loopback.
#   bench/bench_cli_upload.sh [images, default 1000] [rounds, default 3]   (BUILD_DIR, default build/bench)
# Prints one Markdown table of the best round per client; goal: the CLI at
# 16 at least 3x the curl loop. Its last row is the server's own ceiling for
# these uploads: wrk at 16 connections (raw bodies of the same PNG made new by
# a trailer, bench/upload.lua), which no client can pass. bench/RESULTS.md
# records a run.
set -euo pipefail
cd "$(dirname "$0")/.."
images=${1:-1000}
rounds=${2:-3}
source bench/peers.sh cli-upload
build_targets progimage progimage-cli
server_bin=$build/src/app/progimage
cli=$build/client/cli/progimage-cli

# Distinct images: each PNG's pixels come from its own seed.
python3 - "$work/images" "$images" <<'PY'
import os, random, struct, sys, zlib
out, count = sys.argv[1], int(sys.argv[2])
os.makedirs(out)
def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xffffffff)
for i in range(count):
    rng = random.Random(i)
    rows = b"".join(b"\0" + bytes(rng.getrandbits(8) for _ in range(64 * 3)) for _ in range(64))
    png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 64, 64, 8, 2, 0, 0, 0)) +
           chunk(b"IDAT", zlib.compress(rows, 6)) + chunk(b"IEND", b""))
    with open(os.path.join(out, "img-%05d.png" % i), "wb") as f:
        f.write(png)
PY

# start_server NAME: a fresh server; sets port (no subshell: its pid must reach pids).
start_server() {
  port=$(free_port)
  "$server_bin" serve --listen "127.0.0.1:$port" --data "$work/$1" --workers 0 >"$work/$1.log" 2>&1 &
  server_pid=$!
  pids+=("$server_pid")
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && return; sleep 0.1; done
  echo "server $1 did not start:" >&2
  tail "$work/$1.log" >&2
  exit 1
}
stop_server() { kill "$server_pid"; wait "$server_pid" 2>/dev/null || true; }
now() { date +%s.%N; }

curl_loop() {
  local f
  for f in "$work"/images/*.png; do
    curl -sf -o /dev/null -F "file=@$f;type=image/png" "http://127.0.0.1:$port/v1/images"
  done
}

cli_upload() { # concurrency
  "$cli" --server "http://127.0.0.1:$port" upload "$work/images" --concurrency "$1" --json >"$work/cli.json"
  local stored
  stored=$(tail -1 "$work/cli.json" | python3 -c 'import json,sys; print(json.load(sys.stdin)["summary"]["stored"])')
  [[ $stored == "$images" ]] || { echo "the CLI stored $stored of $images" >&2; exit 1; }
}

# The server's ceiling: uploads per second that wrk gets in 5 s.
wrk_ceiling() {
  sed 's#image/jpeg#image/png#' bench/upload.lua >"$work/upload_png.lua"
  UPLOAD_FILE="$work/images/img-00000.png" wrk -t2 -c16 -d5s -s "$work/upload_png.lua" "http://127.0.0.1:$port/" |
    awk '/Requests\/sec/ {print $2}'
}

# One line per run: client, concurrency, seconds (wrk: uploads per second).
for round in $(seq "$rounds"); do
  start_server "wrk-$round"
  echo "wrk-rate $(wrk_ceiling)"
  stop_server
  for client in curl cli-1 cli-4 cli-16; do
    start_server "$client-$round"
    t0=$(now)
    case $client in
      curl) curl_loop ;;
      cli-*) cli_upload "${client#cli-}" ;;
    esac
    t1=$(now)
    count=$(curl -sf "http://127.0.0.1:$port/v1/stats" | python3 -c 'import json,sys; print(json.load(sys.stdin)["images"])')
    [[ $count == "$images" ]] || { echo "$client: the server holds $count of $images images" >&2; exit 1; }
    stop_server
    echo "$client $(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.3f", b - a}')"
  done
done >"$work/runs.txt"

echo "| client | concurrency | images | best seconds | images/s | vs the curl loop |"
echo "|---|---|---|---|---|---|"
awk -v n="$images" '
  $1 == "wrk-rate" {if ($2 > wrk) wrk = $2; next}
  {if (!($1 in best) || $2 < best[$1]) best[$1] = $2}
  END {
    base = n / best["curl"]
    split("curl cli-1 cli-4 cli-16", order, " ")
    for (i = 1; i <= 4; i++) {
      c = order[i]; rate = n / best[c]
      printf "| %s | %s | %d | %.2f | %.0f | %.2fx |\n", (c == "curl" ? "curl -F loop" : "progimage-cli upload"),
             (c == "curl" ? "1" : substr(c, 5)), n, best[c], rate, rate / base
    }
    printf "| wrk (the server'"'"'s ceiling for these uploads) | 16 | 5 s | — | %.0f | %.2fx |\n", wrk, wrk / base
  }' "$work/runs.txt"
