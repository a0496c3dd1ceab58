#!/usr/bin/env bash
# Installs everything ProgImage needs to build, run and test on Debian 12.
# Idempotent: packages already present are left alone.
set -euo pipefail

build_pkgs=(
  build-essential cmake ninja-build pkg-config git ca-certificates
  libvips-dev libvips-tools
  libboost1.81-dev libboost-url1.81-dev libboost-json1.81-dev
  libsqlite3-dev sqlite3 libpq-dev libcurl4-openssl-dev libssl-dev
  libspdlog-dev libfmt-dev libcli11-dev libtomlplusplus-dev libjwt-dev
)
test_pkgs=(
  libgtest-dev libgmock-dev libbenchmark-dev
  clang-14 libclang-rt-14-dev
  curl procps
  postgresql-15 postgresql-client-15
  # The S3 store's tests: the AWS CLI reads back what the store wrote, and a
  # small proxy checks every request's SigV4 signature with botocore.
  awscli python3-botocore
  # The cluster test puts the project's nginx configuration in front of its nodes.
  nginx-light
)
# Node.js and npm run the real tus-js-client of the resumable-upload tests
# (tests/tus). A machine that has them already (Debian's, or a vendor's
# nodejs that carries npm) keeps its own: Debian's npm would not install
# beside the latter.
node_pkgs=(nodejs npm)

bench_pkgs=(wrk nginx-light curl python3)

want=("${build_pkgs[@]}")
case ${1:-} in
  --test)
    want+=("${test_pkgs[@]}")
    command -v node >/dev/null && command -v npm >/dev/null || want+=("${node_pkgs[@]}")
    ;;
  --bench) want+=("${bench_pkgs[@]}") ;;
esac

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  SUDO=""; [[ $(id -u) == 0 ]] || SUDO="sudo"
  # The tests start PostgreSQL servers of their own (tests/postgres): the
  # package need not make and start a system cluster on port 5432.
  if [[ " ${missing[*]} " == *" postgresql-15 "* && ! -e /etc/postgresql-common/createcluster.d/progimage.conf ]]; then
    $SUDO mkdir -p /etc/postgresql-common/createcluster.d
    echo "create_main_cluster = false" | $SUDO tee /etc/postgresql-common/createcluster.d/progimage.conf >/dev/null
  fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -q
  $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
