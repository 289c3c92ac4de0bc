#!/usr/bin/env bash
# Runs the libFuzzer targets of fuzz/ (fuzz/README.md).
#   scripts/fuzz.sh TARGET SECONDS     one target for SECONDS (its corpus and regressions first)
#   scripts/fuzz.sh --all SECONDS      every target, two at a time; fails if any finds a crash
#   scripts/fuzz.sh --list             the targets
# Builds build-fuzz/ with clang first (libFuzzer + ASan + UBSan). New inputs go to a scratch
# folder, never into the committed corpus; a crash is saved under build-fuzz/artifacts/.
set -euo pipefail
cd "$(dirname "$0")/.."
TARGETS=(purl package_name version filter_policy config webhook rest_api registry_npm registry_pypi registry_crates
         registry_maven registry_go github osv aws change_query gateway_npm gateway_pypi lockfile)
declare -A DICT=([purl]=purl [config]=yaml [registry_maven]=xml [rest_api]=http [webhook]=json [registry_npm]=json
                 [registry_pypi]=json [registry_crates]=json [registry_go]=json [github]=json [osv]=json [aws]=json
                 [filter_policy]=json [gateway_npm]=json [gateway_pypi]=json [lockfile]=json)

if [ "${1:-}" = "--list" ]; then printf '%s\n' "${TARGETS[@]}"; exit 0; fi
if [ $# -ne 2 ]; then
  echo "usage: scripts/fuzz.sh TARGET|--all SECONDS | --list" >&2
  exit 2
fi

build() {
  if [ ! -f build-fuzz/build.ninja ]; then
    CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DPKGTRUST_BUILD_TESTS=OFF -DPKGTRUST_BUILD_BENCH=OFF -DPKGTRUST_FUZZ=ON >/dev/null
  fi
  cmake --build build-fuzz --target fuzz_all
}

# run TARGET SECONDS: prints one summary line; the exit status is the fuzzer's.
run() {
  local target=$1 seconds=$2 scratch status
  scratch=$(mktemp -d)
  mkdir -p build-fuzz/artifacts "fuzz/corpus/$target"
  local args=(-max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
              -artifact_prefix="build-fuzz/artifacts/$target-")
  [ -n "${DICT[$target]:-}" ] && args+=(-dict="fuzz/dict/${DICT[$target]}.dict")
  local dirs=("$scratch" "fuzz/corpus/$target")
  [ -d "fuzz/regressions/$target" ] && dirs+=("fuzz/regressions/$target")
  set +e
  "build-fuzz/fuzz/fuzz_$target" "${args[@]}" "${dirs[@]}" >"build-fuzz/artifacts/$target.log" 2>&1
  status=$?
  set -e
  local runs cov
  runs=$(grep -o 'stat::number_of_executed_units: [0-9]*' "build-fuzz/artifacts/$target.log" | grep -o '[0-9]*$' || echo 0)
  cov=$(grep -o 'cov: [0-9]*' "build-fuzz/artifacts/$target.log" | tail -1 | grep -o '[0-9]*$' || echo 0)
  rm -rf "$scratch"
  if [ $status -eq 0 ]; then
    printf 'fuzz %-16s %4ss  %9s runs  coverage %5s  no crash\n' "$target" "$seconds" "$runs" "$cov"
  else
    printf 'fuzz %-16s %4ss  %9s runs  FAILED (exit %s); log: build-fuzz/artifacts/%s.log\n' \
      "$target" "$seconds" "$runs" "$status" "$target"
    grep -E 'ERROR|SUMMARY|Test unit written' "build-fuzz/artifacts/$target.log" | head -5 || true
  fi
  return $status
}

build
if [ "$1" = "--all" ]; then
  failed=0
  # Two at a time (the machine has two cores); each pair finishes before the next starts.
  for ((i = 0; i < ${#TARGETS[@]}; i += 2)); do
    pids=()
    for target in "${TARGETS[@]:i:2}"; do
      run "$target" "$2" &
      pids+=($!)
    done
    for pid in "${pids[@]}"; do wait "$pid" || failed=1; done
  done
  exit $failed
fi
run "$1" "$2"
