// Cargo.lock, go.mod, go.sum, pom.xml, gradle.lockfile, CycloneDX and SPDX JSON: the real
// files of tests/fixtures/lockfiles/real/ (counts from real/SOURCES.md) and scalibr's
// parser fixtures (expected packages from google/osv-scalibr's *_test.go tables, where
// pkgtrust differs the test says why).
#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "lockfile_test_support.hpp"

namespace pkgtrust::lockfile {
using namespace testing;

namespace {

using Purls = std::vector<std::string>;

}  // namespace

// ---------------------------------------------------------------- Cargo.lock

TEST_CASE("cargo: real Cargo.lock of bat", "[lockfile]") {
  auto deps = ParseFixture(Format::kCargoLock, "real/cargo/sharkdp-bat-Cargo.lock");
  CHECK(deps.size() == 317);
  const LockedDependency& bat = RequireDependency(deps, "pkg:cargo/bat@0.26.1");
  CHECK(bat.line == 127);  // the `[[package]]` header
  CHECK(bat.origin == Origin::kWorkspace);
  const LockedDependency& serde = RequireDependency(deps, "pkg:cargo/serde@1.0.228");
  CHECK(serde.line == 2278);
  CHECK(serde.origin == Origin::kRegistry);
  CHECK(RequireDependency(deps, "pkg:cargo/adler2@2.0.1").line == 5);
  CHECK(deps.front().file.ends_with("sharkdp-bat-Cargo.lock"));
}

TEST_CASE("cargo: packages in file order, duplicates of a name at each version", "[lockfile]") {
  auto deps = ParseFixture(Format::kCargoLock, "scalibr/cargolock/many-packages.lock");
  CHECK(PurlsOf(deps) == Purls{"pkg:cargo/zstd@0.11.2", "pkg:cargo/aho-corasick@0.7.18",
                               "pkg:cargo/memchr@2.4.1", "pkg:cargo/syn@1.0.109", "pkg:cargo/libc@0.2.140",
                               "pkg:cargo/syn@2.0.15"});
  CHECK(LinesOf(deps) == std::vector<int>{5, 11, 20, 26, 32, 38});
  CHECK(PurlsOf(ParseFixture(Format::kCargoLock, "scalibr/cargolock/duplicate.lock")) ==
        Purls{"pkg:cargo/syn@1.0.73", "pkg:cargo/syn@2.0.0"});
  CHECK(PurlsOf(ParseFixture(Format::kCargoLock, "scalibr/cargolock/two-packages.lock")) ==
        Purls{"pkg:cargo/addr2line@0.15.2", "pkg:cargo/syn@1.0.73"});
  CHECK(PurlsOf(ParseFixture(Format::kCargoLock, "scalibr/cargolock/one-package.lock")) ==
        Purls{"pkg:cargo/addr2line@0.15.2"});
  CHECK(ParseFixture(Format::kCargoLock, "scalibr/cargolock/empty.lock").empty());
}

TEST_CASE("cargo: build metadata stays in the version", "[lockfile]") {
  auto deps = ParseFixture(Format::kCargoLock, "scalibr/cargolock/package-with-build-string.lock");
  REQUIRE(deps.size() == 1);
  CHECK(deps[0].purl.name == "wasi");
  CHECK(deps[0].purl.version == "0.10.2+wasi-snapshot-preview1");
}

TEST_CASE("cargo: a package without source is a workspace member, a git source keeps its commit",
          "[lockfile]") {
  auto local = ParseFixture(Format::kCargoLock, "scalibr/cargolock/two-packages-with-local.lock");
  CHECK(PurlsOf(local) == Purls{"pkg:cargo/addr2line@0.15.2", "pkg:cargo/local-rust-pkg@0.1.0"});
  CHECK(local[0].origin == Origin::kRegistry);
  CHECK(local[1].origin == Origin::kWorkspace);
  CHECK(local[1].line == 14);

  auto commented = ParseFixture(Format::kCargoLock, "scalibr/cargolock/package-with-comments.lock");
  CHECK(PurlsOf(commented) == Purls{"pkg:cargo/addr2line@0.15.2", "pkg:cargo/syn@1.0.73"});
  CHECK(commented[1].origin == Origin::kGit);
  CHECK(commented[1].origin_detail ==
        "https://github.com/rust-lang/cargo#061a9ab4cfabf2a403dbeab4bbcb8ff97d344dff");
}

TEST_CASE("cargo: sparse crates.io is the registry, another registry is not", "[lockfile]") {
  auto deps = ParseText(
      Format::kCargoLock, "inline",
      "[[package]]\nname = \"a\"\nversion = \"1.0.0\"\nsource = \"sparse+https://index.crates.io/\"\n"
      "[[package]]\nname = \"b\"\nversion = \"2.0.0\"\n"
      "source = \"registry+https://my-intranet:8080/git/index\"\n");
  REQUIRE(deps.ok());
  REQUIRE(deps->size() == 2);
  CHECK((*deps)[0].origin == Origin::kRegistry);
  CHECK((*deps)[1].origin == Origin::kUrl);
  CHECK((*deps)[1].origin_detail == "https://my-intranet:8080/git/index");
}

TEST_CASE("cargo: errors name the file, the line and what was expected", "[lockfile]") {
  std::string message = ParseFixtureError(Format::kCargoLock, "scalibr/cargolock/not-toml.txt");
  CHECK(message.starts_with(LockfileFixturePath("scalibr/cargolock/not-toml.txt") + ":1: not valid TOML: "));
  auto wrong_type = ParseText(Format::kCargoLock, "inline", "version = 3\npackage = 5\n");
  REQUIRE_FALSE(wrong_type.ok());
  CHECK(wrong_type.status().message() == "inline:2: expected `[[package]]` tables");
  auto no_name = ParseText(Format::kCargoLock, "inline", "[[package]]\nversion = \"1.0.0\"\n");
  REQUIRE_FALSE(no_name.ok());
  CHECK(no_name.status().message() == "inline:1: expected a `name` in the `[[package]]` table");
}

// ---------------------------------------------------------------- go.mod and go.sum

TEST_CASE("go.mod: real go.mod of cli/cli", "[lockfile]") {
  auto deps = ParseFixture(Format::kGoMod, "real/gomod/cli-cli-go.mod");
  CHECK(deps.size() == 158);
  std::vector<std::string> notes = NotesOf(deps);
  CHECK(std::count(notes.begin(), notes.end(), "indirect") == 111);
  CHECK(RequireDependency(deps, "pkg:golang/github.com/spf13/cobra@v1.8.1").line == 42);
  CHECK(RequireDependency(deps, "pkg:golang/github.com/cli/go-gh/v2@v2.11.0").line == 14);
  const LockedDependency& text = RequireDependency(deps, "pkg:golang/golang.org/x/text@v0.19.0");
  CHECK(text.line == 49);
  CHECK(text.note.empty());
}

TEST_CASE("go.sum: real go.sum of cli/cli", "[lockfile]") {
  auto deps = ParseFixture(Format::kGoSum, "real/gomod/cli-cli-go.sum");
  CHECK(deps.size() == 320);
  CHECK(RequireDependency(deps, "pkg:golang/github.com/spf13/cobra@v1.8.1").line == 420);
  CHECK(RequireDependency(deps, "pkg:golang/cloud.google.com/go/compute/metadata@v0.2.3").line == 4);
}

TEST_CASE("go.mod: require lines and blocks, indirect, toolchain and go lines ignored", "[lockfile]") {
  auto deps = ParseFixture(Format::kGoMod, "scalibr/gomod/indirect-packages.mod");
  CHECK(PurlsOf(deps) == Purls{"pkg:golang/github.com/BurntSushi/toml@v1.0.0",
                               "pkg:golang/gopkg.in/yaml.v2@v2.4.0",
                               "pkg:golang/github.com/mattn/go-colorable@v0.1.9",
                               "pkg:golang/github.com/mattn/go-isatty@v0.0.14",
                               "pkg:golang/golang.org/x/sys@v0.0.0-20210630005230-0f9fa26af87c"});
  CHECK(LinesOf(deps) == std::vector<int>{6, 7, 11, 12, 13});
  CHECK(NotesOf(deps) == std::vector<std::string>{"", "", "indirect", "indirect", "indirect"});

  // scalibr adds a "stdlib" package for the go/toolchain version; the toolchain is not a
  // module dependency, so it is not listed here.
  for (const char* fixture : {"scalibr/gomod/toolchain.mod", "scalibr/gomod/toolchain-with-suffix.mod"}) {
    auto toolchain = ParseFixture(Format::kGoMod, fixture);
    CHECK(PurlsOf(toolchain) == Purls{"pkg:golang/github.com/BurntSushi/toml@v1.0.0"});
    CHECK(LinesOf(toolchain) == std::vector<int>{8});
  }
  auto single = ParseFixture(Format::kGoMod, "scalibr/gomod/indirect-1.23.mod");
  CHECK(PurlsOf(single) == Purls{"pkg:golang/github.com/sirupsen/logrus@v1.9.3",
                                 "pkg:golang/golang.org/x/sys@v0.0.0-20220715151400-c0bba94af5f8"});
  CHECK(NotesOf(single) == std::vector<std::string>{"", "indirect"});
  CHECK(PurlsOf(ParseFixture(Format::kGoMod, "scalibr/gomod/one-package.mod")) ==
        Purls{"pkg:golang/github.com/BurntSushi/toml@v1.0.0"});
  CHECK(PurlsOf(ParseFixture(Format::kGoMod, "scalibr/gomod/two-packages.mod")) ==
        Purls{"pkg:golang/github.com/BurntSushi/toml@v1.0.0", "pkg:golang/gopkg.in/yaml.v2@v2.4.0"});
  CHECK(ParseFixture(Format::kGoMod, "scalibr/gomod/empty.mod").empty());
}

TEST_CASE("go.mod: for go 1.16 only go.mod's own requires are listed", "[lockfile]") {
  // scalibr merges the go.sum beside an old go.mod; here go.sum is its own format.
  CHECK(PurlsOf(ParseFixture(Format::kGoMod, "scalibr/gomod/indirect-1.16.mod")) ==
        Purls{"pkg:golang/github.com/sirupsen/logrus@v1.9.3"});
}

TEST_CASE("go.mod: replace directives", "[lockfile]") {
  auto one = ParseFixture(Format::kGoMod, "scalibr/gomod/replace-one.mod");
  CHECK(PurlsOf(one) == Purls{"pkg:golang/example.com/fork/net@v1.4.5"});
  CHECK(LinesOf(one) == std::vector<int>{5});  // where the replacement is written
  CHECK(one[0].note == "replaces golang.org/x/net v1.2.3");

  auto mixed = ParseFixture(Format::kGoMod, "scalibr/gomod/replace-mixed.mod");
  CHECK(PurlsOf(mixed) ==
        Purls{"pkg:golang/example.com/fork/net@v1.4.5", "pkg:golang/golang.org/x/net@v0.5.6"});
  CHECK(LinesOf(mixed) == std::vector<int>{7, 3});

  auto different = ParseFixture(Format::kGoMod, "scalibr/gomod/replace-different.mod");
  CHECK(PurlsOf(different) ==
        Purls{"pkg:golang/example.com/fork/foe@v1.4.5", "pkg:golang/example.com/fork/foe@v1.4.2"});
  CHECK(LinesOf(different) == std::vector<int>{7, 8});

  // Without an old version the replacement applies to every required version.
  auto no_version = ParseFixture(Format::kGoMod, "scalibr/gomod/replace-no-version.mod");
  CHECK(PurlsOf(no_version) == Purls{"pkg:golang/example.com/fork/net@v1.4.5"});

  // A replacement of a version that is not required changes nothing.
  CHECK(PurlsOf(ParseFixture(Format::kGoMod, "scalibr/gomod/replace-not-required.mod")) ==
        Purls{"pkg:golang/golang.org/x/net@v0.5.6", "pkg:golang/github.com/BurntSushi/toml@v1.0.0"});

  // A local folder: listed under the module it replaces, without a version, as kPath.
  auto local = ParseFixture(Format::kGoMod, "scalibr/gomod/replace-local.mod");
  CHECK(PurlsOf(local) ==
        Purls{"pkg:golang/golang.org/x/net", "pkg:golang/github.com/BurntSushi/toml@v1.0.0"});
  CHECK(local[0].origin == Origin::kPath);
  CHECK(local[0].origin_detail == "./fork/net");
  CHECK(local[0].line == 7);
  CHECK(local[1].origin == Origin::kRegistry);
}

TEST_CASE("go.mod: comments, quoted paths, exclude and retract", "[lockfile]") {
  auto deps = ParseText(Format::kGoMod, "inline",
                        "// a comment\nmodule \"example.com/me\"\n\ngo 1.22\n"
                        "require example.com/a v1.0.0 // indirect; needed by b\n"
                        "exclude example.com/a v0.9.0\nretract [v1.0.0, v1.0.5]\n"
                        "retract (\n  v0.1.0 // broken\n)\n");
  REQUIRE(deps.ok());
  CHECK(PurlsOf(*deps) == Purls{"pkg:golang/example.com/a@v1.0.0"});
  CHECK(NotesOf(*deps) == std::vector<std::string>{"indirect"});
}

TEST_CASE("go.sum: module versions once, the /go.mod suffix dropped", "[lockfile]") {
  auto deps = ParseFixture(Format::kGoSum, "scalibr/gomod/indirect-1.16.sum");
  CHECK(PurlsOf(deps) ==
        Purls{"pkg:golang/github.com/davecgh/go-spew@v1.1.0", "pkg:golang/github.com/davecgh/go-spew@v1.1.1",
              "pkg:golang/github.com/pmezard/go-difflib@v1.0.0",
              "pkg:golang/github.com/sirupsen/logrus@v1.9.3", "pkg:golang/github.com/stretchr/objx@v0.1.0",
              "pkg:golang/github.com/stretchr/testify@v1.7.0",
              "pkg:golang/golang.org/x/sys@v0.0.0-20220715151400-c0bba94af5f8",
              "pkg:golang/gopkg.in/check.v1@v0.0.0-20161208181325-20d25e280405",
              "pkg:golang/gopkg.in/yaml.v3@v3.0.0-20200313102051-9f266ea9e77c"});
  CHECK(LinesOf(deps) == std::vector<int>{1, 2, 4, 6, 8, 9, 11, 13, 14});
}

TEST_CASE("go.mod and go.sum: errors name the file, the line and what was expected", "[lockfile]") {
  CHECK(ParseFixtureError(Format::kGoMod, "scalibr/gomod/not-go-mod.mod") ==
        LockfileFixturePath("scalibr/gomod/not-go-mod.mod") +
            ":1: expected a go.mod directive (module, go, require, replace, ...), not `this`");
  CHECK(ParseFixtureError(Format::kGoSum, "scalibr/gomod/indirect-1.23.sum") ==
        LockfileFixturePath("scalibr/gomod/indirect-1.23.sum") +
            ":1: expected `module/path version[/go.mod] h1:hash`");
  auto open_block = ParseText(Format::kGoMod, "inline", "module m\nrequire (\n  example.com/a v1.0.0\n");
  REQUIRE_FALSE(open_block.ok());
  CHECK(open_block.status().message() == "inline:2: expected `)` to close the require block");
  auto short_require = ParseText(Format::kGoMod, "inline", "require example.com/a\n");
  REQUIRE_FALSE(short_require.ok());
  CHECK(short_require.status().message() == "inline:1: expected `require module/path version`");
  auto bad_replace = ParseText(Format::kGoMod, "inline", "replace example.com/a v1 v2 => b\n");
  REQUIRE_FALSE(bad_replace.ok());
  CHECK(bad_replace.status().message().starts_with("inline:1: expected `replace module/path [version] =>"));
}

// ---------------------------------------------------------------- pom.xml

TEST_CASE("pom: real pom.xml of spring-petclinic and jsoup", "[lockfile]") {
  auto petclinic = ParseFixture(Format::kPomXml, "real/maven/spring-projects-spring-petclinic-pom.xml");
  CHECK(petclinic.size() == 24);
  const LockedDependency& bootstrap =
      RequireDependency(petclinic, "pkg:maven/org.webjars.npm/bootstrap@5.3.8");
  CHECK(bootstrap.line == 102);
  CHECK(bootstrap.note == "runtime");
  const LockedDependency& actuator =
      RequireDependency(petclinic, "pkg:maven/org.springframework.boot/spring-boot-starter-actuator");
  CHECK(actuator.line == 42);
  CHECK(actuator.note == "version managed by the parent POM");

  auto jsoup = ParseFixture(Format::kPomXml, "real/maven/jhy-jsoup-pom.xml");
  CHECK(jsoup.size() == 6);
  const LockedDependency& re2j = RequireDependency(jsoup, "pkg:maven/com.google.re2j/re2j@1.8");
  CHECK(re2j.line == 613);
  CHECK(re2j.note == "optional");
  CHECK(RequireDependency(jsoup, "pkg:maven/org.jspecify/jspecify@1.0.1").note == "provided");
  CHECK(RequireDependency(jsoup, "pkg:maven/io.netty/netty-handler").note ==
        "version managed by the parent POM, test");
}

TEST_CASE("pom: declared dependencies with their lines", "[lockfile]") {
  auto two = ParseFixture(Format::kPomXml, "scalibr/pomxml/two-packages.xml");
  CHECK(PurlsOf(two) ==
        Purls{"pkg:maven/io.netty/netty-all@4.1.42.Final", "pkg:maven/org.slf4j/slf4j-log4j12@1.7.25"});
  CHECK(LinesOf(two) == std::vector<int>{7, 12});
  CHECK(PurlsOf(ParseFixture(Format::kPomXml, "scalibr/pomxml/one-package.xml")) ==
        Purls{"pkg:maven/org.apache.maven/maven-artifact@1.0.0"});
  auto latin1 = ParseFixture(Format::kPomXml, "scalibr/pomxml/encoding.xml");
  CHECK(PurlsOf(latin1) == Purls{"pkg:maven/junit/junit@4.12"});
  CHECK(LinesOf(latin1) == std::vector<int>{16});
  CHECK(ParseFixture(Format::kPomXml, "scalibr/pomxml/empty.xml").empty());
  // dependencyManagement is the parent-side list of versions, not dependencies.
  CHECK(PurlsOf(ParseFixture(Format::kPomXml, "scalibr/pomxml/transitive.xml")) ==
        Purls{"pkg:maven/org.direct/alice@1.0.0", "pkg:maven/org.direct/bob@2.0.0",
              "pkg:maven/org.direct/chris@3.0.0"});
}

TEST_CASE("pom: properties interpolated, a version range is not a version", "[lockfile]") {
  auto deps = ParseFixture(Format::kPomXml, "scalibr/pomxml/interpolation.xml");
  // scalibr takes the range's lower bound (9.4.35.v20201120); Maven resolves the range
  // against the repository, so the version used is not in the file.
  CHECK(PurlsOf(deps) == Purls{"pkg:maven/org.mine/mypackage@1.0.0", "pkg:maven/org.mine/my.package@2.3.4",
                               "pkg:maven/org.mine/ranged-package"});
  CHECK(LinesOf(deps) == std::vector<int>{18, 24, 30});
  CHECK(deps[2].note == "version range [9.4.35.v20201120,9.5)");

  auto dropped = ParseFixture(Format::kPomXml, "scalibr/pomxml/interpolate-drop.xml");
  CHECK(PurlsOf(dropped) == Purls{"pkg:maven/com.example/actual-artifact@1.0.0"});
  // Two spellings of the same artifact: one package, at its first declaration (scalibr: line 0).
  auto ambiguous = ParseFixture(Format::kPomXml, "scalibr/pomxml/ambiguous-interpolation.xml");
  CHECK(PurlsOf(ambiguous) == Purls{"pkg:maven/com.example/common-lib@1.0.0"});
  CHECK(LinesOf(ambiguous) == std::vector<int>{8});

  auto own = ParseText(Format::kPomXml, "inline",
                       "<project><parent><groupId>g</groupId><version>7</version></parent>\n"
                       "<artifactId>me</artifactId><properties><a>${b}</a><b>1.${project.version}</b>"
                       "<loop>${loop}</loop></properties><dependencies>\n"
                       "<dependency><groupId>${project.groupId}</groupId><artifactId>x</artifactId>"
                       "<version>${a}</version></dependency>\n"
                       "<dependency><groupId>g</groupId><artifactId>y</artifactId><version>${loop}</version>"
                       "</dependency>\n"
                       "<dependency><groupId>g</groupId><artifactId>z</artifactId><version>[2.0]</version>"
                       "</dependency></dependencies></project>");
  REQUIRE(own.ok());
  CHECK(PurlsOf(*own) == Purls{"pkg:maven/g/x@1.7", "pkg:maven/g/y", "pkg:maven/g/z@2.0"});
  CHECK(LinesOf(*own) == std::vector<int>{3, 4, 5});
  CHECK((*own)[1].note == "version ${loop} is not defined in this file");
}

TEST_CASE("pom: properties that expand past 4 KiB or 256 substitutions are not a version", "[lockfile]") {
  // <p0> holds `p0`; each <pN> names <pN-1> ten times; the dependency's version is `version`.
  auto pom = [](const std::string& p0, int levels, const std::string& version) {
    std::string text = "<project><properties><p0>" + p0 + "</p0>";
    for (int n = 1; n <= levels; ++n) {
      text += "<p" + std::to_string(n) + ">";
      for (int i = 0; i < 10; ++i) text += "${p" + std::to_string(n - 1) + "}";
      text += "</p" + std::to_string(n) + ">";
    }
    return text + "</properties><dependencies><dependency><groupId>g</groupId><artifactId>a</artifactId>" +
           "<version>" + version + "</version></dependency></dependencies></project>";
  };
  auto only_dependency = [](const std::string& text) {
    auto parsed = ParseText(Format::kPomXml, "inline", text);
    REQUIRE(parsed.ok());
    REQUIRE(parsed->size() == 1);
    return (*parsed)[0];
  };
  struct Case {
    std::string p0;
    int levels;
    std::string version;
  };
  // 100,000 characters; 10,000 substitutions of nothing; a gigabyte from 659 bytes.
  for (const Case& unread :
       {Case{"xxxxxxxxxx", 4, "${p4}"}, Case{"", 4, "1.${p4}0"}, Case{"xxxxxxxxxx", 8, "${p8}"}}) {
    LockedDependency dependency = only_dependency(pom(unread.p0, unread.levels, unread.version));
    REQUIRE(core::FormatPurl(dependency.purl) == "pkg:maven/g/a");
    CHECK(dependency.note ==
          "version " + unread.version + " expands past 4096 characters or 256 properties; not read");
  }
  // Below both bounds the expansion is the version: 400 characters, 111 substitutions.
  std::string version;
  for (int i = 0; i < 100; ++i) version += "1234";
  CHECK(core::FormatPurl(only_dependency(pom("1234", 2, "${p2}")).purl) == "pkg:maven/g/a@" + version);
}

TEST_CASE("pom: dependencyManagement versions and the parent POM", "[lockfile]") {
  // An explicit version wins over the managed one.
  CHECK(PurlsOf(ParseFixture(Format::kPomXml, "scalibr/pomxml/with-dependency-management.xml")) ==
        Purls{"pkg:maven/io.netty/netty-all@4.1.9", "pkg:maven/org.slf4j/slf4j-log4j12@1.7.25"});

  // scalibr reads parent/pom.xml too (adding org.dave:dave and frank's version from it);
  // here each file is read alone, so frank's version is left to the parent.
  auto deps = ParseFixture(Format::kPomXml, "scalibr/pomxml/with-parent.xml");
  CHECK(PurlsOf(deps) == Purls{"pkg:maven/org.alice/alice@1.0.0", "pkg:maven/org.bob/bob@2.0.0",
                               "pkg:maven/org.chuck/chuck@3.0.0", "pkg:maven/org.frank/frank"});
  CHECK(LinesOf(deps) == std::vector<int>{18, 23, 28, 32});
  CHECK(NotesOf(deps) == std::vector<std::string>{"", "", "", "version managed by the parent POM"});
  CHECK(PurlsOf(ParseFixture(Format::kPomXml, "scalibr/pomxml/parent/pom.xml")) ==
        Purls{"pkg:maven/org.dave/dave@4.0.0"});
}

TEST_CASE("pom: scopes, profiles, plugins, type and classifier", "[lockfile]") {
  auto scoped = ParseFixture(Format::kPomXml, "scalibr/pomxml/with-scope.xml");
  CHECK(PurlsOf(scoped) == Purls{"pkg:maven/abc/xyz@1.2.3", "pkg:maven/junit/junit@4.12"});
  CHECK(NotesOf(scoped) == std::vector<std::string>{"", "test"});

  auto profiles = ParseFixture(Format::kPomXml, "scalibr/pomxml/profiles.xml");
  CHECK(PurlsOf(profiles) == Purls{"pkg:maven/org.profile/profile-dep@1.2.3"});  // not the <parent>
  CHECK(LinesOf(profiles) == std::vector<int>{15});
  CHECK(profiles[0].note == "profile my-profile");

  auto plugin = ParseFixture(Format::kPomXml, "scalibr/pomxml/plugin-dependency.xml");
  CHECK(PurlsOf(plugin) == Purls{"pkg:maven/com.example/hijack-lib@1.0.0"});
  CHECK(LinesOf(plugin) == std::vector<int>{27});

  CHECK(PurlsOf(ParseFixture(Format::kPomXml, "scalibr/pomxml/with-type-classifier.xml")) ==
        Purls{"pkg:maven/abc/xyz@1.0.0"});
  // Classifiers and types do not change the package: one entry, at its first line
  // (scalibr keeps the last declaration's line).
  auto classifiers = ParseFixture(Format::kPomXml, "scalibr/pomxml/with-multiple-classifiers.xml");
  CHECK(PurlsOf(classifiers) == Purls{"pkg:maven/com.example/my-lib@1.0.0"});
  CHECK(LinesOf(classifiers) == std::vector<int>{8});
  auto jar = ParseFixture(Format::kPomXml, "scalibr/pomxml/explicit-jar.xml");
  CHECK(PurlsOf(jar) == Purls{"pkg:maven/org.different/my-lib@1.0.0", "pkg:maven/com.example/my-lib@1.0.0"});
  CHECK(LinesOf(jar) == std::vector<int>{12, 17});
  // Two versions of one artifact are both declared (scalibr keeps only the first).
  CHECK(PurlsOf(ParseFixture(Format::kPomXml, "scalibr/pomxml/multi-version.xml")) ==
        Purls{"pkg:maven/abc/example.com@1.0.0", "pkg:maven/abc/example.com@1.1.1"});

  auto system = ParseText(Format::kPomXml, "inline",
                          "<project><dependencies><dependency><groupId>g</groupId><artifactId>a</artifactId>"
                          "<version>1</version><scope>system</scope><systemPath>/opt/a.jar</systemPath>"
                          "</dependency></dependencies></project>");
  REQUIRE(system.ok());
  REQUIRE(system->size() == 1);
  CHECK((*system)[0].origin == Origin::kPath);
  CHECK((*system)[0].origin_detail == "/opt/a.jar");
}

TEST_CASE("pom: errors name the file, the line and what was expected", "[lockfile]") {
  CHECK(ParseFixtureError(Format::kPomXml, "scalibr/pomxml/invalid-syntax.xml")
            .starts_with(LockfileFixturePath("scalibr/pomxml/invalid-syntax.xml") + ":3: not valid XML: "));
  CHECK(ParseFixtureError(Format::kPomXml, "scalibr/pomxml/not-pom.txt") ==
        LockfileFixturePath("scalibr/pomxml/not-pom.txt") + ": expected a Maven POM (a <project> element)");
  auto other_root = ParseText(Format::kPomXml, "inline", "<?xml version=\"1.0\"?>\n<settings/>\n");
  REQUIRE_FALSE(other_root.ok());
  CHECK(other_root.status().message() ==
        "inline:2: expected a Maven POM (a <project> element), not <settings>");
}

// ---------------------------------------------------------------- gradle.lockfile

TEST_CASE("gradle: real gradle.lockfile of JabRef", "[lockfile]") {
  auto deps = ParseFixture(Format::kGradleLockfile, "real/gradle/JabRef-jabref-gradle.lockfile");
  CHECK(deps.size() == 199);
  CHECK(RequireDependency(deps, "pkg:maven/classworlds/classworlds@1.1-alpha-2").line == 4);
  CHECK(RequireDependency(deps, "pkg:maven/com.github.sialcasa.mvvmFX/mvvmfx-validation@f195849ca9").line ==
        11);
  CHECK(RequireDependency(deps, "pkg:maven/com.google.code.gson/gson@2.9.0").line == 14);
}

TEST_CASE("gradle: coordinates, comments and empty= lines", "[lockfile]") {
  auto five = ParseFixture(Format::kGradleLockfile, "scalibr/gradlelockfile/5-pkg");
  CHECK(PurlsOf(five) == Purls{"pkg:maven/org.springframework.boot/spring-boot-autoconfigure@2.7.4",
                               "pkg:maven/org.springframework.boot/spring-boot-configuration-processor@2.7.5",
                               "pkg:maven/org.springframework.boot/spring-boot-devtools@2.7.6",
                               "pkg:maven/org.springframework.boot/spring-boot-starter-aop@2.7.7",
                               "pkg:maven/org.springframework.boot/spring-boot-starter-data-jpa@2.7.8"});
  CHECK(LinesOf(five) == std::vector<int>{5, 6, 7, 8, 9});
  auto one = ParseFixture(Format::kGradleLockfile, "scalibr/gradlelockfile/one-pkg");
  CHECK(PurlsOf(one) == Purls{"pkg:maven/org.springframework.security/spring-security-crypto@5.7.3"});
  CHECK(LinesOf(one) == std::vector<int>{4});
  CHECK(ParseFixture(Format::kGradleLockfile, "scalibr/gradlelockfile/only-comments").empty());
  CHECK(ParseFixture(Format::kGradleLockfile, "scalibr/gradlelockfile/only-empty").empty());
}

TEST_CASE("gradle: a malformed line is an error", "[lockfile]") {
  // scalibr skips the bad lines of with-bad-pkg; a skipped line could hide a package.
  CHECK(ParseFixtureError(Format::kGradleLockfile, "scalibr/gradlelockfile/with-bad-pkg") ==
        LockfileFixturePath("scalibr/gradlelockfile/with-bad-pkg") +
            ":3: expected `group:artifact:version=configurations`");
  for (const char* line : {"g:a=runtime", "g:a:b:1.0=runtime", "g::1.0=runtime", "g:a:1.0", ":a:1.0=x"}) {
    auto parsed = ParseText(Format::kGradleLockfile, "inline", std::string("# c\n") + line + "\n");
    INFO(line);
    REQUIRE_FALSE(parsed.ok());
    CHECK(parsed.status().message() == "inline:2: expected `group:artifact:version=configurations`");
  }
}

// ---------------------------------------------------------------- CycloneDX

TEST_CASE("cyclonedx: real SBOMs of dropwizard (maven) and laravel (composer)", "[lockfile]") {
  auto dropwizard =
      ParseFixture(Format::kCycloneDx, "real/cyclonedx/CycloneDX-bom-examples-dropwizard-1.3.15-bom.json");
  CHECK(dropwizard.size() == 167);
  CHECK(RequireDependency(dropwizard, "pkg:maven/joda-time/joda-time@2.10.1?type=jar").line == 519);
  CHECK(RequireDependency(dropwizard, "pkg:maven/io.dropwizard/dropwizard-util@1.3.15?type=jar").line == 580);
  // metadata.component, the SBOM's subject, is not one of its dependencies.
  CHECK(FindDependency(dropwizard, "pkg:maven/io.dropwizard/dropwizard-parent@1.3.15") == nullptr);

  auto laravel =
      ParseFixture(Format::kCycloneDx, "real/cyclonedx/CycloneDX-bom-examples-laravel-7.12.0-bom.1.4.json");
  CHECK(laravel.size() == 62);
  CHECK(RequireDependency(laravel, "pkg:composer/laravel/framework@v7.30.6").line == 653);
  CHECK(RequireDependency(laravel, "pkg:composer/symfony/console@v5.4.16").line == 1767);
  CHECK(FindDependency(laravel, "pkg:composer/cyclonedx/cyclonedx-php-composer-demo@dev-master") == nullptr);
}

TEST_CASE("cyclonedx: components with a purl, nested ones included", "[lockfile]") {
  // scalibr also lists the purl-less "Nginx" by name; without a purl there is nothing to check.
  auto nested = ParseFixture(Format::kCycloneDx, "scalibr/cdx/sbom-with-nested-comps.cdx.json");
  CHECK(PurlsOf(nested) == Purls{"pkg:generic/openssl@1.1.1", "pkg:cargo/rustls@0.23.13"});
  CHECK(LinesOf(nested) == std::vector<int>{12, 26});
  for (const char* fixture : {"scalibr/cdx/sbom.cdx.json", "scalibr/cdx/sbom.bom.json"})
    CHECK(PurlsOf(ParseFixture(Format::kCycloneDx, fixture)) == Purls{"pkg:generic/openssl@1.1.1"});
  auto npm = ParseFixture(Format::kCycloneDx, "scalibr/cdx/sbom-with-locations.cdx.json");
  REQUIRE(npm.size() == 1);
  CHECK(npm[0].purl.type == "npm");
  CHECK(npm[0].purl.namespace_ == "@gar");
  CHECK(npm[0].purl.name == "promisify");
  CHECK(npm[0].line == 12);
  CHECK(ParseFixture(Format::kCycloneDx, "scalibr/cdx/minimal.cdx.json").empty());  // only metadata.component
}

TEST_CASE("cyclonedx: lines found however the purl is escaped, pypi names normalized", "[lockfile]") {
  auto deps = ParseText(Format::kCycloneDx, "inline",
                        "{\"bomFormat\": \"CycloneDX\",\n"
                        "\"metadata\": {\"component\": {\"purl\": \"pkg:npm/a@1.0.0\"}},\n"
                        "\"components\": [\n"
                        "{\"bom-ref\": \"pkg:npm/a@1.0.0\",\n\"purl\": \"pkg:npm/a@1.0.0\"},\n"
                        "{\"purl\": \"pkg:pypi\\/Foo.Bar@2.0\"},\n"
                        "{\"name\": \"no purl\"},\n"
                        "{\"purl\": 7},\n"
                        "{\"purl\": \"pkg:golang/example.com\\u002Fx@v1.0.0?a=1\\u0026b=2\"}]}");
  REQUIRE(deps.ok());
  CHECK(PurlsOf(*deps) ==
        Purls{"pkg:npm/a@1.0.0", "pkg:pypi/foo-bar@2.0", "pkg:golang/example.com/x@v1.0.0?a=1&b=2"});
  CHECK(LinesOf(*deps) == std::vector<int>{5, 6, 9});
  CHECK((*deps)[2].origin == Origin::kRegistry);
}

TEST_CASE("cyclonedx: XML, non-JSON and other JSON are refused", "[lockfile]") {
  for (const char* fixture : {"scalibr/cdx/sbom.cdx.xml", "scalibr/cdx/sbom.bom.xml"}) {
    CHECK(ParseFixtureError(Format::kCycloneDx, fixture) ==
          LockfileFixturePath(fixture) +
              ": expected a CycloneDX JSON document (this is XML; CycloneDX XML is not read)");
  }
  for (const char* fixture : {"scalibr/cdx/invalid_sbom.cdxjson", "scalibr/cdx/random_file.ext",
                              "scalibr/cdx/sbom.cdx.json.foo.ext"}) {
    CHECK(ParseFixtureError(Format::kCycloneDx, fixture)
              .starts_with(LockfileFixturePath(fixture) +
                           ":1: expected a CycloneDX JSON document (not valid JSON: "));
  }
  auto spdx = ParseText(Format::kCycloneDx, "inline", R"({"spdxVersion": "SPDX-2.3", "components": []})");
  REQUIRE_FALSE(spdx.ok());
  CHECK(spdx.status().message() ==
        "inline: expected a CycloneDX JSON document (an object with \"bomFormat\": \"CycloneDX\")");
  auto wrong_types =
      ParseText(Format::kCycloneDx, "inline", R"({"bomFormat": "CycloneDX", "components": {"purl": 1}})");
  REQUIRE(wrong_types.ok());
  CHECK(wrong_types->empty());
}

// ---------------------------------------------------------------- SPDX

TEST_CASE("spdx: real SPDX documents", "[lockfile]") {
  auto aci = ParseFixture(Format::kSpdx, "real/spdx/CiscoDevNet-terraform-provider-aci-sbom.spdx.json");
  CHECK(aci.size() == 62);
  CHECK(RequireDependency(aci, "pkg:golang/github.com/fatih/color@v1.16.0").line == 182);  // its SPDXID line
  CHECK(RequireDependency(aci, "pkg:golang/github.com/ProtonMail/go-crypto@v1.1.6").line == 47);

  auto example9 =
      ParseFixture(Format::kSpdx, "real/spdx/spdx-spdx-examples-example9-appbomination.spdx.json");
  CHECK(PurlsOf(example9) == Purls{"pkg:maven/org.hamcrest/hamcrest-core@1.3",
                                   "pkg:maven/org.apache.commons/commons-lang3@3.4",
                                   "pkg:maven/junit/junit@4.12", "pkg:maven/org.slf4j/slf4j-api@1.7.21"});
  CHECK(LinesOf(example9) == std::vector<int>{68, 88, 109, 130});
  CHECK(ParseFixture(Format::kSpdx, "real/spdx/spdx-spdx-examples-example8-examplemaven-0.0.1.spdx.json")
            .empty());
}

TEST_CASE("spdx: packages with a purl reference, whatever its category", "[lockfile]") {
  auto both = ParseFixture(Format::kSpdx, "scalibr/spdx/purl_and_cpe.spdx.json");
  CHECK(PurlsOf(both) == Purls{"pkg:generic/nginx@1.21.1", "pkg:generic/openssl@1.1.1l"});
  CHECK(LinesOf(both) == std::vector<int>{15, 38});
  // nginx has only a CPE (scalibr lists it by the CPE); openssl's purl is filed under SECURITY.
  CHECK(PurlsOf(ParseFixture(Format::kSpdx, "scalibr/spdx/sbom.spdx.json")) ==
        Purls{"pkg:generic/openssl@1.1.1l"});
  CHECK(PurlsOf(ParseFixture(Format::kSpdx, "scalibr/spdx/external_refs.spdx.json")) ==
        Purls{"pkg:generic/some_company/flatbuffers@25.9.23"});
  for (const char* fixture : {"scalibr/spdx/descendant_of.spdx.json", "scalibr/spdx/ancestor_of.spdx.json",
                              "scalibr/spdx/overlapping_refs.spdx.json"}) {
    auto deps = ParseFixture(Format::kSpdx, fixture);
    CHECK(PurlsOf(deps) == Purls{"pkg:maven/log4j/log4j@1.2.15"});
    CHECK(LinesOf(deps) == std::vector<int>{27});
  }
  CHECK(PurlsOf(ParseFixture(Format::kSpdx, "scalibr/spdx/multi_descendant.spdx.json")) ==
        Purls{"pkg:generic/google/pkg@5.0"});
  CHECK(PurlsOf(ParseFixture(Format::kSpdx, "scalibr/spdx/independent_packages_descendant.spdx.json")) ==
        Purls{"pkg:generic/child@1.0.0", "pkg:generic/parent@2.0.0"});
  CHECK(ParseFixture(Format::kSpdx, "scalibr/spdx/minimal.spdx.json").empty());
  // Docker Hardened Images: escaped '&' in the qualifiers, other purl types kept as they are.
  CHECK(
      PurlsOf(ParseFixture(Format::kSpdx, "scalibr/spdx/dhi/.spdx.dhi-python.json")) ==
      Purls{"pkg:docker/dhi/python@3.14.3-debian13-dev?os_name=debian&os_version=13&platform=linux%2Famd64"});
  CHECK(PurlsOf(ParseFixture(Format::kSpdx, "scalibr/spdx/dhi/.spdx.python.json")) ==
        Purls{"pkg:dhi/python@3.14.3"});
}

TEST_CASE("spdx: tag-value, YAML, RDF and non-JSON files are refused", "[lockfile]") {
  struct Case {
    const char* fixture;
    const char* rest;
  };
  for (const Case& refused :
       {Case{"scalibr/spdx/sbom.spdx", " (this is SPDX tag-value, which is not read)"},
        Case{"scalibr/spdx/sbom.spdx.yml", " (this is SPDX YAML, which is not read)"},
        Case{"scalibr/spdx/sbom.spdx.rdf", " (this is SPDX RDF/XML, which is not read)"}}) {
    CHECK(ParseFixtureError(Format::kSpdx, refused.fixture) ==
          LockfileFixturePath(refused.fixture) + ": expected an SPDX JSON document" + refused.rest);
  }
  for (const char* fixture :
       {"scalibr/spdx/invalid_sbom.spdx", "scalibr/spdx/random_file.ext", "scalibr/spdx/sbom.spdx.foo.ext"}) {
    CHECK(ParseFixtureError(Format::kSpdx, fixture)
              .starts_with(LockfileFixturePath(fixture) +
                           ":1: expected an SPDX JSON document (not valid JSON: "));
  }
  auto cyclonedx = ParseText(Format::kSpdx, "inline", R"({"bomFormat": "CycloneDX"})");
  REQUIRE_FALSE(cyclonedx.ok());
  CHECK(cyclonedx.status().message() ==
        "inline: expected an SPDX JSON document (an object with \"spdxVersion\": \"SPDX-2.x\")");
  auto wrong_types = ParseText(Format::kSpdx, "inline",
                               R"({"spdxVersion": "SPDX-2.3", "packages": [1, {"externalRefs": 2},
                                   {"externalRefs": [{"referenceType": "purl", "referenceLocator": "not a purl"}]}]})");
  REQUIRE(wrong_types.ok());
  CHECK(wrong_types->empty());
}

// ---------------------------------------------------------------- every fixture

// Every scalibr fixture of these formats either parses or fails with a message that
// starts with its path; the ones that must fail are named.
TEST_CASE("cargo, go.mod, go.sum, pom, gradle, cyclonedx, spdx: every scalibr fixture", "[lockfile]") {
  struct Folder {
    const char* folder;
    Format format;
  };
  const std::vector<std::string> refused = {
      "scalibr/cargolock/not-toml.txt",   "scalibr/gomod/not-go-mod.mod",
      "scalibr/gomod/indirect-1.23.sum",  "scalibr/pomxml/invalid-syntax.xml",
      "scalibr/pomxml/not-pom.txt",       "scalibr/gradlelockfile/with-bad-pkg",
      "scalibr/cdx/invalid_sbom.cdxjson", "scalibr/cdx/random_file.ext",
      "scalibr/cdx/sbom.bom.xml",         "scalibr/cdx/sbom.cdx.json.foo.ext",
      "scalibr/cdx/sbom.cdx.xml",         "scalibr/spdx/invalid_sbom.spdx",
      "scalibr/spdx/random_file.ext",     "scalibr/spdx/sbom.spdx",
      "scalibr/spdx/sbom.spdx.foo.ext",   "scalibr/spdx/sbom.spdx.rdf",
      "scalibr/spdx/sbom.spdx.yml"};
  int files = 0;
  for (const Folder& folder :
       {Folder{"scalibr/cargolock", Format::kCargoLock}, Folder{"scalibr/gomod", Format::kGoMod},
        Folder{"scalibr/pomxml", Format::kPomXml}, Folder{"scalibr/gradlelockfile", Format::kGradleLockfile},
        Folder{"scalibr/cdx", Format::kCycloneDx}, Folder{"scalibr/spdx", Format::kSpdx}}) {
    for (const auto& entry :
         std::filesystem::recursive_directory_iterator(LockfileFixturePath(folder.folder))) {
      if (!entry.is_regular_file()) continue;
      std::string relative = std::string(folder.folder) +
                             entry.path().string().substr(LockfileFixturePath(folder.folder).size());
      Format format = relative.ends_with(".sum") ? Format::kGoSum : folder.format;
      auto parsed = ParseLockfile(format, LockfileFixture(relative));
      INFO(relative << ": " << parsed.status().message());
      ++files;
      if (std::find(refused.begin(), refused.end(), relative) != refused.end()) {
        REQUIRE_FALSE(parsed.ok());
        CHECK(parsed.status().message().starts_with(LockfileFixturePath(relative) + ":"));
      } else {
        CHECK(parsed.ok());
      }
    }
  }
  CHECK(files == 9 + 17 + 20 + 5 + 10 + 18);
}

// Every prefix of a small fixture (a file cut off anywhere) parses or fails with the path
// in front: no input crashes a parser or throws out of ParseLockfile.
TEST_CASE("cargo, go.mod, go.sum, pom, gradle, cyclonedx, spdx: truncated files fail cleanly", "[lockfile]") {
  struct Fixture {
    Format format;
    const char* path;
  };
  for (const Fixture& fixture : {Fixture{Format::kCargoLock, "scalibr/cargolock/package-with-comments.lock"},
                                 Fixture{Format::kGoMod, "scalibr/gomod/replace-different.mod"},
                                 Fixture{Format::kGoSum, "scalibr/gomod/indirect-1.16.sum"},
                                 Fixture{Format::kPomXml, "scalibr/pomxml/with-parent.xml"},
                                 Fixture{Format::kGradleLockfile, "scalibr/gradlelockfile/5-pkg"},
                                 Fixture{Format::kCycloneDx, "scalibr/cdx/sbom-with-nested-comps.cdx.json"},
                                 Fixture{Format::kSpdx, "scalibr/spdx/purl_and_cpe.spdx.json"}}) {
    LockfileInput whole = LockfileFixture(fixture.path);
    for (std::size_t size = 0; size <= whole.text.size(); ++size) {
      LockfileInput input = whole;
      input.text.resize(size);
      auto parsed = ParseLockfile(fixture.format, input);
      if (!parsed.ok() && !parsed.status().message().starts_with(whole.path + ":")) {
        FAIL(fixture.path << " cut at " << size << ": " << parsed.status().message());
      }
    }
  }
}

}  // namespace pkgtrust::lockfile
