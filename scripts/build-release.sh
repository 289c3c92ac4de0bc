#!/usr/bin/env bash
# Optimized build of the pkgtrust binary (and the benchmarks) into build/.
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DPKGTRUST_BUILD_TESTS=OFF -DPKGTRUST_BUILD_BENCH=ON
cmake --build build
