#!/usr/bin/env bash
# Mutation testing against the register in tests/mutations/register.jsonl (docs/testing.md).
# Each entry names a rule users depend on and a one-line bug in it; this script copies the
# working tree (committed or not) to a scratch folder, and for each entry applies the bug
# there, rebuilds only what changed, runs the tests the entry names, and reports whether
# they caught it. The repository itself is never modified.
#
#   scripts/mutate.sh                 every entry
#   scripts/mutate.sh ID [ID...]      those entries only
#
# Environment: MUTATE_DIR (the scratch folder, kept between runs so that rebuilds stay
# incremental; default build-mutate/), MUTATE_TIMEOUT (seconds per test run, default 600).
# Before the entries, each test spec they name runs once without a bug: a spec that matches
# no test or fails already makes its entries BROKEN rather than "caught".
# Exit status: 0 when every entry run was caught, 1 when one survived or is broken.
# Too slow for CI (a rebuild and a test run per entry): run it before resolving an issue
# that touches a file the register lists.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
register=tests/mutations/register.jsonl
scratch=${MUTATE_DIR:-$root/build-mutate}
timeout_seconds=${MUTATE_TIMEOUT:-600}
mkdir -p "$scratch/src" "$scratch/logs"

# The scratch copy: tracked and new files of the working tree (not what .gitignore drops).
# Only files whose content differs are written (and so get a new time): what changed since
# the last run is rebuilt, and nothing else.
git ls-files -z -co --exclude-standard | python3 -c '
import os, shutil, sys
target = sys.argv[1]
for path in sys.stdin.buffer.read().decode().split("\0"):
    if not path or not os.path.isfile(path):
        continue
    copy = os.path.join(target, path)
    with open(path, "rb") as f:
        data = f.read()
    try:
        with open(copy, "rb") as f:
            if f.read() == data:
                continue
    except FileNotFoundError:
        os.makedirs(os.path.dirname(copy) or ".", exist_ok=True)
    with open(copy, "wb") as f:
        f.write(data)
    shutil.copymode(path, copy)
' "$scratch/src"
# Without sanitizers: they would find nothing a failing test does not, at twice the cost.
cmake -S "$scratch/src" -B "$scratch/build" -G Ninja -DCMAKE_BUILD_TYPE=Debug -DPKGTRUST_SANITIZE=OFF \
  -DPKGTRUST_BUILD_BENCH=OFF >"$scratch/logs/cmake.log"
echo "building the unmutated tests in $scratch/build ..."
cmake --build "$scratch/build" --target pkgtrust_tests pkgtrust_check_tests >"$scratch/logs/build.log" 2>&1 ||
  { tail -30 "$scratch/logs/build.log"; echo "the unmutated tree does not build" >&2; exit 2; }

# One line per entry to run: id, file, test binary, test spec, then find and replace as JSON
# strings (a tab-separated line that survives any characters in the source text). An entry's
# optional "binary" names the test binary (default pkgtrust_tests; the lockfile and check
# tests are in pkgtrust_check_tests).
entries=$(python3 - "$register" "$@" <<'PY'
import json, sys
path, wanted = sys.argv[1], set(sys.argv[2:])
seen = set()
for number, line in enumerate(open(path, encoding="utf-8"), 1):
    line = line.strip()
    if not line:
        continue
    try:
        e = json.loads(line)
        for field in ("id", "rule", "file", "find", "replace", "tests"):
            if not isinstance(e.get(field), str) or not e[field]:
                raise ValueError(f"field '{field}' missing or empty")
    except ValueError as error:
        sys.exit(f"{path}:{number}: {error}")
    if e["id"] in seen:
        sys.exit(f"{path}:{number}: id '{e['id']}' twice")
    seen.add(e["id"])
    if wanted and e["id"] not in wanted:
        continue
    binary = e.get("binary", "pkgtrust_tests")
    if binary not in ("pkgtrust_tests", "pkgtrust_check_tests"):
        sys.exit(f"{path}:{number}: unknown binary '{binary}'")
    print("\t".join([e["id"], e["file"], binary, e["tests"], json.dumps(e["find"]), json.dumps(e["replace"])]))
unknown = wanted - seen
if unknown:
    sys.exit(f"no entry with id {', '.join(sorted(unknown))} in {path}")
PY
)

# Each test spec once without a bug: a spec that matches no test, or tests that already fail,
# would make every entry using it look caught.
declare -A baseline
while IFS=$'\t' read -r -u 3 id file binary tests find replace; do
  [[ -n "${baseline[$binary $tests]+set}" ]] && continue
  log="$scratch/logs/baseline.$(printf '%s' "$binary $tests" | md5sum | cut -c1-12).log"
  if timeout "$timeout_seconds" "$scratch/build/tests/$binary" "$tests" >"$log" 2>&1 </dev/null; then
    baseline[$binary $tests]=ok
  elif grep -q "No test cases matched" "$log"; then
    baseline[$binary $tests]="matches no test"
  else
    baseline[$binary $tests]="fails without the bug: $log"
  fi
done 3<<<"$entries"

caught=0 survived=0 broken=0 total=0
survivors=()
broken_entry() {  # id, reason
  printf '%-9s %s (%s)\n' "BROKEN" "$1" "$2"
  broken=$((broken + 1)) survivors+=("$1")
}
while IFS=$'\t' read -r -u 3 id file binary tests find replace; do
  total=$((total + 1))
  target="$scratch/src/$file"
  if [[ "${baseline[$binary $tests]}" != ok ]]; then
    broken_entry "$id" "tests '$tests': ${baseline[$binary $tests]}"
    continue
  fi
  if [[ ! -f "$target" ]]; then
    broken_entry "$id" "no file $file"
    continue
  fi
  cp "$target" "$scratch/original"
  # Applied only when the text occurs exactly once: an entry the code has outgrown says so.
  if ! python3 - "$target" "$find" "$replace" </dev/null <<'PY'; then
import json, sys
path, find, replace = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3])
text = open(path, encoding="utf-8").read()
count = text.count(find)
if count != 1:
    sys.exit(f"the text to replace occurs {count} times in {path}")
open(path, "w", encoding="utf-8").write(text.replace(find, replace))
PY
    broken_entry "$id" "register out of date"
    continue
  fi
  status=0
  if ! cmake --build "$scratch/build" --target "$binary" >"$scratch/logs/$id.build.log" 2>&1 </dev/null; then
    broken_entry "$id" "does not compile: $scratch/logs/$id.build.log"
  else
    timeout "$timeout_seconds" "$scratch/build/tests/$binary" "$tests" \
      >"$scratch/logs/$id.test.log" 2>&1 </dev/null || status=$?
    if ((status == 0)); then
      printf '%-9s %s (%s passed with the bug)\n' "SURVIVED" "$id" "$tests"
      survived=$((survived + 1)) survivors+=("$id")
    elif ((status == 124)); then
      printf '%-9s %s (the tests hung past %s s)\n' "caught" "$id" "$timeout_seconds"
      caught=$((caught + 1))
    else
      printf '%-9s %s\n' "caught" "$id"
      caught=$((caught + 1))
    fi
  fi
  cp "$scratch/original" "$target"
done 3<<<"$entries"

# Leave the scratch build matching the working tree.
cmake --build "$scratch/build" --target pkgtrust_tests pkgtrust_check_tests >"$scratch/logs/build.log" 2>&1 || true
echo "$(date -u +%Y-%m-%d): caught $caught of $total ($survived survived, $broken broken)"
if ((${#survivors[@]})); then
  echo "not caught: ${survivors[*]}"
  exit 1
fi
