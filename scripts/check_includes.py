#!/usr/bin/env python3
"""The module graph, enforced: which module's headers each source may include.

docs/architecture.md has the table this script holds in MAY_USE. For every file under
src/<module>/ and include/pkgtrust/<module>/ it checks each `#include "..."`:

  - "pkgtrust/<other>/x.hpp" (a public header): <other> is the module itself or one it
    may use;
  - "<other>/x.hpp" (a header under src/, private to its module): <other> is the module
    itself, or the header is one of the few listed in SHARED_PRIVATE with its users;
  - a public header never includes a private one (its users could not find it).

It also reads src/CMakeLists.txt: each pkgtrust_<module> library links only pkgtrust_
libraries of modules it may use.

    scripts/check_includes.py [ROOT]     exit 0: clean; 1: each violation on a line

ROOT defaults to the repository this script is in. .ci/run runs it before the tests;
tests/scripts/check_includes_test.py shows that it fails on a wrong include.
"""
import pathlib
import re
import sys

# module -> the modules whose headers it may include (besides its own).
MAY_USE = {
    "core": set(),
    "net": {"core"},
    "bus": {"core", "net"},
    "store": {"core"},
    "registry": {"core", "net"},
    "github": {"core", "net"},
    "scoring": {"core"},
    "lockfile": {"core"},
    "check": {"core", "lockfile"},
    "pipeline": {"core", "bus", "store", "registry", "github", "scoring"},
    "api": {"core", "store", "pipeline", "lockfile", "check"},
    "gateway": {"core", "net", "store", "pipeline", "scoring", "api"},
    "adoption": {"core", "store", "registry", "pipeline", "api", "gateway"},
    "web": {"core", "api"},
    "app": {"core", "net", "bus", "store", "registry", "github", "scoring", "pipeline", "api", "gateway", "adoption",
            "lockfile", "check", "web"},
}

# Private headers other modules may include, and why.
SHARED_PRIVATE = {
    # simdjson's DOM behind a small wrapper: header-only, so that no public header names
    # simdjson; the modules that parse JSON link simdjson themselves.
    "core/json_document.hpp": {"registry", "github", "scoring", "gateway", "lockfile"},
}

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.MULTILINE)
SOURCE_SUFFIXES = {".cpp", ".hpp", ".h", ".in"}


def module_files(root):
    """(module, path, is_public) for every source and header of a module."""
    for module in MAY_USE:
        for folder, public in ((root / "src" / module, False), (root / "include" / "pkgtrust" / module, True)):
            if not folder.is_dir():
                continue
            for path in sorted(folder.rglob("*")):
                if path.is_file() and path.suffix in SOURCE_SUFFIXES:
                    yield module, path, public


def check_includes(root):
    problems = []
    for module, path, public in module_files(root):
        text = path.read_text(errors="replace")
        for match in INCLUDE.finditer(text):
            header = match.group(1)
            line = text.count("\n", 0, match.start()) + 1
            where = f"{path.relative_to(root)}:{line}"
            parts = header.split("/")
            if parts[0] == "pkgtrust" and len(parts) >= 3:
                other = parts[1]
                if other != module and other not in MAY_USE.get(module, set()):
                    allowed = ", ".join(sorted(MAY_USE[module])) or "no other module"
                    problems.append(f'{where}: {module} includes "{header}", but {module} may use {allowed}')
            elif len(parts) >= 2 and parts[0] in MAY_USE:
                other = parts[0]
                if public:
                    problems.append(f'{where}: public header includes the private header "{header}"')
                elif other != module and module not in SHARED_PRIVATE.get(header, set()):
                    problems.append(
                        f'{where}: {module} includes "{header}", a private header of {other} '
                        f"(use include/pkgtrust/{other}/ or move the code)")
    return problems


LINK = re.compile(r"target_link_libraries\(\s*pkgtrust_(\w+)\b([^)]*)\)", re.DOTALL)


def check_links(root):
    problems = []
    cmake = root / "src" / "CMakeLists.txt"
    text = cmake.read_text()
    for match in LINK.finditer(text):
        module = match.group(1)
        if module not in MAY_USE:
            continue
        for other in re.findall(r"\bpkgtrust_(\w+)\b", match.group(2)):
            if other in MAY_USE and other != module and other not in MAY_USE[module]:
                line = text.count("\n", 0, match.start()) + 1
                problems.append(f"{cmake.relative_to(root)}:{line}: pkgtrust_{module} links pkgtrust_{other}, "
                                f"but {module} may not use {other}")
    return problems


def main():
    root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else pathlib.Path(__file__).resolve().parent.parent)
    problems = check_includes(root) + check_links(root)
    for problem in problems:
        print(problem)
    if problems:
        print(f"{len(problems)} include(s) break the module graph (docs/architecture.md, 'Modules')",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
