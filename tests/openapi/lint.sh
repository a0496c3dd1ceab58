#!/usr/bin/env bash
# Lints docs/openapi.json with the Redocly CLI (pinned in package.json) and
# the rules of redocly.yaml. Needs `npm ci` here first (scripts/test.sh does it).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
redocly=$here/node_modules/.bin/redocly
if [[ ! -x $redocly ]]; then
  echo "the Redocly CLI is not installed: run 'npm ci' in tests/openapi"
  echo "0 passed, 1 failed"
  exit 1
fi
cd "$here"
if "$redocly" lint --config redocly.yaml --format stylish ../../docs/openapi.json; then
  echo "1 passed, 0 failed"
else
  echo "docs/openapi.json: the findings above are defects; fix them (or, for a rule that is house style, say why in redocly.yaml)"
  echo "0 passed, 1 failed"
  exit 1
fi
