#!/usr/bin/env python3
"""The mutation register (tests/mutations/register.jsonl, docs/testing.md) still fits the code.

scripts/mutate.sh is too slow for CI, so an entry whose line moved or changed would only be
noticed at the next mutation run, as BROKEN. This check runs in the suite: every entry has
its fields, names a file that exists, and its `find` text occurs in that file exactly once
(so the bug it describes can still be applied, and to one place only).
"""
import json
import os
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
REGISTER = os.path.join(ROOT, "tests", "mutations", "register.jsonl")
FIELDS = ("id", "rule", "file", "find", "replace", "tests", "caught_by")


def problems_of(lines):
    problems, seen = [], set()
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        where = f"register.jsonl:{number}"
        try:
            entry = json.loads(line)
        except ValueError as error:
            problems.append(f"{where}: not JSON ({error})")
            continue
        missing = [f for f in FIELDS if not entry.get(f)]
        if missing:
            problems.append(f"{where}: missing {', '.join(missing)}")
            continue
        if entry["id"] in seen:
            problems.append(f"{where}: id {entry['id']} appears twice")
        seen.add(entry["id"])
        path = os.path.join(ROOT, entry["file"])
        if not os.path.isfile(path):
            problems.append(f"{where} ({entry['id']}): no file {entry['file']}")
            continue
        with open(path, encoding="utf-8") as f:
            count = f.read().count(entry["find"])
        if count != 1:
            problems.append(f"{where} ({entry['id']}): its find text occurs {count} times in {entry['file']}")
        if entry["find"] == entry["replace"]:
            problems.append(f"{where} ({entry['id']}): replace equals find")
    return problems


def main():
    with open(REGISTER, encoding="utf-8") as f:
        lines = f.read().splitlines()
    problems = problems_of(lines)
    # The check itself: a stale entry must be reported.
    stale = json.loads(next(l for l in lines if l.strip()))
    stale["find"] += " /* no longer in the code */"
    if not problems_of([json.dumps(stale)]):
        problems.append("self-check: an entry whose find text is gone was not reported")
    for p in problems:
        print(p)
    print(f"{len(lines)} entries, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
