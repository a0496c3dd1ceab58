#!/usr/bin/env bash
# Cost of authentication and rate limits on the hot path (issue: tenants and
# access): cached-derivative GETs on an open server against the same GETs on
# a server where every request carries a managed key with a rate limit (high
# enough never to refuse), and a bearer JWT; one run, loopback, rounds
# alternated so that neither side gets the warmer machine.
#   bench/bench_auth.sh [seconds per run, default 10] [rounds, default 3]
# Prints a Markdown table; bench/RESULTS.md records a run.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
rounds=${2:-3}
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

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_up() { for _ in $(seq 100); do curl -fs "127.0.0.1:$1/healthz" >/dev/null && return; sleep 0.1; done; exit 1; }

src=tests/corpus/exif-orientation/Landscape_1.jpg
vips thumbnail "$src" "$work/small.jpg[Q=85,strip]" 640 >/dev/null
operator=bench-operator-key-0123456789
jwt_secret=bench-jwt-secret-of-at-least-32-bytes-0123

open_port=$(free_port)
build/serve/src/app/progimage serve --listen 127.0.0.1:$open_port --data "$work/open" --workers 0 >"$work/open.log" 2>&1 &
pids+=($!)
open_pid=$!
keyed_port=$(free_port)
build/serve/src/app/progimage serve --listen 127.0.0.1:$keyed_port --data "$work/keyed" --workers 0 \
  --api-key "$operator:admin:*" --jwt-secret "$jwt_secret" --token-rate-limit 10000000:10000000 >"$work/keyed.log" 2>&1 &
pids+=($!)
keyed_pid=$!
wait_up $open_port
wait_up $keyed_port

# A managed key of tenant "bench" with a rate limit far above what one run can send.
key=$(curl -fs -H "Authorization: Bearer $operator" -H 'Content-Type: application/json' \
  -d '{"role": "read", "tenant": "bench", "rate_limit": {"per_second": 10000000, "burst": 10000000}}' \
  "127.0.0.1:$keyed_port/v1/keys" | python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])')
token=$(python3 - "$jwt_secret" <<'PY'
import base64, hashlib, hmac, json, sys, time
b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=")
head = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
body = b64(json.dumps({"sub": "bench", "exp": int(time.time()) + 3600, "scope": "read", "tenant": "bench"}).encode())
sig = b64(hmac.new(sys.argv[1].encode(), head + b"." + body, hashlib.sha256).digest())
print((head + b"." + body + b"." + sig).decode())
PY
)
upload() { # port, auth header
  curl -fs --data-binary @"$work/small.jpg" -H 'Content-Type: image/jpeg' "${@:2}" "127.0.0.1:$1/v1/images" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])'
}
open_id=$(upload $open_port)
keyed_id=$(upload $keyed_port -H "Authorization: Bearer $operator" -H "X-ProgImage-Tenant: bench")
path_of() { echo "/v1/images/$1?w=300&h=200&fit=cover&format=webp"; }
warm() { # port path [curl args]: renders once, then it must be a cache hit
  curl -fs -o /dev/null "${@:3}" "127.0.0.1:$1$2"
  [[ $(curl -fs -o /dev/null -w '%header{x-cache}' "${@:3}" "127.0.0.1:$1$2") == hit ]]
}
warm $open_port "$(path_of $open_id)"
warm $keyed_port "$(path_of $keyed_id)" -H "Authorization: Bearer $key"

run() { # port path [header]
  local args=(-t2 -c32 -d${secs}s --latency)
  [[ -n ${3:-} ]] && args+=(-H "$3")
  wrk "${args[@]}" "http://127.0.0.1:$1$2"
}
rate() { awk '/Requests\/sec/ {print $2}'; }
requests() { awk '/requests in/ {print $1}'; }
# The server's CPU time (user + system, clock ticks) and its cost per request
# in microseconds: steadier than req/s when wrk and the server share two cores.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
per_request_us() { awk -v t="$1" -v n="$2" -v hz="$(getconf CLK_TCK)" 'BEGIN {printf "%.1f", t / hz * 1e6 / n}'; }
measure() { # pid port path [header]: wrk's report, then "CPU-us-per-request"
  local before out
  before=$(cpu_ticks "$1")
  out=$(run "${@:2}")
  echo "$out"
  echo "cpu $(per_request_us $(($(cpu_ticks "$1") - before)) "$(requests <<<"$out")")"
}
cpu() { awk '/^cpu / {print $2}'; }
p99() { awk '/ 99%/ {print $2}'; }
non2xx() { awk '/Non-2xx/ {n = $4} END {print n + 0}'; }

declare -A sum=()
echo "| round | open req/s | key + rate limit req/s | JWT + rate limit req/s | key/open | JWT/open | p99 open / key / JWT | server CPU µs/request open / key / JWT | refused |"
echo "|---:|---:|---:|---:|---:|---:|---|---|---|"
for r in $(seq "$rounds"); do
  o=$(measure $open_pid $open_port "$(path_of $open_id)")
  k=$(measure $keyed_pid $keyed_port "$(path_of $keyed_id)" "Authorization: Bearer $key")
  j=$(measure $keyed_pid $keyed_port "$(path_of $keyed_id)" "Authorization: Bearer $token")
  ro=$(rate <<<"$o"); rk=$(rate <<<"$k"); rj=$(rate <<<"$j")
  refused="$(non2xx <<<"$o")/$(non2xx <<<"$k")/$(non2xx <<<"$j")"
  printf '| %s | %s | %s | %s | %.3f | %.3f | %s / %s / %s | %s / %s / %s | %s |\n' "$r" "$ro" "$rk" "$rj" \
    "$(awk -v a="$rk" -v b="$ro" 'BEGIN {print a / b}')" "$(awk -v a="$rj" -v b="$ro" 'BEGIN {print a / b}')" \
    "$(p99 <<<"$o")" "$(p99 <<<"$k")" "$(p99 <<<"$j")" "$(cpu <<<"$o")" "$(cpu <<<"$k")" "$(cpu <<<"$j")" "${refused:-0}"
  sum[o]=$(awk -v a="${sum[o]:-0}" -v b="$ro" 'BEGIN {print a + b}')
  sum[k]=$(awk -v a="${sum[k]:-0}" -v b="$rk" 'BEGIN {print a + b}')
  sum[j]=$(awk -v a="${sum[j]:-0}" -v b="$rj" 'BEGIN {print a + b}')
done
printf '| all | %.0f | %.0f | %.0f | %.3f | %.3f | | | |\n' "$(awk -v a="${sum[o]}" -v n="$rounds" 'BEGIN {print a / n}')" \
  "$(awk -v a="${sum[k]}" -v n="$rounds" 'BEGIN {print a / n}')" "$(awk -v a="${sum[j]}" -v n="$rounds" 'BEGIN {print a / n}')" \
  "$(awk -v a="${sum[k]}" -v b="${sum[o]}" 'BEGIN {print a / b}')" "$(awk -v a="${sum[j]}" -v b="${sum[o]}" 'BEGIN {print a / b}')"
