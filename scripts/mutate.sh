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
# Exit status: 0 when every entry run was caught, 1 when one survived or did not compile.
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
cmake --build "$scratch/build" --target pkgtrust_tests >"$scratch/logs/build.log" 2>&1 ||
  { tail -30 "$scratch/logs/build.log"; echo "the unmutated tree does not build" >&2; exit 2; }

# One line per entry to run: id, file, test spec, then find and replace as JSON strings
# (a tab-separated line that survives any characters in the source text).
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
    print("\t".join([e["id"], e["file"], e["tests"], json.dumps(e["find"]), json.dumps(e["replace"])]))
unknown = wanted - seen
if unknown:
    sys.exit(f"no entry with id {', '.join(sorted(unknown))} in {path}")
PY
)

caught=0 survived=0 broken=0 total=0
survivors=()
while IFS=$'\t' read -r id file tests find replace; do
  total=$((total + 1))
  target="$scratch/src/$file"
  cp "$target" "$scratch/original"
  # Applied only when the text occurs exactly once: an entry the code has outgrown says so.
  if ! python3 - "$target" "$find" "$replace" <<'PY'; then
import json, sys
path, find, replace = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3])
text = open(path, encoding="utf-8").read()
count = text.count(find)
if count != 1:
    sys.exit(f"the text to replace occurs {count} times in {path}")
open(path, "w", encoding="utf-8").write(text.replace(find, replace))
PY
    printf '%-9s %s (register out of date)\n' "BROKEN" "$id"
    broken=$((broken + 1)) survivors+=("$id")
    continue
  fi
  if ! cmake --build "$scratch/build" --target pkgtrust_tests >"$scratch/logs/$id.build.log" 2>&1; then
    printf '%-9s %s (does not compile: %s)\n' "BROKEN" "$id" "$scratch/logs/$id.build.log"
    broken=$((broken + 1)) survivors+=("$id")
  elif timeout "$timeout_seconds" "$scratch/build/tests/pkgtrust_tests" "$tests" \
    >"$scratch/logs/$id.test.log" 2>&1; then
    printf '%-9s %s (%s passed with the bug)\n' "SURVIVED" "$id" "$tests"
    survived=$((survived + 1)) survivors+=("$id")
  else
    printf '%-9s %s\n' "caught" "$id"
    caught=$((caught + 1))
  fi
  cp "$scratch/original" "$target"
done <<<"$entries"

# Leave the scratch build matching the working tree.
cmake --build "$scratch/build" --target pkgtrust_tests >"$scratch/logs/build.log" 2>&1 || true
echo "$(date -u +%Y-%m-%d): caught $caught of $total ($survived survived, $broken broken)"
if ((${#survivors[@]})); then
  echo "not caught: ${survivors[*]}"
  exit 1
fi
