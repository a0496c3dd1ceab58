#!/usr/bin/env bash
# The S3 test peer as a long-lived pair of processes, for a whole test run
# (CTest fixture "s3"): s3rver on a free loopback port behind sigv4_proxy.py,
# which checks every request's SigV4 signature with botocore.
#   server.sh start DIR   writes DIR/endpoint (the proxy's URL), DIR/s3rver_endpoint
#                         (s3rver's own, for benchmarks), DIR/pids
#   server.sh stop DIR    stops both by their process ids, removes their files
# Buckets are made by whoever uses the peer (s3://NAME?create_bucket=true).
# The access key and secret are s3rver's fixed S3RVER / S3RVER.
set -euo pipefail
cmd=${1:?start or stop}
dir=${2:?directory}
here=$(cd "$(dirname "$0")" && pwd)

# Waits until LOG names the port after MARKER; prints it.
port_from() {
  local log=$1 marker=$2 pid=$3
  for _ in $(seq 1 300); do
    if grep -q "$marker" "$log" 2>/dev/null; then
      grep -o "$marker[0-9]*" "$log" | tail -1 | sed "s/$marker//"
      return 0
    fi
    kill -0 "$pid" 2>/dev/null || { echo "server.sh: exited at start:" >&2; cat "$log" >&2; return 1; }
    sleep 0.1
  done
  echo "server.sh: did not start in 30 s:" >&2
  cat "$log" >&2
  return 1
}

start() {
  [[ -x $here/node_modules/.bin/s3rver ]] || {
    echo "server.sh: s3rver is not installed: run npm ci in $here" >&2; exit 1; }
  stop
  mkdir -p "$dir/s3rver"
  # Node 20 needs the legacy provider for s3rver's listings with a continuation token.
  NODE_OPTIONS=--openssl-legacy-provider http_proxy='' setsid "$here/node_modules/.bin/s3rver" \
    -d "$dir/s3rver" -a 127.0.0.1 -p 0 --no-vhost-buckets --silent >"$dir/s3rver.log" 2>&1 &
  local s3rver=$!
  echo "$s3rver" >"$dir/pids"
  local s3port proxyport
  s3port=$(port_from "$dir/s3rver.log" "S3rver listening on 127.0.0.1:" "$s3rver")
  http_proxy='' setsid /usr/bin/python3 "$here/sigv4_proxy.py" --upstream "http://127.0.0.1:$s3port" \
    --s3rver-dir "$dir/s3rver" >"$dir/proxy.log" 2>&1 &
  local proxy=$!
  echo "$proxy" >>"$dir/pids"
  proxyport=$(port_from "$dir/proxy.log" "sigv4 proxy listening on 127.0.0.1:" "$proxy")
  echo "http://127.0.0.1:$proxyport" >"$dir/endpoint"
  echo "http://127.0.0.1:$s3port" >"$dir/s3rver_endpoint"
  echo "s3rver $s3rver on 127.0.0.1:$s3port behind the SigV4 proxy $proxy on 127.0.0.1:$proxyport"
}

stop() {
  if [[ -f $dir/pids ]]; then
    local pid
    while read -r pid; do
      kill -TERM "$pid" 2>/dev/null || true
      for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -KILL "$pid" 2>/dev/null || true
    done <"$dir/pids"
  fi
  rm -rf "$dir"
}

case $cmd in
  start) start ;;
  stop) stop ;;
  *) echo "usage: server.sh start|stop DIR" >&2; exit 2 ;;
esac
