#!/usr/bin/env bash
# Similar-image query latency at 100,000 and 1,000,000 stored hashes (issue:
# tenants and access): bench/similar_index in one process, single-threaded,
# against a linear scan of the same hashes. Prints Markdown tables;
# bench/RESULTS.md records a run.
#   bench/bench_similar.sh [queries per case, default 2000] [sizes..., default 100000 1000000]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD_DIR:-build/bench}
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPROGIMAGE_TESTS=OFF -DPROGIMAGE_BENCH=ON >/dev/null
cmake --build "$build" --target similar_index >/dev/null
echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), load $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) cores"
exec "$build/bench/similar_index" "$@"
