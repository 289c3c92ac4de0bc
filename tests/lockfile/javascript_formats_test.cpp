// yarn.lock (classic and berry), pnpm-lock.yaml and bun.lock: the real lockfiles' counts
// (tests/fixtures/lockfiles/real/SOURCES.md) and osv-scalibr's parser fixtures, whose
// expected packages come from the *_test.go files beside scalibr's testdata.
#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "lockfile_test_support.hpp"

namespace pkgtrust::lockfile {
using namespace testing;

// --- real lockfiles ---------------------------------------------------------------------

TEST_CASE("yarn v1: webpack's lockfile locks 1,393 distinct packages", "[lockfile]") {
  auto deps = ParseFixture(Format::kYarnLock, "real/yarn-v1/webpack-webpack-yarn.lock");
  // SOURCES.md counts 1,397 blocks by the name in each header; 4 of them are npm aliases
  // ("prettier-2@npm:prettier@^2") of a package also locked under its own name at the
  // same version, so by the purl of what is installed there are 4 fewer.
  CHECK(deps.size() == 1393);
  const auto& babel = RequireDependency(deps, "pkg:npm/%40babel/core@7.29.7");
  CHECK(babel.line == 41);
  CHECK(babel.origin == Origin::kRegistry);
  CHECK(RequireDependency(deps, "pkg:npm/acorn@8.18.0").line == 2867);
  const auto& prettier = RequireDependency(deps, "pkg:npm/prettier@2.8.8");
  CHECK(prettier.line == 8391);  // the alias entry comes first and is kept
  CHECK(prettier.note == "alias prettier-2");
  const auto& tooling = RequireDependency(deps, "pkg:npm/tooling@1.28.1");
  CHECK(tooling.line == 9715);
  CHECK(tooling.origin == Origin::kGit);
  CHECK(tooling.origin_detail ==
        "https://github.com/webpack/tooling#4c13a00ac84cf0e2dd57c457cd1ce46faa9e456a");
  CHECK(std::count_if(deps.begin(), deps.end(),
                      [](const auto& d) { return d.origin != Origin::kRegistry; }) == 1);
}

TEST_CASE("yarn berry: prettier's lockfile locks 1,049 packages besides the project", "[lockfile]") {
  auto deps = ParseFixture(Format::kYarnLock, "real/yarn-berry/prettier-prettier-yarn.lock");
  CHECK(deps.size() == 1049);
  CHECK(RequireDependency(deps, "pkg:npm/%40babel/core@7.29.7").line == 45);
  CHECK(RequireDependency(deps, "pkg:npm/acorn@8.17.0").line == 3163);
  // typescript and fsevents are also locked as yarn's built-in patches of the same
  // version: one package each, at the unpatched entry's line.
  CHECK(RequireDependency(deps, "pkg:npm/typescript@6.0.3").line == 9453);
  CHECK(RequireDependency(deps, "pkg:npm/fsevents@2.3.3").line == 5148);
  for (const auto& dependency : deps) {
    INFO(core::FormatPurl(dependency.purl));
    CHECK(dependency.origin == Origin::kRegistry);  // the workspace root is not listed
    CHECK(dependency.line != 8238);                 // "prettier@workspace:."
  }
}

TEST_CASE("pnpm v9: vuejs core's lockfile locks 620 packages", "[lockfile]") {
  auto deps = ParseFixture(Format::kPnpmLock, "real/pnpm/vuejs-core-pnpm-lock.yaml");
  CHECK(deps.size() == 620);
  const auto& parser = RequireDependency(deps, "pkg:npm/%40babel/parser@7.29.8");
  CHECK(parser.line == 479);
  CHECK(parser.note.empty());  // a dependency of packages/compiler-core, not only dev
  CHECK(RequireDependency(deps, "pkg:npm/typescript@5.6.3").line == 3096);
  const auto& consolidate = RequireDependency(deps, "pkg:npm/%40vue/consolidate@1.0.0");
  CHECK(consolidate.line == 1616);
  CHECK(consolidate.note == "dev");
  CHECK(std::all_of(deps.begin(), deps.end(), [](const auto& d) { return d.origin == Origin::kRegistry; }));
}

// --- yarn -------------------------------------------------------------------------------

TEST_CASE("yarn: one package, classic and berry, at its header line", "[lockfile]") {
  auto v1 = ParseFixture(Format::kYarnLock, "scalibr/yarnlock/one-package.v1.lock");
  CHECK(PurlsOf(v1) == std::vector<std::string>{"pkg:npm/balanced-match@1.0.2"});
  CHECK(LinesOf(v1) == std::vector<int>{5});
  CHECK(v1[0].origin == Origin::kRegistry);
  auto v2 = ParseFixture(Format::kYarnLock, "scalibr/yarnlock/one-package.v2.lock");
  CHECK(PurlsOf(v2) == std::vector<std::string>{"pkg:npm/balanced-match@1.0.2"});
  CHECK(LinesOf(v2) == std::vector<int>{8});
  // A header without a range ("balanced-match:") still names the package.
  CHECK(PurlsOf(ParseFixture(Format::kYarnLock, "scalibr/yarnlock/no-version.v1.lock")) ==
        std::vector<std::string>{"pkg:npm/balanced-match@1.0.2"});
}

TEST_CASE("yarn: versions come from the version field, not the header's ranges", "[lockfile]") {
  CHECK(PurlsOf(ParseFixture(Format::kYarnLock, "scalibr/yarnlock/multiple-versions.v1.lock")) ==
        std::vector<std::string>{"pkg:npm/define-properties@1.1.3", "pkg:npm/define-property@0.2.5",
                                 "pkg:npm/define-property@1.0.0", "pkg:npm/define-property@2.0.2"});
  auto v2 = ParseFixture(Format::kYarnLock, "scalibr/yarnlock/multiple-versions.v2.lock");
  CHECK(PurlsOf(v2) ==
        std::vector<std::string>{"pkg:npm/debug@4.3.3", "pkg:npm/debug@2.6.9", "pkg:npm/debug@3.2.7"});
  CHECK(LinesOf(v2) == std::vector<int>{8, 20, 29});
  CHECK(PurlsOf(ParseFixture(Format::kYarnLock, "scalibr/yarnlock/multiple-constraints.v1.lock")) ==
        std::vector<std::string>{"pkg:npm/domelementtype@1.3.1", "pkg:npm/%40babel/code-frame@7.12.13"});
}

TEST_CASE("yarn: scoped names, prereleases, build strings and quoted fields", "[lockfile]") {
  CHECK(
      PurlsOf(ParseFixture(Format::kYarnLock, "scalibr/yarnlock/scoped-packages.v1.lock")) ==
      std::vector<std::string>{"pkg:npm/%40babel/code-frame@7.12.11", "pkg:npm/%40babel/compat-data@7.14.0"});
  CHECK(PurlsOf(ParseFixture(Format::kYarnLock, "scalibr/yarnlock/scoped-packages.v2.lock")) ==
        std::vector<std::string>{"pkg:npm/%40babel/cli@7.16.8", "pkg:npm/%40babel/code-frame@7.16.7",
                                 "pkg:npm/%40babel/compat-data@7.16.8"});
  CHECK(PurlsOf(ParseFixture(Format::kYarnLock, "scalibr/yarnlock/with-prerelease.v1.lock")) ==
        std::vector<std::string>{"pkg:npm/css-tree@1.0.0-alpha.37", "pkg:npm/gensync@1.0.0-beta.2",
                                 "pkg:npm/node-fetch@3.0.0-beta.9", "pkg:npm/resolve@1.20.0",
                                 "pkg:npm/resolve@2.0.0-next.3"});
  auto prerelease_v2 = ParseFixture(Format::kYarnLock, "scalibr/yarnlock/with-prerelease.v2.lock");
  CHECK(PurlsOf(prerelease_v2) ==
        std::vector<std::string>{"pkg:npm/%40nicolo-ribaudo/chokidar-2@2.1.8-no-fsevents.3",
                                 "pkg:npm/gensync@1.0.0-beta.2"});
  auto build = ParseFixture(Format::kYarnLock, "scalibr/yarnlock/with-build-string.v2.lock");
  CHECK(PurlsOf(build) == std::vector<std::string>{"pkg:npm/domino@2.1.6%2Bgit", "pkg:npm/tslib@2.6.2"});
  CHECK(build[0].purl.version == "2.1.6+git");
  CHECK(build[0].origin == Origin::kGit);
  CHECK(build[0].origin_detail ==
        "https://github.com/angular/domino.git#f2435fe1f9f7c91ade0bd472c4723e5eacd7d19a");
  for (const char* fixture :
       {"scalibr/yarnlock/with-quotes.v1.lock", "scalibr/yarnlock/two-packages.v1.lock"}) {
    auto deps = ParseFixture(Format::kYarnLock, fixture);
    CHECK(PurlsOf(deps) ==
          std::vector<std::string>{"pkg:npm/concat-map@0.0.1", "pkg:npm/concat-stream@1.6.2"});
    CHECK(LinesOf(deps) == std::vector<int>{5, 10});
  }
  auto quotes_v2 = ParseFixture(Format::kYarnLock, "scalibr/yarnlock/with-quotes.v2.lock");
  CHECK(PurlsOf(quotes_v2) ==
        std::vector<std::string>{"pkg:npm/compare-func@2.0.0", "pkg:npm/concat-map@0.0.1"});
  CHECK(LinesOf(quotes_v2) == std::vector<int>{8, 18});
}

TEST_CASE("yarn: an npm alias is reported as the real package, noting the alias", "[lockfile]") {
  for (const char* fixture :
       {"scalibr/yarnlock/with-aliases.v1.lock", "scalibr/yarnlock/with-aliases.v2.lock"}) {
    INFO(fixture);
    auto deps = ParseFixture(Format::kYarnLock, fixture);  // v2's `mine@workspace:.` root is skipped
    CHECK(PurlsOf(deps) == std::vector<std::string>{"pkg:npm/ansi-regex@5.0.1", "pkg:npm/ansi-regex@6.0.1",
                                                    "pkg:npm/%40babel/helper-validator-identifier@7.22.20"});
    CHECK(deps[0].note == "alias ansi-regex-cjs");
    CHECK(deps[1].note.empty());
    CHECK(deps[2].note == "alias babel-hvi");
    CHECK(deps[2].origin == Origin::kRegistry);
  }
}

TEST_CASE("yarn v1: git sources keep their repository and commit", "[lockfile]") {
  auto deps = ParseFixture(Format::kYarnLock, "scalibr/yarnlock/commits.v1.lock");
  CHECK(PurlsOf(deps) ==
        std::vector<std::string>{"pkg:npm/mine1@1.0.0-alpha.37", "pkg:npm/mine2@0.0.1", "pkg:npm/mine3@1.2.3",
                                 "pkg:npm/mine4@0.0.2", "pkg:npm/mine4@0.0.4", "pkg:npm/my-package@1.8.3",
                                 "pkg:npm/%40bower_components/angular-animate@1.4.14",
                                 "pkg:npm/%40bower_components/alertify@0.0.0", "pkg:npm/minimist@0.0.8",
                                 "pkg:npm/bats-assert@2.0.0", "pkg:npm/bats-support@0.3.0",
                                 "pkg:npm/bats@1.5.0", "pkg:npm/vue@2.6.12", "pkg:npm/kit@1.0.0",
                                 "pkg:npm/casadistance@1.0.0", "pkg:npm/babel-preset-php@1.1.1",
                                 "pkg:npm/is-number@2.0.0", "pkg:npm/is-number@5.0.0"});
  CHECK(std::all_of(deps.begin(), deps.end(), [](const auto& d) { return d.origin == Origin::kGit; }));
  CHECK(deps[0].origin_detail ==
        "git+ssh://git@github.com:G-Rath/npm-git-repo-2#0a2d2506c1fe299691fc5db53a2097db3bd615bc");
  // A GitHub shorthand resolved to a codeload archive names the repository.
  CHECK(deps[1].origin_detail ==
        "https://github.com/G-Rath/npm-git-repo-2#0a2d2506c1fe299691fc5db53a2097db3bd615bc");
  CHECK(deps[1].line == 11);
  CHECK(RequireDependency(deps, "pkg:npm/babel-preset-php@1.1.1").origin_detail ==
        "https://gitlab.com/kornelski/babel-preset-php#c5a7ba5e0ad98b8db1cb8ce105403dd4b768cced");
  // The token in "https://dummy-token@github.com/..." is not repeated in reports.
  CHECK(deps.back().origin_detail ==
        "https://github.com/jonschlinkert/is-number.git#af885e2e890b9ef0875edd2b117305119ee5bdc5");
  CHECK(deps.back().line == 82);
}

TEST_CASE("yarn berry: git resolutions drop the commit= key", "[lockfile]") {
  auto deps = ParseFixture(Format::kYarnLock, "scalibr/yarnlock/commits.v2.lock");
  CHECK(PurlsOf(deps) ==
        std::vector<std::string>{"pkg:npm/%40my-scope/my-first-package@0.0.6",
                                 "pkg:npm/my-second-package@0.2.2", "pkg:npm/%40typegoose/typegoose@7.2.0",
                                 "pkg:npm/vuejs@2.5.0", "pkg:npm/my-third-package@0.16.1-dev",
                                 "pkg:npm/my-node-sdk@1.1.0", "pkg:npm/is-really-great@1.0.0"});
  CHECK(LinesOf(deps) == std::vector<int>{8, 12, 21, 37, 45, 50, 58});
  CHECK(std::all_of(deps.begin(), deps.end(), [](const auto& d) { return d.origin == Origin::kGit; }));
  CHECK(deps[0].origin_detail ==
        "https://github.com/my-org/my-first-package.git#0b824c650d3a03444dbcf2b27a5f3566f6e41358");
  CHECK(deps[2].origin_detail ==
        "https://github.com/typegoose/typegoose.git#3ed06e5097ab929f69755676fee419318aaec73a");
}

TEST_CASE("yarn: file: and link: dependencies are paths, workspaces are workspace members", "[lockfile]") {
  auto v1 = ParseFixture(Format::kYarnLock, "scalibr/yarnlock/files.v1.lock");
  CHECK(PurlsOf(v1) == std::vector<std::string>{"pkg:npm/etag@1.8.1", "pkg:npm/filedep@1.2.0",
                                                "pkg:npm/lodash@1.3.1", "pkg:npm/other_package@0.0.2",
                                                "pkg:npm/sprintf-js@0.0.0", "pkg:npm/etag@1.8.0"});
  CHECK(LinesOf(v1) == std::vector<int>{5, 9, 12, 16, 24, 27});
  CHECK(v1[0].origin == Origin::kRegistry);
  CHECK(v1[1].origin == Origin::kPath);
  CHECK(v1[1].origin_detail == "../../correct/path/filedep");
  CHECK(v1[4].origin_detail == "./mocks/sprintf-js");  // the first descriptor decides
  CHECK(v1[5].origin == Origin::kPath);
  CHECK(v1[5].origin_detail == "./deps/etag");

  auto v2 = ParseFixture(Format::kYarnLock, "scalibr/yarnlock/files.v2.lock");
  REQUIRE(PurlsOf(v2) == std::vector<std::string>{"pkg:npm/my-package@0.0.2"});
  CHECK(v2[0].origin == Origin::kPath);
  CHECK(v2[0].origin_detail == "../../deps/my-local-package");

  auto workspaces = ParseFixture(Format::kYarnLock, "scalibr/yarnlock/exclude-root.v2.lock");
  REQUIRE(PurlsOf(workspaces) ==
          std::vector<std::string>{"pkg:npm/%40ws/ansi-regex@0.0.0-use.local", "pkg:npm/ansi-regex@6.1.0"});
  CHECK(workspaces[0].origin == Origin::kWorkspace);
  CHECK(workspaces[0].origin_detail == "ansi-regex");
  CHECK(workspaces[1].origin == Origin::kRegistry);
}

TEST_CASE("yarn berry: patches, links, portals and tarball URLs", "[lockfile]") {
  auto parsed = ParseText(Format::kYarnLock, "inline/lockfile", R"(__metadata:
  version: 8

"resolve@patch:resolve@npm%3A^1.22.0#optional!builtin<compat/resolve>":
  version: 1.22.8
  resolution: "resolve@patch:resolve@npm%3A1.22.8#optional!builtin<compat/resolve>::version=1.22.8&hash=c3c19d"

"left-pad@link:../left-pad::locator=app%40workspace%3A.":
  version: 0.0.0-use.local
  resolution: "left-pad@link:../left-pad::locator=app%40workspace%3A."

"my-lib@portal:./vendor/my-lib::locator=app%40workspace%3A.":
  version: 0.0.0-use.local
  resolution: "my-lib@portal:./vendor/my-lib::locator=app%40workspace%3A."

"tiny@https://example.com/tiny-1.0.0.tgz":
  version: 1.0.0
  resolution: "tiny@https://example.com/tiny-1.0.0.tgz"
)");
  REQUIRE(parsed.ok());
  auto& deps = *parsed;
  REQUIRE(PurlsOf(deps) == std::vector<std::string>{"pkg:npm/resolve@1.22.8",
                                                    "pkg:npm/left-pad@0.0.0-use.local",
                                                    "pkg:npm/my-lib@0.0.0-use.local", "pkg:npm/tiny@1.0.0"});
  CHECK(deps[0].origin == Origin::kRegistry);  // the patched package is downloaded from npm
  CHECK(deps[0].note == "patched");
  CHECK(deps[0].line == 4);
  CHECK(deps[1].origin == Origin::kPath);
  CHECK(deps[1].origin_detail == "../left-pad");
  CHECK(deps[2].origin == Origin::kPath);
  CHECK(deps[2].origin_detail == "./vendor/my-lib");
  CHECK(deps[3].origin == Origin::kUrl);
  CHECK(deps[3].origin_detail == "https://example.com/tiny-1.0.0.tgz");
}

TEST_CASE("yarn v1: tarballs of a mirror registry are registry packages, other tarballs URLs", "[lockfile]") {
  auto parsed = ParseText(Format::kYarnLock, "inline/lockfile", R"(# yarn lockfile v1

"@corp/tool@^2.0.0":
  version "2.1.0"
  resolved "https://npm.corp.example/@corp/tool/-/tool-2.1.0.tgz#abc"

"tiny@https://example.com/tiny-1.0.0.tgz":
  version "1.0.0"
  resolved "https://example.com/tiny-1.0.0.tgz"
)");
  REQUIRE(parsed.ok());
  REQUIRE(parsed->size() == 2);
  // "<registry>/<name>/-/<file>": a company's mirror serves npm's packages.
  CHECK((*parsed)[0].origin == Origin::kRegistry);
  CHECK((*parsed)[0].origin_detail.empty());
  CHECK((*parsed)[1].origin == Origin::kUrl);
  CHECK((*parsed)[1].origin_detail == "https://example.com/tiny-1.0.0.tgz");
  CHECK((*parsed)[1].line == 7);
}

TEST_CASE("yarn: empty lockfiles lock nothing", "[lockfile]") {
  for (const char* fixture : {"scalibr/yarnlock/empty.v1.lock", "scalibr/yarnlock/empty.v2.lock",
                              "scalibr/yarnlock/metadata-only.v2.lock"}) {
    INFO(fixture);
    CHECK(ParseFixture(Format::kYarnLock, fixture).empty());
  }
}

TEST_CASE("yarn: malformed files name the file, the line and what was expected", "[lockfile]") {
  auto indented =
      ParseText(Format::kYarnLock, "inline/lockfile", "# yarn lockfile v1\n\n  version \"1.0.0\"\n");
  REQUIRE_FALSE(indented.ok());
  CHECK(indented.status().message() == "inline/lockfile:3: expected an entry header before indented fields");
  auto no_colon = ParseText(Format::kYarnLock, "inline/lockfile",
                            "# yarn lockfile v1\n\nleft-pad@^1.0.0\n  version \"1.0.0\"\n");
  REQUIRE_FALSE(no_colon.ok());
  CHECK(no_colon.status().message() ==
        "inline/lockfile:3: expected an entry header (`name@range:`) ending in `:`");
  auto bad_yaml =
      ParseText(Format::kYarnLock, "inline/lockfile", "__metadata:\n  version: 8\n\"a@npm:1\": [unclosed\n");
  REQUIRE_FALSE(bad_yaml.ok());
  CHECK(bad_yaml.status().message().starts_with("inline/lockfile:"));
  CHECK(bad_yaml.status().message().find("not valid YAML") != std::string::npos);
  auto not_a_map =
      ParseText(Format::kYarnLock, "inline/lockfile", "__metadata:\n  version: 8\n\"a@npm:1\": 3\n");
  REQUIRE_FALSE(not_a_map.ok());
  CHECK(not_a_map.status().message() ==
        "inline/lockfile:3: expected the fields of `a@npm:1` (version, resolution)");
}

// --- pnpm -------------------------------------------------------------------------------

TEST_CASE("pnpm: one package in each lockfile version, at its key's line", "[lockfile]") {
  auto v5 = ParseFixture(Format::kPnpmLock, "scalibr/pnpmlock/one-package.yaml");
  CHECK(PurlsOf(v5) == std::vector<std::string>{"pkg:npm/acorn@8.7.0"});
  CHECK(LinesOf(v5) == std::vector<int>{11});
  auto v6 = ParseFixture(Format::kPnpmLock, "scalibr/pnpmlock/one-package-v6-lockfile.yaml");
  CHECK(PurlsOf(v6) == std::vector<std::string>{"pkg:npm/acorn@8.7.0"});
  CHECK(LinesOf(v6) == std::vector<int>{10});
  auto v9 = ParseFixture(Format::kPnpmLock, "scalibr/pnpmlock/one-package.v9.yaml");
  CHECK(PurlsOf(v9) == std::vector<std::string>{"pkg:npm/acorn@8.11.3"});
  CHECK(LinesOf(v9) == std::vector<int>{17});
  CHECK(v9[0].note.empty());
}

TEST_CASE("pnpm: scoped names and multiple versions", "[lockfile]") {
  CHECK(PurlsOf(ParseFixture(Format::kPnpmLock, "scalibr/pnpmlock/scoped-packages.yaml")) ==
        std::vector<std::string>{"pkg:npm/%40typescript-eslint/types@5.13.0"});
  CHECK(PurlsOf(ParseFixture(Format::kPnpmLock, "scalibr/pnpmlock/scoped-packages-v6-lockfile.yaml")) ==
        std::vector<std::string>{"pkg:npm/%40typescript-eslint/types@5.57.1"});
  CHECK(PurlsOf(ParseFixture(Format::kPnpmLock, "scalibr/pnpmlock/scoped-packages.v9.yaml")) ==
        std::vector<std::string>{"pkg:npm/%40typescript-eslint/types@5.62.0"});
  auto v5 = ParseFixture(Format::kPnpmLock, "scalibr/pnpmlock/multiple-versions.yaml");
  CHECK(PurlsOf(v5) ==
        std::vector<std::string>{"pkg:npm/uuid@3.3.2", "pkg:npm/uuid@8.3.2", "pkg:npm/xmlbuilder@9.0.7"});
  CHECK(LinesOf(v5) == std::vector<int>{13, 19, 24});
  CHECK(PurlsOf(ParseFixture(Format::kPnpmLock, "scalibr/pnpmlock/multiple-versions.v9.yaml")) ==
        std::vector<std::string>{"pkg:npm/uuid@8.0.0", "pkg:npm/uuid@8.3.2", "pkg:npm/xmlbuilder@11.0.1"});
  CHECK(ParseFixture(Format::kPnpmLock, "scalibr/pnpmlock/multiple-packages.yaml").size() == 14);
}

TEST_CASE("pnpm: peer-dependency suffixes are not part of the version", "[lockfile]") {
  auto v5 = ParseFixture(Format::kPnpmLock,
                         "scalibr/pnpmlock/peer-dependencies.yaml");  // /acorn-jsx/5.3.2_acorn@8.7.0
  CHECK(PurlsOf(v5) == std::vector<std::string>{"pkg:npm/acorn-jsx@5.3.2", "pkg:npm/acorn@8.7.0"});
  CHECK(LinesOf(v5) == std::vector<int>{13, 21});
  auto v6 = ParseFixture(Format::kPnpmLock, "scalibr/pnpmlock/peer-dependencies-advanced-v6.yaml");
  CHECK(PurlsOf(v6) == std::vector<std::string>{"pkg:npm/js-tokens@4.0.0", "pkg:npm/loose-envify@1.4.0",
                                                "pkg:npm/react-dom@18.3.0-canary-ab31a9ed2-20230824",
                                                "pkg:npm/react@18.3.0-canary-ab31a9ed2-20230824",
                                                "pkg:npm/scheduler@0.24.0-canary-ab31a9ed2-20230824"});
  CHECK(LinesOf(v6) == std::vector<int>{14, 18, 25, 35, 42});
  CHECK(
      PurlsOf(ParseFixture(Format::kPnpmLock, "scalibr/pnpmlock/peer-dependencies-advanced-rc-v6.yaml"))[2] ==
      "pkg:npm/react-dom@18.0.0-rc.3");
  auto advanced = ParseFixture(Format::kPnpmLock, "scalibr/pnpmlock/peer-dependencies-advanced.yaml");
  REQUIRE(advanced.size() == 9);
  CHECK(core::FormatPurl(advanced[0].purl) == "pkg:npm/%40typescript-eslint/eslint-plugin@5.13.0");
  auto v9 = ParseFixture(Format::kPnpmLock, "scalibr/pnpmlock/peer-dependencies-advanced.v9.yaml");
  REQUIRE(v9.size() == 13);
  CHECK(core::FormatPurl(v9[2].purl) == "pkg:npm/%40typescript-eslint/eslint-plugin@5.62.0");
  CHECK(v9[2].line == 36);
}

TEST_CASE("pnpm: dev and optional notes in 5.x, 6.0 and 9.0", "[lockfile]") {
  for (const char* fixture :
       {"scalibr/pnpmlock/mixed-groups.v53.yaml", "scalibr/pnpmlock/mixed-groups.v54.yaml",
        "scalibr/pnpmlock/mixed-groups.v6.yaml", "scalibr/pnpmlock/mixed-groups.v9.yaml"}) {
    INFO(fixture);
    auto deps = ParseFixture(Format::kPnpmLock, fixture);
    REQUIRE(deps.size() == 3);
    CHECK(deps[0].purl.name == "ansi-regex");
    CHECK(deps[0].note.empty());
    CHECK(deps[1].purl.name == "is-number");
    CHECK(deps[1].note == "dev");  // 9.0: reached only from the importer's devDependencies
    CHECK(deps[2].purl.name == "uuid");
    CHECK(deps[2].note == "optional");
  }
  CHECK(ParseFixture(Format::kPnpmLock, "scalibr/pnpmlock/one-package-dev.v9.yaml")[0].note == "dev");
  CHECK(ParseFixture(Format::kPnpmLock, "scalibr/pnpmlock/one-package-dev.yaml")[0]
            .note.empty());  // `dev: false`
}

TEST_CASE("pnpm: git, tarball and file sources are not registry packages", "[lockfile]") {
  auto v5 = ParseFixture(Format::kPnpmLock, "scalibr/pnpmlock/commits.yaml");
  CHECK(PurlsOf(v5) == std::vector<std::string>{"pkg:npm/my-bitbucket-package@1.0.0",
                                                "pkg:npm/%40my-scope/my-package@1.0.0",
                                                "pkg:npm/%40my-scope/my-other-package@1.0.0",
                                                "pkg:npm/faker-parser@0.0.1", "pkg:npm/mocks@20.0.1"});
  CHECK(LinesOf(v5) == std::vector<int>{14, 20, 28, 34, 42});
  CHECK(std::all_of(v5.begin(), v5.end(), [](const auto& d) { return d.origin == Origin::kGit; }));
  CHECK(v5[0].origin_detail ==
        "git@bitbucket.org:my-org/my-bitbucket-project.git#6104ae42cd32c3d724036d3964678f197b2c9cdb");
  CHECK(v5[3].origin_detail ==
        "https://github.com/my-org/faker-parser#d2dc42a9351d4d89ec48c525e34f612b6d77993f");

  auto v9 = ParseFixture(Format::kPnpmLock, "scalibr/pnpmlock/commits.v9.yaml");
  CHECK(PurlsOf(v9) == std::vector<std::string>{"pkg:npm/ansi-regex@6.0.1", "pkg:npm/is-number@7.0.0"});
  CHECK(v9[0].origin == Origin::kGit);
  CHECK(v9[0].origin_detail ==
        "https://github.com/chalk/ansi-regex#02fa893d619d3da85411acc8fd4e2eea0e95a9d9");

  // A tarball of GitLab's npm registry has the registry layout ("<registry>/<name>/-/<file>"),
  // so it is a registry package like any mirror's; tarballs outside it are URLs (the 9.0 test).
  auto tarball = ParseFixture(Format::kPnpmLock, "scalibr/pnpmlock/tarball.yaml");
  REQUIRE(PurlsOf(tarball) == std::vector<std::string>{"pkg:npm/%40my-org/my-package@3.2.3"});
  CHECK(tarball[0].origin == Origin::kRegistry);
  CHECK(tarball[0].origin_detail.empty());
  CHECK(tarball[0].note == "dev");
  CHECK(tarball[0].line == 10);

  // The nameless file: entry names no package and is left out.
  auto files = ParseFixture(Format::kPnpmLock, "scalibr/pnpmlock/files.yaml");
  CHECK(PurlsOf(files) == std::vector<std::string>{"pkg:npm/my-file-package@0.0.0",
                                                   "pkg:npm/a-local-package@1.0.0",
                                                   "pkg:npm/a-nested-local-package@1.0.0",
                                                   "pkg:npm/one-up@1.0.0", "pkg:npm/one-up-with-peer@1.0.0"});
  CHECK(std::all_of(files.begin(), files.end(), [](const auto& d) { return d.origin == Origin::kPath; }));
  CHECK(files[0].origin_detail == "projects/package-a.tgz");
  CHECK(files[1].origin_detail == "../local-package");  // the resolution's directory, not the key
}

TEST_CASE("pnpm 5.x: registry hosts in keys", "[lockfile]") {
  auto deps = ParseFixture(Format::kPnpmLock, "scalibr/pnpmlock/exotic.yaml");
  // "github.com/kevva/is-positive" has no name and "/foo/bar" no version: not listed.
  CHECK(PurlsOf(deps) == std::vector<std::string>{"pkg:npm/foo@1.0.0", "pkg:npm/%40foo/bar@1.0.0",
                                                  "pkg:npm/foo@1.1.0", "pkg:npm/%40foo/bar@1.1.0",
                                                  "pkg:npm/foo@1.2.0", "pkg:npm/foo@1.3.0",
                                                  "pkg:npm/foo@1.4.0"});
  CHECK(LinesOf(deps) == std::vector<int>{10, 11, 12, 13, 15, 16, 17});
  CHECK(deps[2].origin == Origin::kRegistry);  // registry.npmjs.org/foo/1.1.0
  // example.com/foo/1.2.0: a registry other than the default one (a mirror) still serves
  // npm's packages.
  CHECK(deps[4].origin == Origin::kRegistry);
  CHECK(deps[4].origin_detail.empty());
}

TEST_CASE("pnpm 9.0: tarballs of npm and of a mirror registry are registry packages, other tarballs URLs",
          "[lockfile]") {
  auto parsed = ParseText(Format::kPnpmLock, "inline/lockfile", R"(lockfileVersion: '9.0'
packages:
  left-pad@1.3.0:
    resolution: {tarball: https://registry.npmjs.org/left-pad/-/left-pad-1.3.0.tgz}
  '@corp/tool@2.1.0':
    resolution: {integrity: sha512-x, tarball: https://npm.corp.example/@corp/tool/-/tool-2.1.0.tgz}
  odd@1.0.0:
    resolution: {integrity: sha512-y, tarball: https://example.com/odd-1.0.0.tgz}
  lib@file:packages/lib:
    resolution: {directory: packages/lib, type: directory}
    version: 0.1.0
)");
  REQUIRE(parsed.ok());
  REQUIRE(PurlsOf(*parsed) == std::vector<std::string>{"pkg:npm/left-pad@1.3.0", "pkg:npm/%40corp/tool@2.1.0",
                                                       "pkg:npm/odd@1.0.0", "pkg:npm/lib@0.1.0"});
  CHECK((*parsed)[0].origin == Origin::kRegistry);
  CHECK((*parsed)[1].origin == Origin::kRegistry);
  CHECK((*parsed)[1].origin_detail.empty());
  CHECK((*parsed)[2].origin == Origin::kUrl);
  CHECK((*parsed)[2].origin_detail == "https://example.com/odd-1.0.0.tgz");
  CHECK((*parsed)[3].origin == Origin::kPath);
  CHECK((*parsed)[3].line == 9);
}

TEST_CASE("pnpm: lockfiles without packages lock nothing", "[lockfile]") {
  for (const char* fixture :
       {"scalibr/pnpmlock/empty.yaml", "scalibr/pnpmlock/no-packages.yaml",
        "scalibr/pnpmlock/no-packages.v9.yaml", "scalibr/pnpmlock/missing-packages.yaml"}) {
    INFO(fixture);
    CHECK(ParseFixture(Format::kPnpmLock, fixture).empty());
  }
}

TEST_CASE("pnpm: invalid files name the file, the line and what was expected", "[lockfile]") {
  CHECK(ParseFixtureError(Format::kPnpmLock, "scalibr/pnpmlock/not-yaml.txt") ==
        LockfileFixturePath("scalibr/pnpmlock/not-yaml.txt") +
            ":1: expected a mapping with `lockfileVersion` and `packages`");
  // scalibr reports the other packages beside the error; a lockfile we cannot fully read
  // is an error here, so a check never passes on part of a file.
  CHECK(ParseFixtureError(Format::kPnpmLock, "scalibr/pnpmlock/invalid-path.yaml") ==
        LockfileFixturePath("scalibr/pnpmlock/invalid-path.yaml") +
            ":17: expected a package path like `/name/1.0.0` or `name@1.0.0`, got `invalidpath`");
  CHECK(ParseFixtureError(Format::kPnpmLock, "scalibr/pnpmlock/invalid-paths.yaml") ==
        LockfileFixturePath("scalibr/pnpmlock/invalid-paths.yaml") +
            ":11: expected a package path like `/name/1.0.0` or `name@1.0.0`, got `invalidpath1`");
  auto bad_yaml = ParseText(Format::kPnpmLock, "inline/lockfile",
                            "lockfileVersion: '9.0'\npackages:\n  a@1.0.0: {resolution: [\n");
  REQUIRE_FALSE(bad_yaml.ok());
  CHECK(bad_yaml.status().message().starts_with("inline/lockfile:"));
  CHECK(bad_yaml.status().message().find("not valid YAML") != std::string::npos);
  auto list =
      ParseText(Format::kPnpmLock, "inline/lockfile", "lockfileVersion: '9.0'\npackages:\n  - a@1.0.0\n");
  REQUIRE_FALSE(list.ok());
  CHECK(list.status().message() == "inline/lockfile:3: expected a `packages` mapping");
  auto no_version = ParseText(Format::kPnpmLock, "inline/lockfile", "packages:\n  /a/1.0.0: {}\n");
  REQUIRE_FALSE(no_version.ok());
  CHECK(no_version.status().message() == "inline/lockfile:1: expected a `lockfileVersion`");
}

// --- bun --------------------------------------------------------------------------------

TEST_CASE("bun: packages in file order at their key's line", "[lockfile]") {
  auto one = ParseFixture(Format::kBunLock, "scalibr/bunlock/one-package.json5");
  CHECK(PurlsOf(one) == std::vector<std::string>{"pkg:npm/wrappy@1.0.2"});
  CHECK(LinesOf(one) == std::vector<int>{12});
  auto scoped = ParseFixture(Format::kBunLock, "scalibr/bunlock/scoped-packages-mixed.json5");
  CHECK(PurlsOf(scoped) == std::vector<std::string>{"pkg:npm/%40babel/code-frame@7.26.2",
                                                    "pkg:npm/%40babel/helper-validator-identifier@7.25.9",
                                                    "pkg:npm/js-tokens@4.0.0", "pkg:npm/picocolors@1.1.1",
                                                    "pkg:npm/wrappy@1.0.2"});
  // Dependency names inside a package's tuple ("js-tokens": "^4.0.0") are not its key.
  CHECK(LinesOf(scoped) == std::vector<int>{15, 17, 19, 21, 23});
  auto peers = ParseFixture(Format::kBunLock, "scalibr/bunlock/peer-dependencies-implicit.json5");
  CHECK(PurlsOf(peers) == std::vector<std::string>{"pkg:npm/acorn@8.14.0", "pkg:npm/acorn-jsx@5.3.2"});
  CHECK(LinesOf(peers) == std::vector<int>{12, 14});
}

TEST_CASE("bun: nested installs of the same version are one package", "[lockfile]") {
  auto nested = ParseFixture(Format::kBunLock, "scalibr/bunlock/nested-dependencies.json5");
  CHECK(PurlsOf(nested) == std::vector<std::string>{"pkg:npm/ansi-styles@4.3.0", "pkg:npm/chalk@4.1.2",
                                                    "pkg:npm/color-convert@2.0.1", "pkg:npm/color-name@1.1.4",
                                                    "pkg:npm/has-flag@2.0.0", "pkg:npm/supports-color@5.5.0",
                                                    "pkg:npm/supports-color@7.2.0", "pkg:npm/has-flag@3.0.0",
                                                    "pkg:npm/has-flag@4.0.0"});
  CHECK(LinesOf(nested).back() == 32);
  auto dup = ParseFixture(Format::kBunLock, "scalibr/bunlock/nested-dependencies-dup.json5");
  CHECK(PurlsOf(dup) == std::vector<std::string>{"pkg:npm/ansi-styles@4.3.0", "pkg:npm/chalk@4.1.2",
                                                 "pkg:npm/color-convert@2.0.1", "pkg:npm/color-name@1.1.4",
                                                 "pkg:npm/has-flag@2.0.0", "pkg:npm/supports-color@7.2.0",
                                                 "pkg:npm/has-flag@4.0.0"});
  CHECK(dup.back().note.empty());  // "supports-color/has-flag" is installed as has-flag
}

TEST_CASE("bun: an alias is reported as the real package, noting the alias", "[lockfile]") {
  auto deps = ParseFixture(Format::kBunLock, "scalibr/bunlock/alias.json5");
  CHECK(PurlsOf(deps) == std::vector<std::string>{"pkg:npm/has-flag@4.0.0", "pkg:npm/supports-color@7.2.0",
                                                  "pkg:npm/supports-color@6.1.0", "pkg:npm/has-flag@3.0.0"});
  CHECK(LinesOf(deps) == std::vector<int>{13, 15, 17, 19});
  CHECK(deps[2].note == "alias supports-color-old");
  CHECK(deps[3].note.empty());
}

TEST_CASE("bun: git and file sources have no version and are not registry packages", "[lockfile]") {
  auto deps = ParseFixture(Format::kBunLock, "scalibr/bunlock/commits.json5");
  const auto& sync = RequireDependency(deps, "pkg:npm/%40prettier/sync");
  CHECK(sync.origin == Origin::kGit);
  CHECK(sync.origin_detail == "github:prettier/prettier-synchronized#527e8ce");
  CHECK(sync.line == 32);
  const auto& php = RequireDependency(deps, "pkg:npm/babel-preset-php");
  CHECK(php.origin_detail ==
        "git+ssh://gitlab:kornelski/babel-preset-php#1ae6dc1267500360b411ec711b8aeac8c68b2246");
  // is-number is locked from three commits: without a version their purls are equal, but
  // they are three different sources, each listed at its own line.
  std::vector<const LockedDependency*> is_number;
  for (const auto& dependency : deps)
    if (core::FormatPurl(dependency.purl) == "pkg:npm/is-number") is_number.push_back(&dependency);
  REQUIRE(is_number.size() == 3);
  CHECK(is_number[0]->line == 36);
  CHECK(is_number[0]->note == "alias is-number-1");
  CHECK(is_number[0]->origin_detail == "github:jonschlinkert/is-number#98e8ff1");
  CHECK(is_number[1]->line == 38);
  CHECK(is_number[1]->note == "alias is-number-2");
  CHECK(is_number[1]->origin_detail == "github:jonschlinkert/is-number#d5ac058");
  CHECK(is_number[2]->line == 40);
  CHECK(is_number[2]->note == "alias is-number-3");
  CHECK(is_number[2]->origin_detail == "github:jonschlinkert/is-number#b7aef34");
  CHECK(RequireDependency(deps, "pkg:npm/stopwords@0.0.1").origin == Origin::kRegistry);
  CHECK(deps.size() == 18);
  CHECK(std::count_if(deps.begin(), deps.end(), [](const auto& d) { return d.origin == Origin::kGit; }) == 7);

  auto files = ParseFixture(Format::kBunLock, "scalibr/bunlock/files.json5");
  REQUIRE(PurlsOf(files) == std::vector<std::string>{"pkg:npm/etag", "pkg:npm/lodash@1.3.1"});
  CHECK(files[0].origin == Origin::kPath);
  CHECK(files[0].origin_detail == "deps/etag");
  CHECK(files[0].line == 15);

  auto blog = ParseFixture(Format::kBunLock, "scalibr/bunlock/blog-sample.json5");
  REQUIRE(PurlsOf(blog) == std::vector<std::string>{"pkg:npm/uWebSockets.js"});
  CHECK(blog[0].note == "alias uWebSocket.js");  // the project depends on it as "uWebSocket.js"
}

TEST_CASE("bun: comments, workspaces, mirror registries and other tarballs", "[lockfile]") {
  auto parsed = ParseText(Format::kBunLock, "inline/lockfile", R"({
  // written by hand /* not a block */
  "lockfileVersion": 1,
  "workspaces": { "": { "name": "app" }, "packages/lib": { "name": "lib", }, },
  /* "packages": { "fake": ["fake@1.0.0"] }, */
  "packages": {
    "lib": ["lib@workspace:packages/lib"],
    "tool": ["tool@2.0.0", "https://npm.corp.example/tool/-/tool-2.0.0.tgz", {}, "sha512-x"],
    "text": ["text@1.0.0", "", {}, "sha512-y", ],
    "tiny": ["tiny@https://example.com/tiny-1.0.0.tgz", {}],
    "odd": ["odd@1.0.0", "https://example.com/odd-1.0.0.tgz", {}, "sha512-z"],
  },
}
)");
  REQUIRE(parsed.ok());
  auto& deps = *parsed;
  REQUIRE(PurlsOf(deps) == std::vector<std::string>{"pkg:npm/lib", "pkg:npm/tool@2.0.0", "pkg:npm/text@1.0.0",
                                                    "pkg:npm/tiny", "pkg:npm/odd@1.0.0"});
  CHECK(LinesOf(deps) == std::vector<int>{7, 8, 9, 10, 11});
  CHECK(deps[0].origin == Origin::kWorkspace);
  CHECK(deps[0].origin_detail == "packages/lib");
  // bun writes the tarball of a registry other than the default one; a mirror's is npm's package.
  CHECK(deps[1].origin == Origin::kRegistry);
  CHECK(deps[1].origin_detail.empty());
  CHECK(deps[2].origin == Origin::kRegistry);
  CHECK(deps[3].origin == Origin::kUrl);
  CHECK(deps[3].origin_detail == "https://example.com/tiny-1.0.0.tgz");
  CHECK(deps[4].origin == Origin::kUrl);  // not the registry layout "<registry>/<name>/-/<file>"
  CHECK(deps[4].origin_detail == "https://example.com/odd-1.0.0.tgz");
}

TEST_CASE(
    "yarn, pnpm and bun: a GitLab archive is a URL, mirror and scoped registry tarballs are the registry's",
    "[lockfile]") {
  const std::string archive =
      "https://gitlab.com/acme/internal-lib/-/archive/v1.2.3/internal-lib-v1.2.3.tar.gz";

  auto yarn = ParseText(Format::kYarnLock, "inline/lockfile", R"(# yarn lockfile v1

left-pad@^1.3.0:
  version "1.3.0"
  resolved "https://npm.company.example/left-pad/-/left-pad-1.3.0.tgz#5b6c"

"@acme/widgets@^2.0.0":
  version "2.0.0"
  resolved "https://npm.company.example/@acme%2Fwidgets/-/widgets-2.0.0.tgz#7d8e"

internal-lib@^1.2.0:
  version "1.2.3"
  resolved "https://example.com/acme/internal-lib/-/archive/v1.2.3/internal-lib-v1.2.3.tar.gz"

"right-pad@^1.0.0":
  version "1.0.0"
  resolved "https://npm.company.example/left-pad/-/left-pad-1.3.0.tgz"
)");
  REQUIRE(yarn.ok());
  REQUIRE(yarn->size() == 4);
  CHECK((*yarn)[0].origin == Origin::kRegistry);
  CHECK((*yarn)[1].origin == Origin::kRegistry);
  CHECK((*yarn)[2].origin == Origin::kUrl);
  CHECK((*yarn)[3].origin == Origin::kUrl);  // another package's tarball is not right-pad's

  auto pnpm = ParseText(Format::kPnpmLock, "inline/lockfile",
                        "lockfileVersion: '9.0'\npackages:\n  internal-lib@1.2.3:\n"
                        "    resolution: {tarball: " +
                            archive +
                            "}\n"
                            "  '@acme/widgets@2.0.0':\n"
                            "    resolution: {tarball: "
                            "https://npm.company.example/@acme%2fwidgets/-/widgets-2.0.0.tgz}\n");
  REQUIRE(pnpm.ok());
  REQUIRE(pnpm->size() == 2);
  CHECK((*pnpm)[0].origin == Origin::kUrl);
  CHECK((*pnpm)[0].origin_detail == archive);
  CHECK((*pnpm)[1].origin == Origin::kRegistry);

  auto bun = ParseText(Format::kBunLock, "inline/lockfile", R"({"packages": {
  "internal-lib": ["internal-lib@1.2.3", ")" + archive + R"(", {}, "sha512-x"],
  "left-pad": ["left-pad@1.3.0", "https://npm.company.example/left-pad/-/left-pad-1.3.0.tgz", {}, "sha512-y"],
  "snippet": ["snippet@gist:0123abcd", {}]
}})");
  REQUIRE(bun.ok());
  REQUIRE(bun->size() == 3);
  CHECK((*bun)[0].origin == Origin::kUrl);
  CHECK((*bun)[0].origin_detail == archive);
  CHECK((*bun)[1].origin == Origin::kRegistry);
  CHECK((*bun)[2].origin == Origin::kGit);  // gist: as npm and yarn spell it
  CHECK((*bun)[2].origin_detail == "gist:0123abcd");
}

TEST_CASE("bun: lockfiles without packages lock nothing", "[lockfile]") {
  CHECK(ParseFixture(Format::kBunLock, "scalibr/bunlock/empty.json5").empty());
  CHECK(ParseFixture(Format::kBunLock, "scalibr/bunlock/no-packages.json5").empty());
}

TEST_CASE("bun: invalid files name the file and what was expected", "[lockfile]") {
  std::string not_json = ParseFixtureError(Format::kBunLock, "scalibr/bunlock/not-json.txt");
  CHECK(not_json.starts_with(LockfileFixturePath("scalibr/bunlock/not-json.txt") + ":1: not valid JSON: "));
  // scalibr skips the bad entries and reports the rest with an error; here the file fails.
  CHECK(ParseFixtureError(Format::kBunLock, "scalibr/bunlock/bad-tuple.json5") ==
        LockfileFixturePath("scalibr/bunlock/bad-tuple.json5") +
            ":12: expected `wrappy-bad1` to be an array starting with \"name@version\"");
  auto no_name = ParseText(Format::kBunLock, "inline/lockfile", "{\"packages\": {\n\"a\": [\"1.0.0\"]}}");
  REQUIRE_FALSE(no_name.ok());
  CHECK(no_name.status().message() == "inline/lockfile:2: expected \"name@version\", got \"1.0.0\"");
  auto list = ParseText(Format::kBunLock, "inline/lockfile", "{\"packages\": []}");
  REQUIRE_FALSE(list.ok());
  CHECK(list.status().message() == "inline/lockfile: expected a `packages` object");
  auto array = ParseText(Format::kBunLock, "inline/lockfile", "[1, 2]");
  REQUIRE_FALSE(array.ok());
  CHECK(array.status().message() == "inline/lockfile:1: expected a JSON object");
}

// --- every fixture ----------------------------------------------------------------------

TEST_CASE("yarn, pnpm and bun: every scalibr fixture parses or fails naming the file", "[lockfile]") {
  const std::vector<std::string> invalid = {"pnpmlock/not-yaml.txt", "pnpmlock/invalid-path.yaml",
                                            "pnpmlock/invalid-paths.yaml", "bunlock/not-json.txt",
                                            "bunlock/bad-tuple.json5"};
  int seen = 0;
  for (auto [format, folder] :
       {std::pair{Format::kYarnLock, "yarnlock"}, std::pair{Format::kPnpmLock, "pnpmlock"},
        std::pair{Format::kBunLock, "bunlock"}}) {
    for (const auto& file :
         std::filesystem::directory_iterator(LockfileFixturePath("scalibr/" + std::string(folder)))) {
      std::string relative = std::string(folder) + "/" + file.path().filename().string();
      INFO(relative);
      ++seen;
      auto parsed = ParseLockfile(format, LockfileFixture("scalibr/" + relative));
      bool expected_invalid = std::find(invalid.begin(), invalid.end(), relative) != invalid.end();
      CHECK(parsed.ok() == !expected_invalid);
      if (!parsed.ok())
        CHECK(parsed.status().message().starts_with(LockfileFixturePath("scalibr/" + relative) + ":"));
    }
  }
  CHECK(seen == 26 + 34 + 19);
}

TEST_CASE("yarn, pnpm and bun: truncated files parse or fail, never throw", "[lockfile]") {
  // A download cut short is the likeliest broken input; every prefix of a few fixtures
  // covering each dialect must come back as a value.
  for (auto [format, relative] : {std::pair{Format::kYarnLock, "scalibr/yarnlock/commits.v1.lock"},
                                  std::pair{Format::kYarnLock, "scalibr/yarnlock/with-aliases.v2.lock"},
                                  std::pair{Format::kPnpmLock, "scalibr/pnpmlock/commits.yaml"},
                                  std::pair{Format::kPnpmLock, "scalibr/pnpmlock/mixed-groups.v9.yaml"},
                                  std::pair{Format::kBunLock, "scalibr/bunlock/commits.json5"}}) {
    LockfileInput whole = LockfileFixture(relative);
    for (std::size_t size = 0; size < whole.text.size(); size += 3) {
      LockfileInput input = whole;
      input.text.resize(size);
      INFO(relative << " cut at " << size);
      core::Result<std::vector<LockedDependency>> parsed = ParseLockfile(format, input);
      if (!parsed.ok()) CHECK(parsed.status().message().starts_with(whole.path));
    }
  }
}

}  // namespace pkgtrust::lockfile
