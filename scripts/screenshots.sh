#!/usr/bin/env bash
# Writes docs/screenshots/ (each page of the web page at desktop and phone width) with the
# browser test (tests/web/browser_test.mjs) on the test build. Run after ./scripts/test.sh
# has built build-test/ and installed tests/web's npm packages.
set -euo pipefail
cd "$(dirname "$0")/.."
cmake --build build-test --target pkgtrust_tests pkgtrust
PKGTRUST_SCREENSHOT_DIR="$PWD/docs/screenshots" build-test/tests/pkgtrust_tests "[browser]"
ls -l docs/screenshots
