#!/usr/bin/env bash
# Installs what the tests need (Debian packages, and from npm tus-js-client
# into tests/tus, s3rver into tests/s3, the Redocly CLI into tests/openapi and
# the TypeScript client's build tools into clients/typescript), builds, and
# runs every test tier:
#   1. unit, contract, client, corpus and crash tests on the optimised build;
#   2. the quick contract tests again on the many-machine stack: the
#      PostgreSQL catalog and S3 storage (a PostgreSQL server and an S3 peer
#      the tests start themselves, tests/postgres and tests/s3);
#   3. unit, contract and C++ client tests again under AddressSanitizer + UBSan;
#   4. the fuzz targets for a bounded time (clang, libFuzzer).
# Ends with one line "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
scripts/install-deps.sh --test || exit 1
# The real tus-js-client for the resumable-upload contract tests (tests/tus).
if ! (cd tests/tus && npm ci --no-audit --no-fund --loglevel=error); then
  echo "npm ci in tests/tus failed: the resumable-upload tests will fail"
fi
# s3rver, the S3 server behind the signature-checking proxy of the S3 store's tests (tests/s3).
if ! (cd tests/s3 && npm ci --no-audit --no-fund --loglevel=error); then
  echo "npm ci in tests/s3 failed: the S3 blob store tests will fail"
fi
# The Redocly CLI, which lints docs/openapi.json (tests/openapi, test openapi.lint).
if ! (cd tests/openapi && npm ci --no-audit --no-fund --loglevel=error); then
  echo "npm ci in tests/openapi failed: the OpenAPI lint test will fail"
fi
# TypeScript and openapi-typescript, which build the TypeScript client (clients/typescript, test clients.typescript).
if ! (cd clients/typescript && npm ci --no-audit --no-fund --loglevel=error); then
  echo "npm ci in clients/typescript failed: the TypeScript client test will fail"
fi
jobs=$(nproc)
logs=$(mktemp -d)
failed_steps=()

run_ctest() {  # name, build dir, ctest args...
  local name=$1 dir=$2
  shift 2
  echo "=== $name"
  ctest --test-dir "$dir" --output-on-failure --no-tests=error --timeout 900 "$@" 2>&1 | tee "$logs/$name.log"
  [[ ${PIPESTATUS[0]} == 0 ]] || failed_steps+=("$name")
}

build() {  # dir, cmake args...
  local dir=$1
  shift
  cmake -S . -B "$dir" -G Ninja "$@" >/dev/null && cmake --build "$dir" -j "$jobs"
}

if build build/release -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPROGIMAGE_TESTS=ON; then
  run_ctest release build/release -j 2
  # The many-machine stack: every server on its own PostgreSQL database and
  # its own bucket of the S3 peer.
  export PROGIMAGE_TEST_CATALOG='{postgres}/{name}'
  export PROGIMAGE_TEST_STORAGE='s3://{name}?endpoint={s3}&create_bucket=true'
  run_ctest contract-postgres-s3 build/release -L contract -LE slow -j 2
  unset PROGIMAGE_TEST_CATALOG PROGIMAGE_TEST_STORAGE
else
  failed_steps+=("release build")
fi

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:detect_stack_use_after_return=0
export LSAN_OPTIONS=suppressions=$root/tests/lsan.supp:print_suppressions=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
if build build/asan -DCMAKE_BUILD_TYPE=Debug -DPROGIMAGE_SANITIZE=ON -DPROGIMAGE_TESTS=ON; then
  # The C++ clients too; not the TypeScript client, the OpenAPI lint or the
  # installed examples, which run no code of this build's.
  run_ctest asan build/asan -L "unit|contract|clients" -LE slow -E "clients\.(typescript|install)|openapi\.lint" -j 2
else
  failed_steps+=("sanitizer build")
fi
unset ASAN_OPTIONS LSAN_OPTIONS UBSAN_OPTIONS

if CC=clang-14 CXX=clang++-14 cmake -S . -B build/fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
     -DPROGIMAGE_FUZZ=ON -DPROGIMAGE_TESTS=ON >/dev/null &&
   cmake --build build/fuzz -j "$jobs" --target progimage_fuzzers; then
  run_ctest fuzz build/fuzz -L fuzz
else
  failed_steps+=("fuzz build")
fi

passed=0 failed=0
for f in "$logs"/*.log; do
  line=$(grep -E "tests passed, [0-9]+ tests? failed out of" "$f" | tail -1)
  [[ -n $line ]] || continue
  total=$(sed -E 's/.* out of ([0-9]+).*/\1/' <<<"$line")
  bad=$(sed -E 's/.*, ([0-9]+) tests? failed.*/\1/' <<<"$line")
  passed=$((passed + total - bad))
  failed=$((failed + bad))
done
for s in "${failed_steps[@]}"; do echo "failed: $s"; done
((${#failed_steps[@]} == 0)) || failed=$((failed > 0 ? failed : 1))
echo "$passed passed, $failed failed"
((failed == 0))
