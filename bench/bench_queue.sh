#!/usr/bin/env bash
# The job queue without image work (issue 12): job items per second through
# claims and completions alone, 1, 2 and 4 workers, on SQLite and on
# PostgreSQL (a durable server of this run's own: fsync and synchronous
# commit on), each with the pool's protocol (a completion brings the next
# claim in its transaction) and with a claim and a completion apart.
#   bench/bench_queue.sh [items, default 20000] [rounds, default 3]   (BUILD_DIR, default build/bench)
# Prints one Markdown table of the best round per cell; bench/RESULTS.md
# records a run beside River's and pgmq's published figures.
set -euo pipefail
cd "$(dirname "$0")/.."
items=${1:-20000}
rounds=${2:-3}
source bench/peers.sh queue
build_targets job_queue
start_postgres

for round in $(seq "$rounds"); do
  rm -f "$work"/queue.db*
  "$build/bench/job_queue" "sqlite://$work/queue.db" "$items" 1 2 4 | sed 's/^/sqlite\t/'
  "$build/bench/job_queue" "$(new_database queue)" "$items" 1 2 4 | sed 's/^/postgresql\t/'
done >"$work/rates.tsv"

echo "| catalog | workers | completion + next claim in one transaction (items/s) | claim and completion apart (items/s) | ratio |"
echo "|---|---|---|---|---|"
awk -F'\t' '{k = $1 "\t" $2; if ($4 + 0 > best[k, $3] + 0) best[k, $3] = $4 + 0; keys[k] = 1}
  END {for (k in keys) {split(k, p, "\t"); c = best[k, "chained"]; s = best[k, "separate"];
       printf "| %s | %s | %.0f | %.0f | %.2f |\n", p[1], p[2], c, s, (s > 0 ? c / s : 0)}}' "$work/rates.tsv" | sort
