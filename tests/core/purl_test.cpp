// The purl specification's own test data for the types we score (npm, pypi, cargo,
// maven, golang) plus its general failure cases.
#include "pkgtrust/core/purl.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "support/test_support.hpp"

using namespace pkgtrust;
using nlohmann::json;

namespace {

std::string Str(const json& value) { return value.is_null() ? std::string() : value.get<std::string>(); }

core::Purl FromComponents(const json& c) {
  core::Purl purl;
  purl.type = Str(c["type"]);
  purl.namespace_ = Str(c["namespace"]);
  purl.name = Str(c["name"]);
  purl.version = Str(c["version"]);
  if (c["qualifiers"].is_object())
    for (auto& [k, v] : c["qualifiers"].items()) purl.qualifiers[k] = v.get<std::string>();
  purl.subpath = Str(c["subpath"]);
  return purl;
}

void RunSpecFile(const std::string& file) {
  json doc = json::parse(testing::ReadText(testing::FixturePath("purl/" + file)));
  int checked = 0;
  for (const json& t : doc["tests"]) {
    const std::string type = t["test_type"];
    const bool fails = t["expected_failure"].get<bool>();
    INFO(file << ": " << t["description"].get<std::string>() << " input " << t["input"].dump());
    if (type == "parse" || type == "validate") {
      auto parsed = core::ParsePurl(t["input"].get<std::string>());
      if (fails) {
        CHECK_FALSE(parsed.ok());
      } else if (type == "parse") {
        REQUIRE(parsed.ok());
        CHECK(*parsed == FromComponents(t["expected_output"]));
      } else {
        REQUIRE(parsed.ok());
        CHECK(core::FormatPurl(*parsed) == t["expected_output"].get<std::string>());
      }
    } else if (type == "build") {
      core::Purl purl = FromComponents(t["input"]);
      if (fails) {
        CHECK_FALSE(core::ValidatePurlComponents(purl).ok());
      } else {
        REQUIRE(core::ValidatePurlComponents(purl).ok());
        CHECK(core::FormatPurl(purl) == t["expected_output"].get<std::string>());
      }
    }
    ++checked;
  }
  CHECK(checked > 0);
}

}  // namespace

TEST_CASE("purl spec test data passes for the scored types", "[core][purl]") {
  for (const char* file : {"npm-test.json", "pypi-test.json", "cargo-test.json", "maven-test.json",
                           "golang-test.json", "specification-test.json"}) {
    SECTION(file) { RunSpecFile(file); }
  }
}

TEST_CASE("purls map to package keys and back", "[core][purl]") {
  struct Case {
    const char* purl;
    core::Ecosystem eco;
    const char* name;
  } cases[] = {
      {"pkg:npm/%40babel/core", core::Ecosystem::kNpm, "@babel/core"},
      {"pkg:npm/left-pad@1.3.0", core::Ecosystem::kNpm, "left-pad"},
      {"pkg:pypi/Django_Rest", core::Ecosystem::kPypi, "django-rest"},
      {"pkg:cargo/serde", core::Ecosystem::kCrates, "serde"},
      {"pkg:maven/org.slf4j/slf4j-api", core::Ecosystem::kMaven, "org.slf4j:slf4j-api"},
      {"pkg:golang/github.com/gin-gonic/gin", core::Ecosystem::kGo, "github.com/gin-gonic/gin"},
  };
  for (const auto& c : cases) {
    INFO(c.purl);
    auto purl = core::ParsePurl(c.purl);
    REQUIRE(purl.ok());
    auto key = core::PackageKeyFromPurl(*purl);
    REQUIRE(key.ok());
    CHECK(key->ecosystem == c.eco);
    CHECK(key->name == c.name);
    auto back = core::PurlFromPackageKey(*key);
    auto again = core::PackageKeyFromPurl(back);
    REQUIRE(again.ok());
    CHECK(*again == *key);
  }
  CHECK(core::FormatPurl(core::PurlFromPackageKey({core::Ecosystem::kNpm, "@babel/core"}, "7.0.0")) ==
        "pkg:npm/%40babel/core@7.0.0");
  // A lockfile can name an npm package "" (a v1 key, a folder "node_modules/"): a purl without
  // a name, which the check lists as invalid, never a read before the name's first byte.
  core::Purl nameless = core::PurlFromPackageKey({core::Ecosystem::kNpm, ""}, "1.0.0");
  CHECK(nameless.name.empty());
  CHECK(nameless.namespace_.empty());
  CHECK_FALSE(core::PackageKeyFromPurl(nameless).ok());
}

TEST_CASE("purls of unscored types or without a name are rejected with a reason", "[core][purl]") {
  auto nuget = core::ParsePurl("pkg:nuget/EnterpriseLibrary.Common@6.0.1304");
  REQUIRE(nuget.ok());
  auto key = core::PackageKeyFromPurl(*nuget);
  REQUIRE_FALSE(key.ok());
  CHECK_THAT(key.status().message(), Catch::Contains("nuget"));
  CHECK_FALSE(core::ParsePurl("pkg:maven/@1.3.4").ok());
  CHECK_FALSE(core::ParsePurl("npm/left-pad").ok());
  CHECK_FALSE(core::ParsePurl("pkg:npm/left%2").ok());
  CHECK_FALSE(core::ParsePurl(std::string(5000, 'a')).ok());
  auto maven_without_group = core::ParsePurl("pkg:maven/slf4j-api");
  REQUIRE(maven_without_group.ok());
  CHECK_FALSE(core::PackageKeyFromPurl(*maven_without_group).ok());
  // PyPI and crates.io names have no namespace: one is not silently dropped (that would make
  // pkg:pypi/evil/requests the key of requests).
  for (const char* text : {"pkg:pypi/evil/requests", "pkg:cargo/evil/serde"}) {
    INFO(text);
    auto purl = core::ParsePurl(text);
    REQUIRE(purl.ok());
    auto namespaced = core::PackageKeyFromPurl(*purl);
    REQUIRE_FALSE(namespaced.ok());
    CHECK_THAT(namespaced.status().message(), Catch::Contains("has no namespace"));
  }
  CHECK(core::PackageKeyFromPurl(*core::ParsePurl("pkg:pypi/requests")).ok());
  CHECK(core::PackageKeyFromPurl(*core::ParsePurl("pkg:cargo/serde")).ok());
}

TEST_CASE("a purl is at most 4096 characters, as written and once encoded", "[core][purl]") {
  std::string prefix = "pkg:generic/";
  CHECK(core::ParsePurl(prefix + std::string(4096 - prefix.size(), 'a')).ok());
  CHECK_FALSE(core::ParsePurl(prefix + std::string(4097 - prefix.size(), 'a')).ok());
  // Raw bytes that the canonical form percent-encodes: 1,400 of them are 4,200 once written
  // back (found by the purl fuzzer: such a purl could be read but not formatted and read again).
  auto tripled = core::ParsePurl(prefix + std::string(1400, '\x01'));
  REQUIRE_FALSE(tripled.ok());
  CHECK_THAT(tripled.status().message(), Catch::Contains("once encoded"));
  auto within = core::ParsePurl(prefix + std::string(1300, '\x01'));
  REQUIRE(within.ok());
  CHECK(core::ParsePurl(core::FormatPurl(*within)).ok());
}
