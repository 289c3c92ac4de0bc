#!/usr/bin/env bash
# Builds pkgtrust with AddressSanitizer and UndefinedBehaviorSanitizer and runs every test,
# then runs every libFuzzer target briefly (a crash fails the run).
set -euo pipefail
cd "$(dirname "$0")/.."
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
# The SNS/SQS emulator the sqs transport's tests run against (npm fauxqs, pinned by the lock file).
if [ ! -f tests/emulator/node_modules/fauxqs/package.json ]; then
  npm ci --prefix tests/emulator --no-audit --no-fund --loglevel=error
fi
# Ajv (npm, pinned by the lock file) validates the check's SARIF output against the schema.
if [ ! -f tests/sarif/node_modules/ajv-draft-04/package.json ]; then
  npm ci --prefix tests/sarif --no-audit --no-fund --loglevel=error
fi
# puppeteer-core and axe-core (npm, pinned by the lock file) for the web page's browser test.
if [ ! -f tests/web/node_modules/puppeteer-core/package.json ]; then
  npm ci --prefix tests/web --no-audit --no-fund --loglevel=error
fi
cmake -S . -B build-test -G Ninja -DCMAKE_BUILD_TYPE=Debug -DPKGTRUST_SANITIZE=ON -DPKGTRUST_BUILD_BENCH=ON
cmake --build build-test
# One throwaway PostgreSQL for the entries that need one (stopped at the end, also on a failure).
tests/scripts/with_postgres.sh ctest --test-dir build-test --output-on-failure -j2
# Every fuzz target for 30 seconds on its committed corpus and regression inputs (fuzz/README.md).
./scripts/fuzz.sh --all 30
