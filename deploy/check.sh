#!/usr/bin/env bash
# Static checks of the files in deploy/, with whichever tools this machine has:
# systemd-analyze (systemd), nginx -t (nginx-light), promtool (prometheus),
# python3 with PyYAML. Starts no server. Prints one line per check.
set -uo pipefail
cd "$(dirname "$0")"
tmp=$(mktemp -d) && trap 'rm -rf "$tmp"' EXIT
failed=0
check() {  # NAME COMMAND...
  if out=$("${@:2}" 2>&1) && ! grep -qiE 'unknown|warning|\[emerg\]' <<<"$out"; then echo "ok      $1"
  else echo "FAILED  $1"; sed 's/^/        /' <<<"$out"; failed=1; fi
}
skip() { echo "skipped $1 ($2 not found)"; }

if command -v systemd-analyze >/dev/null; then
  # ExecStart must name an executable: the built one, if there is no installed one.
  bin=${PROGIMAGE:-/usr/local/bin/progimage}
  for f in systemd/progimage.service systemd/progimage@.service; do
    sed "s#/usr/local/bin/progimage#$bin#" "$f" >"$tmp/${f#systemd/}"
  done
  check "systemd progimage.service" systemd-analyze verify "$tmp/progimage.service"
  check "systemd progimage@api.service" systemd-analyze verify "$tmp/progimage@api.service"
else skip systemd systemd-analyze; fi

if command -v nginx >/dev/null; then
  mkdir -p "$tmp/ngx/logs" "$tmp/ngx/cache"
  sed "s#/var/cache/nginx/progimage#$tmp/ngx/cache#; s#/var/log/nginx/#$tmp/ngx/logs/#" \
    nginx/progimage.conf >"$tmp/ngx/progimage.conf"
  cat >"$tmp/ngx/nginx.conf" <<EOF
error_log $tmp/ngx/logs/error.log;
pid $tmp/ngx/nginx.pid;
events {}
http {
  client_body_temp_path $tmp/ngx/body; proxy_temp_path $tmp/ngx/proxy; fastcgi_temp_path $tmp/ngx/f;
  uwsgi_temp_path $tmp/ngx/u; scgi_temp_path $tmp/ngx/s;
  include $tmp/ngx/progimage.conf;
}
EOF
  check "nginx progimage.conf" nginx -t -p "$tmp/ngx" -c "$tmp/ngx/nginx.conf"
else skip nginx nginx; fi

if command -v promtool >/dev/null; then
  check "prometheus.yml and alerts.yml" promtool check config prometheus/prometheus.yml
  check "alert rule tests" promtool test rules prometheus/alerts_test.yml
else skip prometheus promtool; fi

check "compose.yaml is YAML" python3 -c 'import sys, yaml; yaml.safe_load(open(sys.argv[1]))' docker/compose.yaml
check "dashboard is JSON" python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); assert d["panels"]' \
  grafana/progimage-dashboard.json
exit $failed
