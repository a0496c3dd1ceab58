#!/usr/bin/env bash
# clients.install: the SDK as a user gets it. Installs the build into a
# temporary prefix, builds client/examples out of tree against it
# (find_package(ProgImage)), builds one example by pkg-config alone, and runs
# both against a server started here on port 0 and stopped by its pid.
#
#   install_test.sh BUILD_DIR EXAMPLES_DIR SERVER_BINARY IMAGE
set -euo pipefail
build_dir=$1 examples_dir=$2 server=$3 image=$4

work=$(mktemp -d "${TMPDIR:-/tmp}/progimage-install-XXXXXX")
server_pid=
cleanup() {
  if [[ -n $server_pid ]]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

prefix=$work/prefix
cmake --install "$build_dir" --prefix "$prefix" >"$work/install.log" || { cat "$work/install.log"; fail "cmake --install"; }
for f in include/progimage/client.hpp include/progimage/progimage.hpp; do
  [[ -f $prefix/$f ]] || fail "$f is not installed"
done
config=$(find "$prefix" -name ProgImageConfig.cmake | head -1)
pc=$(find "$prefix" -name progimage-client.pc | head -1)
[[ -n $config ]] || fail "no ProgImageConfig.cmake under the prefix"
[[ -n $pc ]] || fail "no progimage-client.pc under the prefix"
libdir=$(dirname "$(find "$prefix" -name 'libprogimage-client.*' | head -1)")

# CMake: the examples as an out-of-tree project.
cmake -S "$examples_dir" -B "$work/examples" -G Ninja -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=Release \
  >"$work/configure.log" 2>&1 || { cat "$work/configure.log"; fail "configuring the examples"; }
cmake --build "$work/examples" >"$work/build.log" 2>&1 || { cat "$work/build.log"; fail "building the examples"; }

# pkg-config: one example by hand, as a Makefile would.
export PKG_CONFIG_PATH=$(dirname "$pc")
flags=$(pkg-config --cflags --libs progimage-client) || fail "pkg-config"
# shellcheck disable=SC2086
c++ -o "$work/upload_pkgconfig" "$examples_dir/upload_and_thumbnail.cpp" $flags -Wl,-rpath,"$libdir" \
  || fail "compiling with pkg-config flags: $flags"

# A server on a free port: it names the port in its "serving" log line.
mkdir -p "$work/data"
"$server" serve --listen 127.0.0.1:0 --data "$work/data" --catalog "sqlite://$work/data/catalog.db" \
  --storage "file://$work/data" --signing-secret install-test-secret >"$work/server.log" 2>&1 &
server_pid=$!
port=
for _ in $(seq 1 300); do
  port=$(grep -o '"msg":"serving".*' "$work/server.log" | grep -o '"listen":"[^"]*:[0-9]*"' | grep -o '[0-9]*"$' | tr -d '"' || true)
  [[ -n $port ]] && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$work/server.log"; fail "the server exited"; }
  sleep 0.05
done
[[ -n $port ]] || { cat "$work/server.log"; fail "the server did not log that it serves"; }
export PROGIMAGE_URL=http://127.0.0.1:$port PROGIMAGE_SIGNING_SECRET=install-test-secret

run_upload() {
  local binary=$1 out=$2
  "$binary" "$image" "$out" >"$work/run.log" 2>&1 || { cat "$work/run.log"; fail "$binary failed"; }
  grep -q "thumbnail URL: http://127.0.0.1:$port/v1/images/.*\.webp?.*exp=.*sig=" "$work/run.log" \
    || { cat "$work/run.log"; fail "$binary printed no signed URL"; }
  [[ $(head -c 4 "$out") == RIFF ]] || fail "$out is not a WebP"
  # The printed URL is accepted by the server.
  url=$(sed -n 's/^thumbnail URL: //p' "$work/run.log")
  [[ $(curl -s -o /dev/null -w '%{http_code}' "$url") == 200 ]] || fail "the signed URL was refused: $url"
}
run_upload "$work/examples/upload_and_thumbnail" "$work/a.webp"
run_upload "$work/upload_pkgconfig" "$work/b.webp"
"$work/examples/bulk_job" example "w=32&format=png" >"$work/job.log" 2>&1 || { cat "$work/job.log"; fail "bulk_job failed"; }
grep -q "^completed: 1 done, 0 failed" "$work/job.log" || { cat "$work/job.log"; fail "bulk_job did not complete its job"; }
echo "installed package, CMake examples and pkg-config build all work"
