// Python's lockfiles: requirements.txt, poetry.lock, Pipfile.lock, uv.lock, pdm.lock and
// pylock.toml. Expected packages follow osv-scalibr's tests for the same fixtures, except
// where a risk check needs more (unpinned and non-registry requirements are listed).
#include <algorithm>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "lockfile_test_support.hpp"

namespace pkgtrust::lockfile {
using namespace testing;

// --- real files (counts from real/SOURCES.md) ---

TEST_CASE("requirements: pip-compile output with hashes gives its 184 pins", "[lockfile]") {
  auto deps = ParseFixture(Format::kRequirements, "real/requirements/pypi-warehouse-requirements-main.txt");
  CHECK(deps.size() == 184);
  CHECK(RequireDependency(deps, "pkg:pypi/alembic@1.18.5").line == 7);
  CHECK(RequireDependency(deps, "pkg:pypi/celery@5.6.3").line == 199);  // celery[redis]==5.6.3
  CHECK(RequireDependency(deps, "pkg:pypi/zope-sqlalchemy@4.1").line == 2666);
  for (const auto& dependency : deps) {
    INFO(core::FormatPurl(dependency.purl));
    CHECK(dependency.origin == Origin::kRegistry);
    CHECK_FALSE(dependency.purl.version.empty());
  }
}

TEST_CASE("poetry: python-poetry's poetry.lock gives 78 packages, poetry-core from git", "[lockfile]") {
  auto deps = ParseFixture(Format::kPoetryLock, "real/poetry/python-poetry-poetry-poetry.lock");
  CHECK(deps.size() == 78);
  CHECK(RequireDependency(deps, "pkg:pypi/certifi@2026.4.22").line == 87);
  CHECK(RequireDependency(deps, "pkg:pypi/zipp@3.23.1").line == 2139);
  const auto& core = RequireDependency(deps, "pkg:pypi/poetry-core@2.4.1");
  CHECK(core.line == 1403);
  CHECK(core.origin == Origin::kGit);
  CHECK(core.origin_detail ==
        "https://github.com/python-poetry/poetry-core.git#e3998b0e111dc03e4aa721fd054c48e5c7de6fc5");
}

TEST_CASE("poetry: textual's poetry.lock gives 111 packages with their groups", "[lockfile]") {
  auto deps = ParseFixture(Format::kPoetryLock, "real/poetry/Textualize-textual-poetry.lock");
  CHECK(deps.size() == 111);
  const auto& rich = RequireDependency(deps, "pkg:pypi/rich@14.2.0");
  CHECK(rich.line == 2331);
  CHECK(rich.note == "dev");  // groups = ["main", "dev"]: "main" goes without saying
  const auto& dev = RequireDependency(deps, "pkg:pypi/textual-dev@1.8.0");
  CHECK(dev.line == 2401);
  CHECK(dev.note == "dev");
  CHECK(RequireDependency(deps, "pkg:pypi/zipp@3.23.0").line == 3162);
}

TEST_CASE("uv: pydantic's uv.lock gives 176 packages, its two own members as workspace", "[lockfile]") {
  auto deps = ParseFixture(Format::kUvLock, "real/uv/pydantic-pydantic-uv.lock");
  CHECK(deps.size() == 176);
  CHECK(std::count_if(deps.begin(), deps.end(),
                      [](const auto& d) { return d.origin == Origin::kWorkspace; }) == 2);
  const auto& root = RequireDependency(deps, "pkg:pypi/pydantic");  // editable "." without a version
  CHECK(root.line == 2416);
  CHECK(root.origin == Origin::kWorkspace);
  CHECK(RequireDependency(deps, "pkg:pypi/pydantic-core").origin_detail == "pydantic-core");
  const auto& docs = RequireDependency(deps, "pkg:pypi/pydantic-docs@0.0.1");
  CHECK(docs.line == 2755);
  CHECK(docs.origin == Origin::kGit);
  CHECK(docs.origin_detail ==
        "https://github.com/pydantic/pydantic-docs#6f657b30593b00cf5f7c0b7eca74e83b3b6b7819");
  CHECK(RequireDependency(deps, "pkg:pypi/zipp@3.21.0").line == 4145);
}

TEST_CASE("pipfile: pipenv's Pipfile.lock gives 105 unique packages over default and develop", "[lockfile]") {
  auto deps = ParseFixture(Format::kPipfileLock, "real/pipfile/pypa-pipenv-Pipfile.lock");
  CHECK(deps.size() == 105);
  const auto& exceptiongroup = RequireDependency(deps, "pkg:pypi/exceptiongroup@1.3.1");
  CHECK(exceptiongroup.line == 17);
  CHECK(exceptiongroup.note.empty());
  const auto& dev_exceptiongroup = RequireDependency(deps, "pkg:pypi/exceptiongroup@1.1.0");
  CHECK(dev_exceptiongroup.line == 690);
  CHECK(dev_exceptiongroup.note == "develop");
  // pytest 9.0.3 is pinned in both sections: listed once, where `default` has it.
  CHECK(std::count_if(deps.begin(), deps.end(), [](const auto& d) {
          return core::FormatPurl(d.purl) == "pkg:pypi/pytest@9.0.3";
        }) == 1);
  CHECK(RequireDependency(deps, "pkg:pypi/pytest@9.0.3").line == 57);
  CHECK(RequireDependency(deps, "pkg:pypi/pytest@9.0.3").note.empty());
}

// --- requirements.txt ---

TEST_CASE("requirements: comments after whitespace and on their own lines are skipped", "[lockfile]") {
  auto deps = ParseFixture(Format::kRequirements, "scalibr/requirements/comments.txt");
  CHECK(PurlsOf(deps) == std::vector<std::string>{"pkg:pypi/pycrypto@1.2-alpha", "pkg:pypi/gmpy2@1",
                                                  "pkg:pypi/sympy@1.2", "pkg:pypi/requests@1.0",
                                                  "pkg:pypi/six@1.2"});
  CHECK(deps[3].line == 7);
  CHECK(deps[4].line == 8);
}

TEST_CASE("requirements: only == and === pin; ranges and wildcards are listed as not pinned", "[lockfile]") {
  auto deps = ParseFixture(Format::kRequirements, "scalibr/requirements/with_versions.txt");
  // osv-scalibr reports `>=0.2.2` as version 0.2.2; a check cannot judge a version that
  // pip may not install, so it stays empty here.
  CHECK(PurlsOf(deps) ==
        std::vector<std::string>{"pkg:pypi/nltk@3.2.2", "pkg:pypi/tabulate@0.7.7", "pkg:pypi/newspaper3k",
                                 "pkg:pypi/asdf", "pkg:pypi/qwerty@0.1", "pkg:pypi/hy-phen@1.2",
                                 "pkg:pypi/under-score@1.3", "pkg:pypi/pkg-dot-name@5.0.0",
                                 "pkg:pypi/combination-also-valid", "pkg:pypi/yolo@1.0", "pkg:pypi/pkg"});
  CHECK(deps[2].note == "not pinned");  // newspaper3k>=0.2.2
  CHECK(deps[3].note == "not pinned");  // asdf==0.7.*
  CHECK(deps[0].note.empty());
  CHECK(deps[4].line == 5);  // `qwerty \` continued with `== 0.1`
  CHECK(deps[5].line == 7);
}

TEST_CASE("requirements: -r includes are read, their packages name the included file", "[lockfile]") {
  auto deps = ParseFixture(Format::kRequirements, "scalibr/requirements/example.txt");
  CHECK(PurlsOf(deps) == std::vector<std::string>{"pkg:pypi/pytest", "pkg:pypi/pytest-cov",
                                                  "pkg:pypi/beautifulsoup4", "pkg:pypi/docopt@0.6.1",
                                                  "pkg:pypi/requests", "pkg:pypi/urllib3", "pkg:pypi/keyring",
                                                  "pkg:pypi/coverage", "pkg:pypi/mopidy-dirble",
                                                  "pkg:pypi/pandas@2.2.3", "pkg:pypi/numpy@1.9.2",
                                                  "pkg:pypi/wxpython-phoenix@3.0.3.dev1820%2B49a8884"});
  const auto& pandas = RequireDependency(deps, "pkg:pypi/pandas@2.2.3");
  CHECK(pandas.line == 1);
  CHECK(pandas.file == LockfileFixturePath("scalibr/requirements/other-requirements.txt"));
  CHECK(RequireDependency(deps, "pkg:pypi/docopt@0.6.1").file ==
        LockfileFixturePath("scalibr/requirements/example.txt"));
  // Environment markers are kept as text; `-c constraints.txt` (absent) is not read.
  CHECK(RequireDependency(deps, "pkg:pypi/requests").note == "not pinned; python_version < \"2.7\"");
}

TEST_CASE("requirements: URL and path requirements are listed with their origin", "[lockfile]") {
  auto deps = ParseFixture(Format::kRequirements, "scalibr/requirements/example.txt");
  const auto& urllib3 = RequireDependency(deps, "pkg:pypi/urllib3");
  CHECK(urllib3.line == 10);
  CHECK(urllib3.origin == Origin::kUrl);
  CHECK(urllib3.origin_detail == "https://github.com/urllib3/urllib3/archive/refs/tags/1.26.8.zip");
  const auto& numpy =
      RequireDependency(deps, "pkg:pypi/numpy@1.9.2");  // name and version from the wheel's name
  CHECK(numpy.origin == Origin::kPath);
  CHECK(numpy.origin_detail == "./downloads/numpy-1.9.2-cp34-none-win32.whl");
  CHECK(RequireDependency(deps, "pkg:pypi/wxpython-phoenix@3.0.3.dev1820%2B49a8884").origin == Origin::kUrl);

  auto inline_deps =
      ParseText(Format::kRequirements, "proj/requirements.txt",
                "-e git+https://github.com/org/tool.git@v1.2#egg=the-tool\n"
                "-e ./libs/helper\n"
                "-e .\n"
                "lib @ git+ssh://git@github.com/org/lib.git@abc123 ; python_version >= \"3.8\"\n"
                "other@https://example.com/other-2.0.tar.gz\n");
  REQUIRE(inline_deps.ok());
  const auto& tool = RequireDependency(*inline_deps, "pkg:pypi/the-tool");
  CHECK(tool.origin == Origin::kGit);
  CHECK(tool.origin_detail == "https://github.com/org/tool.git#v1.2");
  CHECK(tool.note == "editable");
  CHECK(RequireDependency(*inline_deps, "pkg:pypi/helper").origin == Origin::kWorkspace);
  CHECK(RequireDependency(*inline_deps, "pkg:pypi/proj").origin ==
        Origin::kWorkspace);  // `-e .` is the project itself
  const auto& lib = RequireDependency(*inline_deps, "pkg:pypi/lib");
  CHECK(lib.origin == Origin::kGit);
  CHECK(lib.origin_detail == "ssh://git@github.com/org/lib.git#abc123");
  CHECK(lib.note == "python_version >= \"3.8\"");
  CHECK(RequireDependency(*inline_deps, "pkg:pypi/other@2.0").origin == Origin::kUrl);
}

TEST_CASE("requirements: extras are not part of the name", "[lockfile]") {
  auto deps = ParseFixture(Format::kRequirements, "scalibr/requirements/extras.txt");
  CHECK(PurlsOf(deps) == std::vector<std::string>{"pkg:pypi/pyjwt@2.1.0", "pkg:pypi/celery@4.4.7"});
}

TEST_CASE("requirements: a version from an environment variable is not pinned", "[lockfile]") {
  auto deps = ParseFixture(Format::kRequirements, "scalibr/requirements/env_var.txt");
  CHECK(PurlsOf(deps) ==
        std::vector<std::string>{"pkg:pypi/asdf@1.2", "pkg:pypi/qwert", "pkg:pypi/another@1.0"});
  CHECK(deps[1].note == "not pinned");
}

TEST_CASE("requirements: per-requirement options such as --hash are cut off", "[lockfile]") {
  auto deps = ParseFixture(Format::kRequirements, "scalibr/requirements/per_req_options.txt");
  CHECK(PurlsOf(deps) == std::vector<std::string>{
                             "pkg:pypi/foo1@1.0", "pkg:pypi/foo2@1.0", "pkg:pypi/foo3@1.0",
                             "pkg:pypi/foo4@1.0", "pkg:pypi/foo5@1.0", "pkg:pypi/foo6@1.0",
                             "pkg:pypi/foo7@1.0", "pkg:pypi/foo8@1.0", "pkg:pypi/foo9@1.0", "pkg:pypi/foo10",
                             "pkg:pypi/foo11@1.0", "pkg:pypi/foo12@1.0", "pkg:pypi/foo13@1.0",
                             "pkg:pypi/foo14@1.0", "pkg:pypi/foo15", "pkg:pypi/foo16-client@1.0",
                             "pkg:pypi/foo17-hash@1.0", "pkg:pypi/foo18-client@1.0"});
  CHECK(deps[4].note == "python_version < \"2.7\"");  // foo5==1.0; python_version < "2.7" --hash=...
  CHECK(deps[6].note == "ignored text: unexpected_text_before_options_stays_around");
  CHECK(deps[8].line == 17);            // foo9, continued with `\`
  CHECK(deps[9].note == "not pinned");  // foo10== --hash=...
  CHECK(deps[10].line == 22);           // `#` inside a hash is not a comment
}

TEST_CASE("requirements: continuations start at their first line; a final backslash ends the file",
          "[lockfile]") {
  auto deps = ParseFixture(Format::kRequirements, "scalibr/requirements/multiline_and_comments.txt");
  CHECK(PurlsOf(deps) == std::vector<std::string>{"pkg:pypi/pkga@1.0", "pkg:pypi/pkgb@2.0"});
  CHECK(deps[0].line == 3);
  CHECK(deps[1].line == 7);
  CHECK(PurlsOf(ParseFixture(Format::kRequirements, "scalibr/requirements/trailing_backslash.txt")) ==
        std::vector<std::string>{"pkg:pypi/pkg1@1.0"});
  auto crlf = ParseText(Format::kRequirements, "r.txt", "a==1.0 \\\r\n  --hash=sha256:1\r\nb==2.0\r\n");
  REQUIRE(crlf.ok());
  CHECK(PurlsOf(*crlf) == std::vector<std::string>{"pkg:pypi/a@1.0", "pkg:pypi/b@2.0"});
}

TEST_CASE("requirements: bare names are listed as not pinned", "[lockfile]") {
  auto deps = ParseFixture(Format::kRequirements, "scalibr/requirements/no_version.txt");
  CHECK(PurlsOf(deps) == std::vector<std::string>{"pkg:pypi/pycrypto", "pkg:pypi/gmpy2", "pkg:pypi/sympy"});
  for (const auto& dependency : deps) CHECK(dependency.note == "not pinned");
}

TEST_CASE("requirements: an include loop stops at a file already read", "[lockfile]") {
  CHECK(ParseFixture(Format::kRequirements, "scalibr/requirements/loop.txt").empty());
  CHECK(ParseFixture(Format::kRequirements, "scalibr/requirements/other-loop.txt").empty());
  auto looped =
      ParseText(Format::kRequirements, "top.txt", "a==1\n-r sub/b.txt\n",
                {{"sub/b.txt", "b==2\n--requirement=../top.txt\n-r c.txt\n"}, {"sub/c.txt", "c==3\n"}});
  REQUIRE(looped.ok());
  CHECK(PurlsOf(*looped) == std::vector<std::string>{"pkg:pypi/a@1", "pkg:pypi/b@2", "pkg:pypi/c@3"});
  CHECK((*looped)[2].file == "sub/c.txt");  // included files are named from the top file's folder
  CHECK((*looped)[0].file == "top.txt");
}

TEST_CASE("requirements: a line that is not a requirement is an error naming file and line", "[lockfile]") {
  std::string message = ParseFixtureError(Format::kRequirements, "scalibr/requirements/invalid.txt");
  CHECK(message == LockfileFixturePath("scalibr/requirements/invalid.txt") +
                       ":2: expected a requirement such as `name==1.0`, got `==1.0`");
  auto spaced = ParseText(Format::kRequirements, "r.txt", "ok==1\nasdf 1.0\n");
  REQUIRE_FALSE(spaced.ok());
  CHECK(spaced.status().message() == "r.txt:2: expected a requirement such as `name==1.0`, got `asdf 1.0`");
  auto option = ParseText(Format::kRequirements, "r.txt", "--frobnicate x\n");
  REQUIRE_FALSE(option.ok());
  CHECK(option.status().message().starts_with("r.txt:1: expected a requirement or a pip option"));
  // Global options say nothing about packages and are skipped.
  auto global = ParseText(Format::kRequirements, "r.txt",
                          "--index-url https://example.com/simple\n-i x\n--require-hashes\n-c c.txt\nz==1\n");
  REQUIRE(global.ok());
  CHECK(PurlsOf(*global) == std::vector<std::string>{"pkg:pypi/z@1"});
}

TEST_CASE("requirements: a missing include or an error inside one names both files", "[lockfile]") {
  auto missing = ParseText(Format::kRequirements, "r.txt", "a==1\n-r gone.txt\n");
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.status().message() == "r.txt:2: cannot read `-r gone.txt`: no such file: gone.txt");
  auto nested = ParseText(Format::kRequirements, "r.txt", "-r b.txt\n", {{"b.txt", "ok==1\n!!\n"}});
  REQUIRE_FALSE(nested.ok());
  CHECK(nested.status().message() ==
        "r.txt:1: b.txt:2: expected a requirement such as `name==1.0`, got `!!`");
  LockfileInput no_reader;
  no_reader.path = "r.txt";
  no_reader.text = "-r b.txt\n";
  auto refused = ParseLockfile(Format::kRequirements, no_reader);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.status().message().starts_with("r.txt:1: cannot read `-r b.txt`"));
}

// --- poetry.lock ---

TEST_CASE("poetry: packages are read at their name line", "[lockfile]") {
  auto one = ParseFixture(Format::kPoetryLock, "scalibr/poetrylock/one-package.lock");
  CHECK(PurlsOf(one) == std::vector<std::string>{"pkg:pypi/numpy@1.23.3"});
  CHECK(one[0].line == 2);
  CHECK(one[0].note.empty());  // category "main"
  auto two = ParseFixture(Format::kPoetryLock, "scalibr/poetrylock/two-packages.lock");
  CHECK(PurlsOf(two) == std::vector<std::string>{"pkg:pypi/proto-plus@1.22.0", "pkg:pypi/protobuf@4.21.5"});
  CHECK(two[1].line == 16);
  CHECK(PurlsOf(ParseFixture(Format::kPoetryLock, "scalibr/poetrylock/one-package-with-metadata.lock")) ==
        std::vector<std::string>{"pkg:pypi/emoji@2.0.0"});
  auto outside = ParseFixture(Format::kPoetryLock, "scalibr/poetrylock/names-outside-package-block.lock");
  CHECK(PurlsOf(outside) ==
        std::vector<std::string>{"pkg:pypi/first-pkg@1.0.0", "pkg:pypi/second-pkg@2.0.0"});
  CHECK(outside[0].line == 5);
  CHECK(outside[1].line == 18);
}

TEST_CASE("poetry: v2 groups and optional packages become notes", "[lockfile]") {
  auto deps = ParseFixture(Format::kPoetryLock, "scalibr/poetrylock/multiple-packages.v2.lock");
  CHECK(PurlsOf(deps) ==
        std::vector<std::string>{
            "pkg:pypi/async-timeout@5.0.1", "pkg:pypi/factory-boy@3.3.1", "pkg:pypi/faker@33.3.0",
            "pkg:pypi/proto-plus@1.22.0", "pkg:pypi/proto-plus@1.23.0", "pkg:pypi/protobuf@4.25.5",
            "pkg:pypi/python-dateutil@2.9.0.post0", "pkg:pypi/redis@5.2.1", "pkg:pypi/six@1.17.0",
            "pkg:pypi/typing-extensions@4.12.2", "pkg:pypi/urllib3@2.3.0"});
  CHECK(deps[0].note == "optional");
  CHECK(deps[1].note == "dev");
  CHECK(deps[2].note == "dev, test");
  CHECK(deps[3].note.empty());
  CHECK(deps[4].line == 71);
  auto optional = ParseFixture(Format::kPoetryLock, "scalibr/poetrylock/optional-package.lock");
  CHECK(optional[0].note == "optional");
}

TEST_CASE("poetry: git sources carry the resolved commit; legacy sources stay registry", "[lockfile]") {
  auto git = ParseFixture(Format::kPoetryLock, "scalibr/poetrylock/source-git.lock");
  CHECK(PurlsOf(git) == std::vector<std::string>{"pkg:pypi/ike@0.2.0"});
  CHECK(git[0].origin == Origin::kGit);
  CHECK(git[0].origin_detail == "https://github.com/dzshn/ike#cd66602cd29f61a2d2e7fb995fef1e61708c034d");
  auto legacy = ParseFixture(Format::kPoetryLock, "scalibr/poetrylock/source-legacy.lock");
  CHECK(PurlsOf(legacy) == std::vector<std::string>{"pkg:pypi/appdirs@1.4.4"});
  CHECK(legacy[0].origin == Origin::kRegistry);
  CHECK(legacy[0].note == "index https://piwheels.org/simple");
  auto local =
      ParseText(Format::kPoetryLock, "poetry.lock",
                "[[package]]\nname = \"a\"\nversion = \"1\"\n[package.source]\ntype = \"directory\"\n"
                "url = \"libs/a\"\n[[package]]\nname = \"b\"\nversion = \"2\"\ndevelop = true\n"
                "[package.source]\ntype = \"directory\"\nurl = \".\"\n[[package]]\nname = \"c\"\n"
                "version = \"3\"\n[package.source]\ntype = \"url\"\nurl = \"https://x/c-3.tar.gz\"\n");
  REQUIRE(local.ok());
  CHECK((*local)[0].origin == Origin::kPath);
  CHECK((*local)[1].origin == Origin::kWorkspace);
  CHECK((*local)[2].origin == Origin::kUrl);
  CHECK((*local)[2].origin_detail == "https://x/c-3.tar.gz");
}

TEST_CASE("poetry: empty locks are empty; other text is an error naming what was expected", "[lockfile]") {
  CHECK(ParseFixture(Format::kPoetryLock, "scalibr/poetrylock/empty-file.lock").empty());
  CHECK(ParseFixture(Format::kPoetryLock, "scalibr/poetrylock/empty.lock").empty());
  std::string message = ParseFixtureError(Format::kPoetryLock, "scalibr/poetrylock/not-toml.txt");
  CHECK(message.starts_with(LockfileFixturePath("scalibr/poetrylock/not-toml.txt") + ":1: not valid TOML: "));
  auto not_tables = ParseText(Format::kPoetryLock, "poetry.lock", "\n\npackage = \"numpy\"\n");
  REQUIRE_FALSE(not_tables.ok());
  CHECK(not_tables.status().message() == "poetry.lock:3: expected `[[package]]` tables");
  auto no_name = ParseText(Format::kPoetryLock, "poetry.lock", "[[package]]\nname = 7\nversion = \"1\"\n");
  REQUIRE_FALSE(no_name.ok());
  CHECK(no_name.status().message() == "poetry.lock:1: expected a `name` string in each `[[package]]` table");
}

// --- Pipfile.lock ---

TEST_CASE("pipfile: default and develop packages, `==` stripped, develop noted", "[lockfile]") {
  auto one = ParseFixture(Format::kPipfileLock, "scalibr/pipfilelock/one-package.json");
  CHECK(PurlsOf(one) == std::vector<std::string>{"pkg:pypi/markupsafe@2.1.1"});
  CHECK(one[0].line == 19);
  CHECK(one[0].note.empty());
  auto dev = ParseFixture(Format::kPipfileLock, "scalibr/pipfilelock/one-package-dev.json");
  CHECK(dev[0].line == 20);
  CHECK(dev[0].note == "develop");
  auto two = ParseFixture(Format::kPipfileLock, "scalibr/pipfilelock/two-packages.json");
  CHECK(PurlsOf(two) == std::vector<std::string>{"pkg:pypi/itsdangerous@2.1.2", "pkg:pypi/markupsafe@2.1.1"});
  CHECK(two[1].line == 29);
  CHECK(two[1].note == "develop");
  auto alt = ParseFixture(Format::kPipfileLock, "scalibr/pipfilelock/two-packages-alt.json");
  CHECK(alt[1].line == 27);
}

TEST_CASE("pipfile: the same package at two versions is listed twice, at one version once", "[lockfile]") {
  auto deps = ParseFixture(Format::kPipfileLock, "scalibr/pipfilelock/multiple-packages.json");
  CHECK(PurlsOf(deps) == std::vector<std::string>{"pkg:pypi/itsdangerous@2.1.2", "pkg:pypi/pluggy@1.0.1",
                                                  "pkg:pypi/markupsafe@2.1.1", "pkg:pypi/pluggy@1.0.0"});
  CHECK(deps[1].line == 27);
  CHECK(deps[2].line == 32);
  CHECK(deps[3].line == 88);
}

TEST_CASE("pipfile: minified files are on line 1; entries without a version are git packages", "[lockfile]") {
  auto minified = ParseFixture(Format::kPipfileLock, "scalibr/pipfilelock/minified.json");
  CHECK(PurlsOf(minified) == std::vector<std::string>{"pkg:pypi/markupsafe@2.1.1"});
  CHECK(minified[0].line == 1);
  // osv-scalibr drops these; a check lists them so the reader sees every source.
  auto git = ParseFixture(Format::kPipfileLock, "scalibr/pipfilelock/no-version.json");
  CHECK(PurlsOf(git) == std::vector<std::string>{"pkg:pypi/markupsafe", "pkg:pypi/itsdangerous"});
  CHECK(git[0].origin == Origin::kGit);
  CHECK(git[0].origin_detail ==
        "https://github.com/pallets/markupsafe#b36054111bc1e8bbadb5d0d60158feb72926f467");
  CHECK(git[1].note == "develop");
  auto local = ParseText(Format::kPipfileLock, "Pipfile.lock",
                         R"({"default": {"me": {"editable": true, "path": "."}, "lib": {"path": "./lib"},
                             "w": {"file": "https://x/w-1.whl"}, "p": {"version": "==1", "index": "corp"}},
                             "_meta": {"sources": [{"name": "corp", "url": "https://corp/simple"}]}})");
  REQUIRE(local.ok());
  CHECK((*local)[0].origin == Origin::kWorkspace);
  CHECK((*local)[1].origin == Origin::kPath);
  CHECK((*local)[2].origin == Origin::kUrl);
  CHECK((*local)[3].origin == Origin::kRegistry);
  CHECK((*local)[3].note == "index https://corp/simple");
}

TEST_CASE("pipfile: empty files are empty; other text is an error naming what was expected", "[lockfile]") {
  CHECK(ParseFixture(Format::kPipfileLock, "scalibr/pipfilelock/empty.json").empty());
  CHECK(ParseFixture(Format::kPipfileLock, "scalibr/pipfilelock/empty-file").empty());
  std::string message = ParseFixtureError(Format::kPipfileLock, "scalibr/pipfilelock/not-json.txt");
  CHECK(
      message.starts_with(LockfileFixturePath("scalibr/pipfilelock/not-json.txt") + ":1: not valid JSON: "));
  auto array = ParseText(Format::kPipfileLock, "Pipfile.lock", "[1, 2]");
  REQUIRE_FALSE(array.ok());
  CHECK(array.status().message() ==
        "Pipfile.lock: expected a JSON object with `default` and `develop` sections");
  auto section = ParseText(Format::kPipfileLock, "Pipfile.lock", "{\n \"default\": []\n}");
  REQUIRE_FALSE(section.ok());
  CHECK(section.status().message() == "Pipfile.lock:2: expected `default` to be an object of packages");
  auto entry = ParseText(Format::kPipfileLock, "Pipfile.lock", "{\"develop\": {\n\"a\": \"==1\"}}");
  REQUIRE_FALSE(entry.ok());
  CHECK(entry.status().message() == "Pipfile.lock:2: expected an object for the package `a`");
}

// --- uv.lock ---

TEST_CASE("uv: registry and git packages, the virtual root as workspace", "[lockfile]") {
  auto one = ParseFixture(Format::kUvLock, "scalibr/uvlock/one-package.lock");
  // osv-scalibr skips the root; it is listed here as the project itself, never looked up.
  CHECK(PurlsOf(one) == std::vector<std::string>{"pkg:pypi/emoji@2.14.0", "pkg:pypi/uv-lockfiles@0.1.0"});
  CHECK(one[0].line == 5);
  CHECK(one[1].origin == Origin::kWorkspace);
  CHECK(PurlsOf(ParseFixture(Format::kUvLock, "scalibr/uvlock/two-packages.lock")) ==
        std::vector<std::string>{"pkg:pypi/emoji@2.14.0", "pkg:pypi/protobuf@4.25.5",
                                 "pkg:pypi/uv-lockfiles@0.1.0"});
  auto git = ParseFixture(Format::kUvLock, "scalibr/uvlock/source-git.lock");
  CHECK(git[0].line == 5);
  CHECK(git[0].origin == Origin::kGit);
  CHECK(git[0].origin_detail == "https://github.com/astral-sh/ruff#84748be16341b76e073d117329f7f5f4ee2941ad");
  auto outside = ParseFixture(Format::kUvLock, "scalibr/uvlock/names-outside-package-block.lock");
  CHECK(PurlsOf(outside) ==
        std::vector<std::string>{"pkg:pypi/first-pkg@1.0.0", "pkg:pypi/second-pkg@2.0.0"});
  CHECK(outside[1].line == 18);
  auto sources = ParseText(
      Format::kUvLock, "uv.lock",
      "[[package]]\nname = \"a\"\nversion = \"1\"\nsource = { registry = \"https://corp/simple\" }\n"
      "[[package]]\nname = \"b\"\nversion = \"2\"\nsource = { path = \"dist/b-2.whl\" }\n"
      "[[package]]\nname = \"c\"\nversion = \"3\"\nsource = { url = \"https://x/c-3.zip\" }\n"
      "[[package]]\nname = \"d\"\nversion = \"4\"\nsource = { directory = \"libs/d\" }\n");
  REQUIRE(sources.ok());
  CHECK((*sources)[0].origin == Origin::kRegistry);
  CHECK((*sources)[0].note == "index https://corp/simple");
  CHECK((*sources)[1].origin == Origin::kPath);
  CHECK((*sources)[2].origin == Origin::kUrl);
  CHECK((*sources)[3].origin_detail == "libs/d");
}

TEST_CASE("uv: the root's extras and dependency groups name its direct dependencies' groups", "[lockfile]") {
  auto deps = ParseFixture(Format::kUvLock, "scalibr/uvlock/grouped-packages.lock");
  CHECK(deps.size() == 15);
  CHECK(RequireDependency(deps, "pkg:pypi/black@24.10.0").note == "dev, test");
  CHECK(RequireDependency(deps, "pkg:pypi/click@8.1.7").note == "cli");
  CHECK(RequireDependency(deps, "pkg:pypi/click@8.1.7").line == 39);
  CHECK(RequireDependency(deps, "pkg:pypi/flake8@7.1.1").note == "test");
  CHECK(RequireDependency(deps, "pkg:pypi/emoji@2.14.0").note.empty());
  CHECK(RequireDependency(deps, "pkg:pypi/typing-extensions@4.12.2").line == 185);
}

TEST_CASE("uv: empty locks are empty; other text is an error naming what was expected", "[lockfile]") {
  CHECK(ParseFixture(Format::kUvLock, "scalibr/uvlock/empty.lock").empty());
  CHECK(ParseFixture(Format::kUvLock, "scalibr/uvlock/no-packages.lock").empty());
  CHECK(PurlsOf(ParseFixture(Format::kUvLock, "scalibr/uvlock/no-dependencies.lock")) ==
        std::vector<std::string>{"pkg:pypi/uv-lockfiles@0.1.0"});
  std::string message = ParseFixtureError(Format::kUvLock, "scalibr/uvlock/not-toml.txt");
  CHECK(message.starts_with(LockfileFixturePath("scalibr/uvlock/not-toml.txt") + ":1: not valid TOML: "));
  auto not_tables = ParseText(Format::kUvLock, "uv.lock", "version = 1\npackage = [1, 2]\n");
  REQUIRE_FALSE(not_tables.ok());
  CHECK(not_tables.status().message().starts_with("uv.lock:2: expected `[[package]]` tables"));
}

// --- pdm.lock ---

TEST_CASE("pdm: packages with their groups other than default", "[lockfile]") {
  auto deps = ParseFixture(Format::kPdmLock, "scalibr/pdmlock/dev-dependency.toml");
  CHECK(PurlsOf(deps) == std::vector<std::string>{"pkg:pypi/pyroute2@0.7.11", "pkg:pypi/toml@0.10.2",
                                                  "pkg:pypi/win-inet-pton@1.1.0"});
  CHECK(deps[0].line == 11);
  CHECK(deps[0].note == "dev");
  CHECK(deps[1].note.empty());
  CHECK(deps[2].line == 34);
  auto optional = ParseFixture(Format::kPdmLock, "scalibr/pdmlock/optional-dependency.toml");
  CHECK(optional[0].note == "tmp");
  CHECK(PurlsOf(ParseFixture(Format::kPdmLock, "scalibr/pdmlock/single-package.toml")) ==
        std::vector<std::string>{"pkg:pypi/toml@0.10.2"});
  auto two = ParseFixture(Format::kPdmLock, "scalibr/pdmlock/two-packages.toml");
  CHECK(PurlsOf(two) == std::vector<std::string>{"pkg:pypi/six@1.16.0", "pkg:pypi/toml@0.10.2"});
  CHECK(two[1].line == 22);
  auto outside = ParseFixture(Format::kPdmLock, "scalibr/pdmlock/names-outside-package-block.toml");
  CHECK(PurlsOf(outside) ==
        std::vector<std::string>{"pkg:pypi/first-pkg@1.0.0", "pkg:pypi/second-pkg@2.0.0"});
  CHECK(outside[1].line == 26);
}

TEST_CASE("pdm: git packages carry their revision", "[lockfile]") {
  auto deps = ParseFixture(Format::kPdmLock, "scalibr/pdmlock/git-dependency.toml");
  CHECK(PurlsOf(deps) == std::vector<std::string>{"pkg:pypi/toml@0.10.2"});
  CHECK(deps[0].origin == Origin::kGit);
  CHECK(deps[0].origin_detail == "https://github.com/uiri/toml.git#65bab7582ce14c55cdeec2244c65ea23039c9e6f");
}

TEST_CASE("pdm: empty locks are empty; other text is an error naming what was expected", "[lockfile]") {
  CHECK(ParseFixture(Format::kPdmLock, "scalibr/pdmlock/empty-file.toml").empty());
  CHECK(ParseFixture(Format::kPdmLock, "scalibr/pdmlock/empty.toml").empty());
  std::string message = ParseFixtureError(Format::kPdmLock, "scalibr/pdmlock/not-toml.txt");
  CHECK(message.starts_with(LockfileFixturePath("scalibr/pdmlock/not-toml.txt") + ":1: not valid TOML: "));
}

// --- pylock.toml ---

TEST_CASE("pylock: index, vcs and directory packages", "[lockfile]") {
  auto deps = ParseFixture(Format::kPylock, "scalibr/pylock/commits.toml");
  // osv-scalibr skips the editable project folder; it is listed here as the project itself.
  CHECK(PurlsOf(deps) == std::vector<std::string>{"pkg:pypi/click@8.2.1", "pkg:pypi/mleroc@0.1.0",
                                                  "pkg:pypi/net-inf-eval", "pkg:pypi/packaging@24.2",
                                                  "pkg:pypi/pathspec@0.12.1",
                                                  "pkg:pypi/python-dateutil@2.9.0.post0",
                                                  "pkg:pypi/scikit-learn@1.6.1", "pkg:pypi/tqdm@4.67.1"});
  CHECK(deps[0].line == 8);
  CHECK(deps[1].origin == Origin::kGit);
  CHECK(deps[1].origin_detail ==
        "https://github.com/Veggente/mleroc.git#735093f03c4d8be70bfaaae44074ac92d7419b6d");
  CHECK(deps[2].origin == Origin::kWorkspace);
  CHECK(deps[7].line == 72);
  auto archive = ParseText(Format::kPylock, "pylock.toml",
                           "lock-version = \"1.0\"\n[[packages]]\nname = \"a\"\nversion = \"1\"\n"
                           "archive = { url = \"https://x/a-1.tar.gz\" }\n[[packages]]\nname = \"b\"\n"
                           "directory = { path = \"libs/b\" }\n");
  REQUIRE(archive.ok());
  CHECK((*archive)[0].origin == Origin::kUrl);
  CHECK((*archive)[1].origin == Origin::kPath);
}

TEST_CASE("pylock: files written by pip, PDM and by hand", "[lockfile]") {
  auto example = ParseFixture(Format::kPylock, "scalibr/pylock/example.toml");
  CHECK(PurlsOf(example) ==
        std::vector<std::string>{"pkg:pypi/attrs@25.1.0", "pkg:pypi/cattrs@24.1.2", "pkg:pypi/numpy@2.2.3"});
  CHECK(example[2].line == 31);
  auto pip = ParseFixture(Format::kPylock, "scalibr/pylock/pip-full.toml");
  CHECK(PurlsOf(pip) == std::vector<std::string>{"pkg:pypi/annotated-types@0.7.0", "pkg:pypi/packaging@25.0",
                                                 "pkg:pypi/pyproject-toml@0.1.0",
                                                 "pkg:pypi/setuptools@80.9.0", "pkg:pypi/wheel@0.45.1"});
  CHECK(pip[4].line == 49);
  auto pdm = ParseFixture(Format::kPylock, "scalibr/pylock/pdm-full.toml");
  CHECK(pdm.size() == 10);
  CHECK(RequireDependency(pdm, "pkg:pypi/urllib3@1.26.20").line == 128);
  auto self = ParseFixture(Format::kPylock, "scalibr/pylock/pip-just-self.toml");
  CHECK(PurlsOf(self) == std::vector<std::string>{"pkg:pypi/hspaans-github-io"});
  CHECK(self[0].origin == Origin::kWorkspace);
  CHECK(self[0].line == 4);
  auto outside = ParseFixture(Format::kPylock, "scalibr/pylock/names-outside-package-block.toml");
  CHECK(PurlsOf(outside) ==
        std::vector<std::string>{"pkg:pypi/first-pkg@1.0.0", "pkg:pypi/second-pkg@2.0.0"});
  CHECK(outside[1].line == 20);
}

TEST_CASE("pylock: empty files are empty; other text is an error naming what was expected", "[lockfile]") {
  CHECK(ParseFixture(Format::kPylock, "scalibr/pylock/empty.toml").empty());
  std::string message = ParseFixtureError(Format::kPylock, "scalibr/pylock/not-toml.txt");
  CHECK(message.starts_with(LockfileFixturePath("scalibr/pylock/not-toml.txt") + ":1: not valid TOML: "));
  auto not_tables = ParseText(Format::kPylock, "pylock.toml", "packages = \"x\"\n");
  REQUIRE_FALSE(not_tables.ok());
  CHECK(not_tables.status().message() == "pylock.toml:1: expected `[[packages]]` tables");
}

// --- every fixture ---

TEST_CASE("requirements, poetry, pipfile, uv, pdm, pylock: every scalibr fixture parses or names its file",
          "[lockfile]") {
  const std::pair<Format, std::string> kFolders[] = {
      {Format::kRequirements, "scalibr/requirements"}, {Format::kPoetryLock, "scalibr/poetrylock"},
      {Format::kPipfileLock, "scalibr/pipfilelock"},   {Format::kUvLock, "scalibr/uvlock"},
      {Format::kPdmLock, "scalibr/pdmlock"},           {Format::kPylock, "scalibr/pylock"}};
  const std::vector<std::string> kInvalid = {
      "scalibr/requirements/invalid.txt", "scalibr/poetrylock/not-toml.txt",
      "scalibr/pipfilelock/not-json.txt", "scalibr/uvlock/not-toml.txt",
      "scalibr/pdmlock/not-toml.txt",     "scalibr/pylock/not-toml.txt"};
  int files = 0;
  for (const auto& [format, folder] : kFolders) {
    for (const auto& entry : std::filesystem::directory_iterator(LockfileFixturePath(folder))) {
      std::string relative = folder + "/" + entry.path().filename().string();
      INFO(relative);
      ++files;
      if (std::find(kInvalid.begin(), kInvalid.end(), relative) != kInvalid.end()) {
        CHECK(ParseFixtureError(format, relative).starts_with(LockfileFixturePath(relative) + ":"));
      } else {
        ParseFixture(format, relative);
      }
    }
  }
  CHECK(files == 60);
}

TEST_CASE("requirements, poetry, pipfile, uv, pdm, pylock: cut or mistyped input is an error, never a crash",
          "[lockfile]") {
  const std::pair<Format, std::string> kFixtures[] = {
      {Format::kRequirements, "scalibr/requirements/per_req_options.txt"},
      {Format::kPoetryLock, "scalibr/poetrylock/multiple-packages.v2.lock"},
      {Format::kPipfileLock, "scalibr/pipfilelock/multiple-packages.json"},
      {Format::kUvLock, "scalibr/uvlock/grouped-packages.lock"},
      {Format::kPdmLock, "scalibr/pdmlock/dev-dependency.toml"},
      {Format::kPylock, "scalibr/pylock/commits.toml"}};
  for (const auto& [format, relative] : kFixtures) {
    LockfileInput whole = LockfileFixture(relative);
    for (std::size_t cut = 0; cut < whole.text.size(); cut += 97) {
      LockfileInput input = whole;
      input.text = whole.text.substr(0, cut);
      INFO(relative << " cut at " << cut);
      auto parsed = ParseLockfile(format, input);
      if (!parsed.ok()) CHECK(parsed.status().message().starts_with(input.path));
    }
  }
  // Fields of the wrong type read as missing.
  auto toml =
      "[[package]]\nname = \"a\"\nversion = 1\nsource = \"x\"\ngroups = \"dev\"\ncategory = []\n"
      "optional = \"yes\"\ngit = 3\npath = []\nvcs = 1\ndirectory = 2\narchive = []\nindex = {}\n";
  for (Format format : {Format::kPoetryLock, Format::kUvLock, Format::kPdmLock}) {
    auto parsed = ParseText(format, "lock", toml);
    REQUIRE(parsed.ok());
    CHECK(PurlsOf(*parsed) == std::vector<std::string>{"pkg:pypi/a"});
    CHECK((*parsed)[0].origin == Origin::kRegistry);
  }
  auto pylock = ParseText(Format::kPylock, "pylock.toml", std::string(toml).replace(2, 7, "packages"));
  REQUIRE(pylock.ok());
  CHECK(PurlsOf(*pylock) == std::vector<std::string>{"pkg:pypi/a"});
  auto pipfile =
      ParseText(Format::kPipfileLock, "Pipfile.lock",
                R"({"_meta": {"sources": 1}, "default": {"a": {"version": 1, "git": [], "index": {}}}})");
  REQUIRE(pipfile.ok());
  CHECK(PurlsOf(*pipfile) == std::vector<std::string>{"pkg:pypi/a"});
}

}  // namespace pkgtrust::lockfile
