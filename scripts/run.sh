#!/usr/bin/env bash
# Installs what ProgImage needs, builds it and serves on 127.0.0.1:8080 with
# its data in ./data. Arguments are passed to `progimage serve`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPROGIMAGE_TESTS=OFF >/dev/null
cmake --build build/release --target progimage
exec build/release/src/app/progimage serve "$@"
