#!/usr/bin/env bash
# Installs what ProgImage needs, builds it and serves on 127.0.0.1:8080 with
# its data in ./data. Arguments are passed to `progimage serve`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
# Its own build tree: the service needs none of the test dependencies.
cmake -S . -B build/serve -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPROGIMAGE_TESTS=OFF >/dev/null
cmake --build build/serve --target progimage progimage-cli  # the service, and its command line client
exec build/serve/src/app/progimage serve "$@"
