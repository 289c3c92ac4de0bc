#!/usr/bin/env bash
# Builds the web page (web/) into OUT_DIR/web_assets.cpp, which the binary compiles in;
# CMake runs it when a file under web/ changes (src/CMakeLists.txt), so nobody has to.
# Installs web/'s npm packages (esbuild, uPlot) from web/package-lock.json first when they
# are missing or older than the lock.
set -euo pipefail
web="$(cd "$(dirname "$0")/../web" && pwd)"
out="${1:?usage: scripts/build-web.sh OUT_DIR}"
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "build-web: the web page is built with Node.js and npm; scripts/install-deps.sh installs them" >&2
  exit 1
fi
installed="$web/node_modules/.package-lock.json"
if [ ! -f "$installed" ] || [ "$web/package-lock.json" -nt "$installed" ]; then
  (cd "$web" && npm ci --no-audit --no-fund --loglevel=error)
fi
mkdir -p "$out"
node "$web/build.mjs" "$out"
