// Version order per ecosystem, on cases written from each ecosystem's own rules: the
// Semantic Versioning 2.0 specification's precedence examples, PEP 440's ordering (as the
// packaging library documents it), Maven's ComparableVersion orderings (its documented
// qualifier and number sequences) and Go's semver.
#include "pkgtrust/core/version.hpp"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

using namespace pkgtrust;
using core::Ecosystem;

namespace {

// Every pair of the list is in order (i < j means list[i] sorts before list[j]).
void CheckAscending(Ecosystem eco, const std::vector<std::string>& versions) {
  for (std::size_t i = 0; i < versions.size(); ++i)
    for (std::size_t j = i + 1; j < versions.size(); ++j) {
      INFO(versions[i] << " < " << versions[j]);
      auto c = core::CompareVersions(eco, versions[i], versions[j]);
      REQUIRE(c.has_value());
      CHECK(*c < 0);
      CHECK(core::CompareVersions(eco, versions[j], versions[i]).value_or(0) > 0);
    }
}

void CheckSame(Ecosystem eco, const std::string& a, const std::string& b) {
  INFO(a << " == " << b);
  CHECK(core::CompareVersions(eco, a, b) == 0);
  CHECK(core::CompareVersions(eco, b, a) == 0);
}

}  // namespace

TEST_CASE("npm and crates.io versions follow Semantic Versioning 2.0 precedence", "[core]") {
  // The specification's own example (section 11), then numbers compared as numbers.
  for (Ecosystem eco : {Ecosystem::kNpm, Ecosystem::kCrates}) {
    CheckAscending(eco, {"1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2",
                         "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0", "1.0.1", "1.2.0", "1.10.0", "2.0.0"});
    CheckSame(eco, "1.0.0+build.5", "1.0.0");  // build metadata has no precedence
    CheckSame(eco, "1.0.0-rc.1+exp.sha.5114f85", "1.0.0-rc.1");
  }
  CheckSame(Ecosystem::kNpm, "v1.2.3", "1.2.3");  // npm cleans a leading v
  CheckSame(Ecosystem::kNpm, "=1.2.3", "1.2.3");
  CHECK(core::CompareVersions(Ecosystem::kNpm, "99999999999999999999.0.0", "9.0.0") > 0);  // no overflow
  CHECK(core::CompareVersions(Ecosystem::kNpm, "1.0.0-2", "1.0.0-10") < 0);  // numeric identifiers
  CHECK(core::CompareVersions(Ecosystem::kNpm, "1.0.0-10", "1.0.0-a") < 0);  // numbers before words
  // Not versions: too few parts, a missing pre-release, characters semver does not allow.
  for (const char* bad : {"1.2", "1", "1.2.3-", "1.2.3.4", "1.x.3", "latest", "", "1.2.3-be$ta"}) {
    INFO(bad);
    CHECK_FALSE(core::IsValidVersion(Ecosystem::kNpm, bad));
  }
}

TEST_CASE("PyPI versions follow PEP 440: epochs, pre-, post- and dev-releases, local versions", "[core]") {
  CheckAscending(Ecosystem::kPypi,
                 {"1.dev0", "1.0.dev456", "1.0a1", "1.0a2.dev456", "1.0a12.dev456", "1.0a12", "1.0b1.dev456",
                  "1.0b2", "1.0b2.post345.dev456", "1.0b2.post345", "1.0rc1.dev456", "1.0rc1", "1.0", "1.0+abc.5",
                  "1.0+abc.7", "1.0+5", "1.0.post456.dev34", "1.0.post456", "1.0.15", "1.1.dev1", "1!0.1"});
  // The spellings PEP 440 normalizes are the same version.
  CheckSame(Ecosystem::kPypi, "1.0", "1.0.0");
  CheckSame(Ecosystem::kPypi, "1.0-alpha.1", "1.0a1");
  CheckSame(Ecosystem::kPypi, "1.0.BETA2", "1.0b2");
  CheckSame(Ecosystem::kPypi, "1.0c1", "1.0rc1");
  CheckSame(Ecosystem::kPypi, "1.0-preview-3", "1.0rc3");
  CheckSame(Ecosystem::kPypi, "1.0-1", "1.0.post1");
  CheckSame(Ecosystem::kPypi, "1.0.rev2", "1.0.post2");
  CheckSame(Ecosystem::kPypi, "1.0-dev", "1.0.dev0");
  CheckSame(Ecosystem::kPypi, "v2.1", "2.1");
  CheckSame(Ecosystem::kPypi, "0!1.0", "1.0");
  CHECK(core::CompareVersions(Ecosystem::kPypi, "1!0.0.1", "2024.1") > 0);  // the epoch first
  for (const char* bad : {"1.0-foo", "latest", "1.0+", "1..0", ""}) {
    INFO(bad);
    CHECK_FALSE(core::IsValidVersion(Ecosystem::kPypi, bad));
  }
}

TEST_CASE("Maven versions follow ComparableVersion: qualifiers, lists, trailing zeros", "[core]") {
  // Maven's documented qualifier and number sequences.
  CheckAscending(Ecosystem::kMaven,
                 {"1-alpha2snapshot", "1-alpha2", "1-alpha-123", "1-beta-2", "1-beta123", "1-m2", "1-m11", "1-rc",
                  "1-cr2", "1-rc123", "1-SNAPSHOT", "1", "1-sp", "1-sp2", "1-sp123", "1-abc", "1-def", "1-pom-1",
                  "1-1-snapshot", "1-1", "1-2", "1-123"});
  CheckAscending(Ecosystem::kMaven, {"2.0", "2-1", "2.0.a", "2.0.0.a", "2.0.2", "2.0.123", "2.1.0", "2.1-a", "2.1b",
                                     "2.1-c", "2.1-1", "2.1.0.1", "2.2", "2.123", "11.a2", "11.a11", "11.b2", "11.b11",
                                     "11.m2", "11.m11", "11", "11.a", "11b", "11c", "11m"});
  for (auto [a, b] : std::vector<std::pair<std::string, std::string>>{
           {"1", "1.0"}, {"1", "1.0.0"}, {"1", "1-0"}, {"1.0", "1.0-0"}, {"1ga", "1"}, {"1final", "1"},
           {"1cr", "1rc"}, {"1a1", "1alpha1"}, {"1b2", "1beta2"}, {"1m3", "1milestone3"}, {"1X", "1x"},
           {"1-FINAL", "1"}, {"1.0.RELEASE-x", "1.0.release-x"}})
    CheckSame(Ecosystem::kMaven, a, b);
  for (auto [low, high] : std::vector<std::pair<std::string, std::string>>{
           {"1.0-alpha-1", "1.0"}, {"1.0-SNAPSHOT", "1.0"}, {"1.0-alpha-1-SNAPSHOT", "1.0-alpha-1"},
           {"1.0", "1.0-1"}, {"2.0-1", "2.0.1"}, {"2.0.1-klm", "2.0.1-lmn"}, {"2.0.1", "2.0.1-xyz"},
           {"2.0.1-xyz", "2.0.1-123"}, {"5.3.9", "5.3.10"}, {"2.17.0", "2.17.1"}}) {
    INFO(low << " < " << high);
    CHECK(core::CompareVersions(Ecosystem::kMaven, low, high) < 0);
  }
}

TEST_CASE("Go module versions follow Go's semver, with or without the v", "[core]") {
  CheckAscending(Ecosystem::kGo, {"v0.0.0-20170915032832-14c0d48ead0c", "v0.1.0", "v1.0.0-rc.1", "v1.0.0",
                                  "v1.9.0", "v1.10.0", "v2.0.0-20180101000000-abcdefabcdef", "v2.0.0"});
  CheckSame(Ecosystem::kGo, "v2.0.0+incompatible", "v2.0.0");
  CheckSame(Ecosystem::kGo, "v1.2", "v1.2.0");  // Go's shorthands
  CheckSame(Ecosystem::kGo, "v1", "v1.0.0");
  CheckSame(Ecosystem::kGo, "1.20.0", "v1.20.0");  // OSV writes Go versions without the v
  CHECK_FALSE(core::IsValidVersion(Ecosystem::kGo, "v1.2-pre"));  // a shorthand takes no pre-release
  CHECK_FALSE(core::IsValidVersion(Ecosystem::kGo, "master"));
}
