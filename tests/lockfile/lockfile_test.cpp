// The dispatcher (format names and detection, deduplication) and npm's package-lock.json.
#include <filesystem>

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
  const LockedDependency* babel = FindDependency(deps, "pkg:npm/%40babel/core@7.29.6");
  REQUIRE(babel);
  CHECK(babel->line == 115);
  CHECK(babel->origin == Origin::kRegistry);
  CHECK(babel->note == "dev");
  CHECK(babel->file == LockfileFixturePath("real/package-lock/pypi-warehouse-package-lock.json"));
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
  const LockedDependency* segment =
      FindDependency(commits, "pkg:npm/%40segment/analytics.js-integration-facebook-pixel");
  REQUIRE(segment);
  CHECK(segment->origin == Origin::kGit);
  CHECK(segment->origin_detail.ends_with("#3b1bb80b302c2e552685dc8a029797ec832ea7c9"));
  CHECK(segment->line == 5);
  auto commits2 = ParseFixture(Format::kPackageLock, "scalibr/packagelockjson/commits.v2.json");
  const LockedDependency* pixel =
      FindDependency(commits2, "pkg:npm/%40segment/analytics.js-integration-facebook-pixel@2.4.1");
  REQUIRE(pixel);
  CHECK(pixel->origin == Origin::kGit);
  CHECK(FindDependency(commits2, "pkg:npm/ansi-styles@1.0.0")->origin == Origin::kRegistry);
}

TEST_CASE("package-lock tarballs of a mirror registry are registry packages, other tarballs URLs",
          "[lockfile]") {
  LockfileInput input;
  input.path = "package-lock.json";
  input.text = R"({"lockfileVersion": 3, "packages": {
  "": {"name": "app"},
  "node_modules/tool": {"version": "2.1.0", "resolved": "https://npm.corp.example/tool/-/tool-2.1.0.tgz"},
  "node_modules/tiny": {"version": "1.0.0", "resolved": "https://example.com/tiny-1.0.0.tgz"}
}})";
  auto parsed = ParseLockfile(Format::kPackageLock, input);
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
      CHECK(parsed.status().message().starts_with(entry.path().string() + ": not valid JSON"));
    } else if (relative.ends_with("null.v2.jsontest")) {
      REQUIRE_FALSE(parsed.ok());
      CHECK(parsed.status().message() ==
            entry.path().string() + ":1: expected a JSON object with \"packages\" or \"dependencies\"");
    } else {
      CHECK(parsed.ok());
    }
  }
}

}  // namespace pkgtrust::lockfile
