#!/usr/bin/env python3
"""scripts/check_includes.py passes on the tree and fails on each kind of wrong include.

Each case copies src/ and include/ to a scratch folder, breaks one rule there, and expects
exit status 1 with a line that names the file and the header.
"""
import pathlib
import shutil
import subprocess
import sys
import tempfile
import unittest

ROOT = pathlib.Path(__file__).resolve().parents[2]
CHECK = ROOT / "scripts" / "check_includes.py"


def run(root):
    return subprocess.run([sys.executable, str(CHECK), str(root)], capture_output=True, text=True)


class CheckIncludes(unittest.TestCase):
    def setUp(self):
        self.scratch = pathlib.Path(tempfile.mkdtemp(prefix="check-includes-"))
        shutil.copytree(ROOT / "src", self.scratch / "src")
        shutil.copytree(ROOT / "include", self.scratch / "include")

    def tearDown(self):
        shutil.rmtree(self.scratch)

    def add_include(self, relative, header):
        path = self.scratch / relative
        text = path.read_text()
        # After the first include, so that the line number is known: the file's first
        # include line + 1.
        first = text.index("#include")
        end = text.index("\n", first) + 1
        path.write_text(text[:end] + f'#include "{header}"\n' + text[end:])
        return text[:end].count("\n") + 1

    def expect_failure(self, needle):
        result = run(self.scratch)
        self.assertEqual(result.returncode, 1, result.stdout + result.stderr)
        self.assertIn(needle, result.stdout)
        self.assertEqual(len(result.stdout.splitlines()), 1, result.stdout)  # only the broken one

    def test_the_tree_is_clean(self):
        result = run(ROOT)
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        self.assertEqual(result.stdout, "")

    def test_a_public_header_of_a_module_it_may_not_use(self):
        line = self.add_include("src/store/sqlite_store.cpp", "pkgtrust/api/api.hpp")
        self.expect_failure(f'src/store/sqlite_store.cpp:{line}: store includes "pkgtrust/api/api.hpp"')

    def test_a_module_it_may_use_is_fine(self):
        self.add_include("src/api/api.cpp", "pkgtrust/store/store.hpp")
        self.assertEqual(run(self.scratch).returncode, 0)

    def test_another_modules_private_header(self):
        line = self.add_include("src/pipeline/pipeline.cpp", "store/sqlite.hpp")
        self.expect_failure(f'src/pipeline/pipeline.cpp:{line}: pipeline includes "store/sqlite.hpp", '
                            "a private header of store")

    def test_a_shared_private_header_outside_its_users(self):
        line = self.add_include("src/bus/message.cpp", "core/json_document.hpp")
        self.expect_failure(f'src/bus/message.cpp:{line}: bus includes "core/json_document.hpp"')

    def test_a_public_header_that_includes_a_private_one(self):
        line = self.add_include("include/pkgtrust/store/store.hpp", "store/sqlite.hpp")
        self.expect_failure(f"include/pkgtrust/store/store.hpp:{line}: public header includes "
                            'the private header "store/sqlite.hpp"')

    def test_a_library_linking_a_module_it_may_not_use(self):
        cmake = self.scratch / "src" / "CMakeLists.txt"
        text = cmake.read_text()
        before = "target_link_libraries(pkgtrust_store PUBLIC pkgtrust_core"
        self.assertIn(before, text)
        cmake.write_text(text.replace(before, before + " pkgtrust_bus"))
        self.expect_failure("pkgtrust_store links pkgtrust_bus, but store may not use bus")


if __name__ == "__main__":
    unittest.main(verbosity=2)
