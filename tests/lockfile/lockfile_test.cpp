// The dispatcher (format names and detection, deduplication), the pieces the readers share
// and npm's package-lock.json.
#include <filesystem>
#include <string>

// Private to the lockfile module; this binary's include path has no src/.
#include "lockfile/format_parsers.hpp"
#include "lockfile_test_support.hpp"

namespace pkgtrust::lockfile {
using namespace testing;

TEST_CASE("lockfile formats are detected from the file name", "[lockfile]") {
  CHECK(DetectFormat("a/b/package-lock.json") == Format::kPackageLock);
  CHECK(DetectFormat("npm-shrinkwrap.json") == Format::kPackageLock);
  CHECK(DetectFormat("yarn.lock") == Format::kYarnLock);
  CHECK(DetectFormat("x/pnpm-lock.yaml") == Format::kPnpmLock);
  CHECK(DetectFormat("bun.lock") == Format::kBunLock);
  CHECK(DetectFormat("requirements.txt") == Format::kRequirements);
  CHECK(DetectFormat("requirements-dev.txt") == Format::kRequirements);
  CHECK(DetectFormat("dev-requirements.txt") == Format::kRequirements);
  CHECK(DetectFormat("repo/requirements/main.txt") == Format::kRequirements);
  CHECK(DetectFormat("repo/docs/main.txt") == std::nullopt);
  CHECK(DetectFormat("notes.txt") == std::nullopt);
  CHECK(DetectFormat("poetry.lock") == Format::kPoetryLock);
  CHECK(DetectFormat("Pipfile.lock") == Format::kPipfileLock);
  CHECK(DetectFormat("Pipfile") == std::nullopt);
  CHECK(DetectFormat("uv.lock") == Format::kUvLock);
  CHECK(DetectFormat("pdm.lock") == Format::kPdmLock);
  CHECK(DetectFormat("pylock.toml") == Format::kPylock);
  CHECK(DetectFormat("pylock.dev.toml") == Format::kPylock);
  CHECK(DetectFormat("pyproject.toml") == std::nullopt);
  CHECK(DetectFormat("Cargo.lock") == Format::kCargoLock);
  CHECK(DetectFormat("Cargo.toml") == std::nullopt);
  CHECK(DetectFormat("go.mod") == Format::kGoMod);
  CHECK(DetectFormat("go.sum") == Format::kGoSum);
  CHECK(DetectFormat("pom.xml") == Format::kPomXml);
  CHECK(DetectFormat("gradle.lockfile") == Format::kGradleLockfile);
  CHECK(DetectFormat("buildscript-gradle.lockfile") == Format::kGradleLockfile);
  CHECK(DetectFormat("bom.json") == Format::kCycloneDx);
  CHECK(DetectFormat("app.cdx.json") == Format::kCycloneDx);
  CHECK(DetectFormat("app.spdx.json") == Format::kSpdx);
  CHECK(DetectFormat("package.json") == std::nullopt);
}

TEST_CASE("every lockfile format has a name that reads back", "[lockfile]") {
  for (Format format : kAllFormats) CHECK(FormatFromName(FormatName(format)) == format);
  CHECK(FormatFromName("npm") == std::nullopt);
  CHECK(FormatName(Format::kPackageLock) == "package-lock");
}

TEST_CASE("package-lock v3 from a real project: 999 packages with their lines", "[lockfile]") {
  auto deps = ParseFixture(Format::kPackageLock, "real/package-lock/pypi-warehouse-package-lock.json");
  CHECK(deps.size() == 999);
  const LockedDependency& babel = RequireDependency(deps, "pkg:npm/%40babel/core@7.29.6");
  CHECK(babel.line == 115);
  CHECK(babel.origin == Origin::kRegistry);
  CHECK(babel.note == "dev");
  CHECK(babel.file == LockfileFixturePath("real/package-lock/pypi-warehouse-package-lock.json"));
  // A name installed twice at one version is listed once, at its first folder.
  std::size_t registry = 0;
  for (const auto& dep : deps) registry += dep.origin == Origin::kRegistry;
  CHECK(registry == 999);
}

TEST_CASE("package-lock aliases are checked under the name that is installed", "[lockfile]") {
  for (const char* file :
       {"scalibr/packagelockjson/alias.v1.json", "scalibr/packagelockjson/alias.v2.json"}) {
    INFO(file);
    auto deps = ParseFixture(Format::kPackageLock, file);
    CHECK(PurlsOf(deps) == std::vector<std::string>{"pkg:npm/%40babel/code-frame@7.0.0",
                                                    "pkg:npm/string-width@5.1.2",
                                                    "pkg:npm/string-width@4.2.0"});
    CHECK(deps[0].note == "alias babel-code-frame");
    CHECK(deps[1].note.empty());
    CHECK(deps[2].note == "alias string-width-cjs");
  }
}

TEST_CASE("package-lock git and file dependencies are listed, not from the registry", "[lockfile]") {
  auto v2 = ParseFixture(Format::kPackageLock, "scalibr/packagelockjson/files.v2.json");
  CHECK(PurlsOf(v2) ==
        std::vector<std::string>{"pkg:npm/etag@1.8.0", "pkg:npm/abbrev@1.0.9", "pkg:npm/abbrev@2.3.4"});
  CHECK(v2[0].origin == Origin::kWorkspace);
  CHECK(v2[0].origin_detail == "deps/etag");
  CHECK(v2[0].line == 16);
  CHECK(v2[1].origin == Origin::kRegistry);
  CHECK(v2[2].line == 42);

  auto v1 = ParseFixture(Format::kPackageLock, "scalibr/packagelockjson/files.v1.json");
  REQUIRE(v1.size() == 2);
  CHECK(v1[1].origin == Origin::kPath);
  CHECK(v1[1].origin_detail == "file:deps/other_package");
  CHECK(core::FormatPurl(v1[1].purl) == "pkg:npm/other_package");

  auto commits = ParseFixture(Format::kPackageLock, "scalibr/packagelockjson/commits.v1.json");
  const LockedDependency& segment =
      RequireDependency(commits, "pkg:npm/%40segment/analytics.js-integration-facebook-pixel");
  CHECK(segment.origin == Origin::kGit);
  CHECK(segment.origin_detail.ends_with("#3b1bb80b302c2e552685dc8a029797ec832ea7c9"));
  CHECK(segment.line == 5);
  auto commits2 = ParseFixture(Format::kPackageLock, "scalibr/packagelockjson/commits.v2.json");
  const LockedDependency& pixel =
      RequireDependency(commits2, "pkg:npm/%40segment/analytics.js-integration-facebook-pixel@2.4.1");
  CHECK(pixel.origin == Origin::kGit);
  CHECK(FindDependency(commits2, "pkg:npm/ansi-styles@1.0.0")->origin == Origin::kRegistry);
}

TEST_CASE("package-lock tarballs of a mirror registry are registry packages, other tarballs URLs",
          "[lockfile]") {
  auto parsed = ParseText(Format::kPackageLock, "package-lock.json", R"({"lockfileVersion": 3, "packages": {
  "": {"name": "app"},
  "node_modules/tool": {"version": "2.1.0", "resolved": "https://npm.corp.example/tool/-/tool-2.1.0.tgz"},
  "node_modules/tiny": {"version": "1.0.0", "resolved": "https://example.com/tiny-1.0.0.tgz"}
}})");
  REQUIRE(parsed.ok());
  REQUIRE(PurlsOf(*parsed) == std::vector<std::string>{"pkg:npm/tool@2.1.0", "pkg:npm/tiny@1.0.0"});
  CHECK((*parsed)[0].origin == Origin::kRegistry);
  CHECK((*parsed)[0].origin_detail.empty());
  CHECK((*parsed)[1].origin == Origin::kUrl);
  CHECK((*parsed)[1].origin_detail == "https://example.com/tiny-1.0.0.tgz");
}

TEST_CASE("package-lock v1 nested dependencies keep each version once", "[lockfile]") {
  // supports-color, installed in 36 folders at two versions, is two packages to check.
  auto deps = ParseFixture(Format::kPackageLock, "scalibr/packagelockjson/nested-dependencies-dup.v2.json");
  CHECK(PurlsOf(deps) ==
        std::vector<std::string>{"pkg:npm/supports-color@6.1.0", "pkg:npm/supports-color@2.0.0"});
  CHECK(deps[0].line == 10);
  CHECK(deps[1].line == 32);
  auto nested = ParseFixture(Format::kPackageLock, "scalibr/packagelockjson/nested-dependencies.v1.json");
  auto nested2 = ParseFixture(Format::kPackageLock, "scalibr/packagelockjson/nested-dependencies.v2.json");
  auto sorted = [](std::vector<std::string> v) {
    std::sort(v.begin(), v.end());
    return v;
  };
  CHECK(sorted(PurlsOf(nested)) == sorted(PurlsOf(nested2)));
  CHECK(nested.size() > 3);
}

TEST_CASE("package-lock dev and optional packages say so", "[lockfile]") {
  auto dev = ParseFixture(Format::kPackageLock, "scalibr/packagelockjson/one-package-dev.v2.json");
  REQUIRE(dev.size() == 1);
  CHECK(dev[0].note == "dev");
  auto optional = ParseFixture(Format::kPackageLock, "scalibr/packagelockjson/optional-package.v1.json");
  REQUIRE(!optional.empty());
  CHECK(optional[0].note.find("optional") != std::string::npos);
}

TEST_CASE("every package-lock fixture parses or names the file and what was expected", "[lockfile]") {
  for (const auto& entry :
       std::filesystem::recursive_directory_iterator(LockfileFixturePath("scalibr/packagelockjson"))) {
    if (!entry.is_regular_file()) continue;
    std::string relative = std::filesystem::relative(entry.path(), LockfileFixturePath("")).string();
    INFO(relative);
    auto parsed = ParseLockfile(Format::kPackageLock, LockfileFixture(relative));
    if (relative.ends_with("not-json.txt")) {
      REQUIRE_FALSE(parsed.ok());
      CHECK(parsed.status().message().starts_with(entry.path().string() + ":1: not valid JSON: "));
    } else if (relative.ends_with("null.v2.jsontest")) {
      REQUIRE_FALSE(parsed.ok());
      CHECK(parsed.status().message() ==
            entry.path().string() + ":1: expected a JSON object with \"packages\" or \"dependencies\"");
    } else {
      CHECK(parsed.ok());
    }
  }
}

// ---------------------------------------------------------------- shared pieces

TEST_CASE("npm registry tarballs: the package's own file under its folder, on any registry", "[lockfile]") {
  CHECK(IsNpmRegistryTarball("https://registry.npmjs.org/left-pad/-/left-pad-1.3.0.tgz", "left-pad"));
  CHECK(IsNpmRegistryTarball("https://npm.company.example/left-pad/-/left-pad-1.3.0.tgz", "left-pad"));
  CHECK(IsNpmRegistryTarball("http://npm.company.example/npm/left-pad/-/left-pad-1.3.0.tgz?x=1", "left-pad"));
  CHECK(IsNpmRegistryTarball("https://registry.yarnpkg.com/@babel/core/-/core-7.0.0.tgz#1b2c3d",
                             "@babel/core"));
  // Some registries write the scope's slash encoded; GitLab's puts the scoped name in the file.
  CHECK(IsNpmRegistryTarball("https://npm.company.example/@acme%2fwidgets/-/widgets-2.0.0.tgz",
                             "@acme/widgets"));
  CHECK(IsNpmRegistryTarball("https://npm.company.example/@acme%2Fwidgets/-/widgets-2.0.0.tgz",
                             "@acme/widgets"));
  CHECK(IsNpmRegistryTarball(
      "https://gitlab.example/api/v4/projects/1/packages/npm/@acme/widgets/-/@acme/widgets-2.0.0.tgz",
      "@acme/widgets"));

  // A GitLab archive has "/-/" too, but not the package's tarball after it.
  CHECK_FALSE(IsNpmRegistryTarball(
      "https://gitlab.com/acme/internal-lib/-/archive/v1.2.3/internal-lib-v1.2.3.tar.gz", "internal-lib"));
  CHECK_FALSE(
      IsNpmRegistryTarball("https://gitlab.com/acme/internal-lib/-/internal-lib-1.2.3.zip", "internal-lib"));
  CHECK_FALSE(IsNpmRegistryTarball("https://npm.company.example/left-pad/-/left-pad-1.3.0.tgz", "right-pad"));
  CHECK_FALSE(IsNpmRegistryTarball("https://npm.company.example/left-pad/-/right-pad-1.3.0.tgz", "left-pad"));
  CHECK_FALSE(IsNpmRegistryTarball("https://npm.company.example/-/left-pad-1.3.0.tgz", "left-pad"));
  CHECK_FALSE(
      IsNpmRegistryTarball("https://npm.company.example/@evil/left-pad/-/left-pad-1.3.0.tgz", "left-pad"));
  CHECK_FALSE(IsNpmRegistryTarball("https://npm.company.example/left-pad/-/left-pad-.tgz", "left-pad"));
  CHECK_FALSE(
      IsNpmRegistryTarball("https://npm.company.example/widgets/-/widgets-2.0.0.tgz", "@acme/widgets"));
  CHECK_FALSE(IsNpmRegistryTarball("file:left-pad/-/left-pad-1.3.0.tgz", "left-pad"));
}

TEST_CASE(
    "package-lock: a GitLab archive is a URL, tarballs of mirrors and scoped packages are the registry's",
    "[lockfile]") {
  auto parsed = ParseText(Format::kPackageLock, "package-lock.json", R"({"lockfileVersion": 3, "packages": {
  "node_modules/internal-lib": {"version": "1.2.3",
    "resolved": "https://gitlab.com/acme/internal-lib/-/archive/v1.2.3/internal-lib-v1.2.3.tar.gz"},
  "node_modules/left-pad": {"version": "1.3.0",
    "resolved": "https://npm.company.example/left-pad/-/left-pad-1.3.0.tgz"},
  "node_modules/@acme/widgets": {"version": "2.0.0",
    "resolved": "https://npm.company.example/@acme%2fwidgets/-/widgets-2.0.0.tgz"}
}})");
  REQUIRE(parsed.ok());
  REQUIRE(PurlsOf(*parsed) == std::vector<std::string>{"pkg:npm/internal-lib@1.2.3", "pkg:npm/left-pad@1.3.0",
                                                       "pkg:npm/%40acme/widgets@2.0.0"});
  CHECK((*parsed)[0].origin == Origin::kUrl);
  CHECK((*parsed)[0].origin_detail ==
        "https://gitlab.com/acme/internal-lib/-/archive/v1.2.3/internal-lib-v1.2.3.tar.gz");
  CHECK((*parsed)[1].origin == Origin::kRegistry);
  CHECK((*parsed)[2].origin == Origin::kRegistry);
}

TEST_CASE("package-lock: every git spelling npm, yarn and bun write is git", "[lockfile]") {
  auto parsed = ParseText(Format::kPackageLock, "package-lock.json", R"({"lockfileVersion": 3, "packages": {
  "node_modules/a": {"version": "1.0.0", "resolved": "ssh://git@example.com/acme/a.git#0a1b2c"},
  "node_modules/b": {"version": "1.0.0", "resolved": "git@example.com:acme/b.git#3d4e5f"}
}})");
  REQUIRE(parsed.ok());
  REQUIRE(parsed->size() == 2);
  CHECK((*parsed)[0].origin == Origin::kGit);
  CHECK((*parsed)[1].origin == Origin::kGit);
  CHECK(IsGitSpec("gist:0123abcd"));
  CHECK(IsGitSpec("git+https://github.com/a/b.git"));
  CHECK_FALSE(IsGitSpec("1.0.0"));
  CHECK_FALSE(IsGitSpec("https://github.com/a/b"));  // yarn's reader judges URLs itself
}

TEST_CASE("JSON lockfiles and SBOMs: a syntax error names the file, its line and what was expected",
          "[lockfile]") {
  struct Case {
    Format format;
    std::string text;
    std::string message;
  };
  const std::string broken_object = "{\n  \"packages\": {\n    \"a\": 1\n    \"b\": 2\n  }\n}\n";
  for (const Case& bad : {
           Case{Format::kPackageLock, broken_object,
                "lock.json:4: not valid JSON: syntax error while parsing object - unexpected string literal; "
                "expected '}'"},
           Case{Format::kPipfileLock, broken_object,
                "lock.json:4: not valid JSON: syntax error while parsing object - unexpected string literal; "
                "expected '}'"},
           // bun's comments and trailing commas are allowed; the error is after them.
           Case{Format::kBunLock,
                "{\n  // a comment\n  \"packages\": {\"a\": [\"a@1.0.0\",],},\n  \"x\": tru\n}",
                "lock.json:4: not valid JSON: syntax error while parsing value - invalid literal; last read: "
                "'\"x\": tru<U+000A>'"},
           Case{Format::kCycloneDx,
                "{\"bomFormat\": \"CycloneDX\",\n\"components\": [\n{\"purl\": \"pkg:npm/a@1\"\n]}",
                "lock.json:4: expected a CycloneDX JSON document (not valid JSON: syntax error while parsing "
                "object - unexpected ']'; expected '}')"},
           Case{Format::kSpdx, "{\"spdxVersion\": \"SPDX-2.3\",\n\n\"packages\": [}",
                "lock.json:3: expected an SPDX JSON document (not valid JSON: syntax error while parsing "
                "value - "
                "unexpected '}'; expected '[', '{', or a literal)"},
       }) {
    auto parsed = ParseText(bad.format, "lock.json", bad.text);
    INFO(FormatName(bad.format));
    REQUIRE_FALSE(parsed.ok());
    CHECK(parsed.status().message() == bad.message);
  }
}

// The readers find a member's line by searching its key in the text; a key written with
// escapes is not found. Each search that finds nothing reads the rest of the text, so
// without a bound a file of such keys costs a scan per entry: the work is counted here
// rather than timed.
TEST_CASE("JSON lockfiles and SBOMs: keys written with escapes cost work linear in the text", "[lockfile]") {
  auto parse_counting = [](Format format, const std::string& text, std::size_t* searched) {
    std::size_t before = LineIndex::BytesSearchedOnThisThread();
    auto parsed = ParseText(format, "lock.json", text);
    *searched = LineIndex::BytesSearchedOnThisThread() - before;
    INFO(parsed.status().message());
    REQUIRE(parsed.ok());
    return *parsed;
  };
  std::size_t searched = 0;

  std::string package_lock = "{\"lockfileVersion\": 3, \"packages\": {\n  \"\": {\"name\": \"app\"}";
  for (int i = 0; i < 20000; ++i)
    package_lock += ",\n  \"node_modules\\/p" + std::to_string(i) + "\": {\"version\": \"1.0.0\"}";
  package_lock += "\n}}\n";
  auto packages = parse_counting(Format::kPackageLock, package_lock, &searched);
  CHECK(packages.size() == 20000);
  CHECK(core::FormatPurl(packages[19999].purl) == "pkg:npm/p19999@1.0.0");
  CHECK(searched <= 4 * package_lock.size());

  constexpr int kEntries = 5000;
  std::string bun = "{\"lockfileVersion\": 1, \"packages\": {\n";
  std::string pipfile = "{\"default\": {\n";
  std::string cyclonedx = "{\"bomFormat\": \"CycloneDX\", \"components\": [\n";
  std::string spdx = "{\"spdxVersion\": \"SPDX-2.3\", \"packages\": [\n";
  for (int i = 0; i < kEntries; ++i) {
    std::string name = "p" + std::to_string(i);
    std::string comma = i + 1 < kEntries ? ",\n" : "\n";
    bun += "  \"@acme\\/" + name + "\": [\"@acme/" + name + "@1.0.0\", \"\", {}, \"sha512-x\"]" + comma;
    pipfile += "  \"" + name + "\\u0031\": {\"version\": \"==1.0.0\"}" + comma;
    cyclonedx += "  {\"pur\\u006c\": \"pkg:npm/" + name + "@1.0.0\"}" + comma;
    spdx += "  {\"SPDXI\\u0044\": \"SPDXRef-" + name +
            "\", \"externalRefs\": [{\"referenceType\": \"purl\", " + "\"referenceLocator\": \"pkg:npm/" +
            name + "@1.0.0\"}]}" + comma;
  }
  bun += "}}\n";
  pipfile += "}}\n";
  cyclonedx += "]}\n";
  spdx += "]}\n";
  for (auto [format, text] : {std::pair{Format::kBunLock, &bun}, std::pair{Format::kPipfileLock, &pipfile},
                              std::pair{Format::kCycloneDx, &cyclonedx}, std::pair{Format::kSpdx, &spdx}}) {
    INFO(FormatName(format));
    CHECK(parse_counting(format, *text, &searched).size() == kEntries);
    CHECK(searched <= 5 * text->size());
  }
}

TEST_CASE("JSON member search: lines of members found, escaped keys and string values passed over",
          "[lockfile]") {
  std::string text = "{\"a\": {\"b\": \"c\"},\n \"c\": [1],\n \"d\\u0065\": {},\n \"f\": \"x\\/y\"}";
  LineIndex lines(text);
  std::size_t cursor = 0;
  CHECK(lines.FindMember("a", '{', &cursor) == 1);
  CHECK(lines.FindMember("c", '{', &cursor) == 0);  // "c" here is a string value, then an array
  CHECK(lines.FindMember("c", '[', &cursor) == 2);
  CHECK(lines.FindMember("de", 0, &cursor) == 0);  // written "d\u0065"
  CHECK(lines.FindStringMember("f", "x/y", &cursor) == 4);
}

}  // namespace pkgtrust::lockfile
