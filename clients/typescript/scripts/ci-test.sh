#!/usr/bin/env bash
# The ctest test clients.typescript: builds the package (types generated from
# docs/openapi.json, then tsc) and runs its tests, which start the server
# binary named by PROGIMAGE_TEST_BINARY on loopback themselves. Needs
# `npm ci` here first (scripts/test.sh does it).
set -uo pipefail
cd "$(dirname "$0")/.."
if [[ ! -x node_modules/.bin/tsc || ! -x node_modules/.bin/openapi-typescript ]]; then
  echo "the build tools are not installed: run 'npm ci' in clients/typescript"
  echo "0 passed, 1 failed"
  exit 1
fi
if [[ ! -x ${PROGIMAGE_TEST_BINARY:-} ]]; then
  echo "PROGIMAGE_TEST_BINARY must name the progimage binary (got '${PROGIMAGE_TEST_BINARY:-}')"
  echo "0 passed, 1 failed"
  exit 1
fi
if ! npm run build --silent; then
  echo "npm run build failed in clients/typescript"
  echo "0 passed, 1 failed"
  exit 1
fi
exec node --test test/*.test.mjs
