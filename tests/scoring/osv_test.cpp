#include "pkgtrust/scoring/osv.hpp"

#include <sys/wait.h>

#include <array>
#include <catch2/catch.hpp>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "pkgtrust/core/time.hpp"
#include "pkgtrust/pipeline/stage_handlers.hpp"
#include "pkgtrust/scoring/model.hpp"
#include "pkgtrust/store/store.hpp"
#include "support/test_support.hpp"

using namespace pkgtrust;
using core::Ecosystem;
using scoring::OsvAffected;
using scoring::OsvRange;

namespace {

const core::Millis kNow = *core::ParseTimestamp("2026-11-23T00:00:00Z");

OsvAffected Range(std::string type, std::vector<std::pair<std::string, std::string>> events) {
  OsvAffected a;
  a.ranges.push_back({std::move(type), std::move(events)});
  return a;
}

std::string RunCli(const std::string& args) {
  std::string command = std::string(PKGTRUST_BINARY) + " " + args + " 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  REQUIRE(pipe != nullptr);
  std::string output;
  std::array<char, 1024> buffer;
  while (std::size_t n = fread(buffer.data(), 1, buffer.size(), pipe)) output.append(buffer.data(), n);
  int status = pclose(pipe);
  INFO(output);
  CHECK(WEXITSTATUS(status) == 0);
  return output;
}

scoring::Inputs WithVersions(Ecosystem eco, const std::string& name, std::vector<std::string> versions) {
  scoring::Inputs in;
  in.key = {eco, name};
  for (const auto& v : versions) in.versions.push_back({v, kNow - 400LL * 24 * 3600'000});
  in.latest_version = versions.back();
  return in;
}

}  // namespace

TEST_CASE("OSV malicious-package records (recorded from ossf/malicious-packages)", "[scoring]") {
  auto npm = scoring::ParseOsvRecord(testing::ReadText(testing::FixturePath("osv/npm/MAL-2024-11848.json")));
  REQUIRE(npm.ok());
  REQUIRE(npm->size() == 1);
  CHECK((*npm)[0].key == core::PackageKey{Ecosystem::kNpm, "000webhost-admin"});
  CHECK((*npm)[0].id == "MAL-2024-11848");
  CHECK((*npm)[0].affected.versions == std::vector<std::string>{"999.9.9"});
  CHECK((*npm)[0].summary == "Malicious code in 000webhost-admin (npm)");
  CHECK((*npm)[0].modified == "2024-12-14T19:14:54Z");
  CHECK((*npm)[0].withdrawn.empty());
  auto pypi = scoring::ParseOsvRecord(testing::ReadText(testing::FixturePath("osv/pypi/MAL-2024-9933.json")));
  REQUIRE(pypi.ok());
  CHECK((*pypi)[0].key == core::PackageKey{Ecosystem::kPypi, "3web"});
  // The origins' own ranges (database_specific) are not the record's: only 1.0.0 is named.
  CHECK((*pypi)[0].affected.ranges.empty());
  CHECK_FALSE((*pypi)[0].affected.AllVersions());

  int skipped = 0;
  auto mixed =
      scoring::ParseOsvRecord(R"({"id":"MAL-1","affected":[{"package":{"ecosystem":"RubyGems","name":"x"}},
      {"package":{"ecosystem":"crates.io","name":"Evil_Crate"}}]})",
                              &skipped);
  REQUIRE(mixed.ok());
  CHECK(skipped == 1);
  REQUIRE(mixed->size() == 1);
  CHECK((*mixed)[0].key.name == "evil-crate");
  CHECK((*mixed)[0].affected.AllVersions());  // names no version: every version
  CHECK_FALSE(scoring::ParseOsvRecord(R"({"id":"GHSA-xxxx","affected":[]})").ok());  // not a malicious record
  CHECK_FALSE(scoring::ParseOsvRecord("[]").ok());
  CHECK_FALSE(scoring::ParseOsvRecord(R"({"id":"MAL-2"})").ok());
  CHECK_FALSE(scoring::ParseOsvRecord(std::string(100'000, '[')).ok());  // too deep: an error, not a crash
}

TEST_CASE("withdrawn records and ranges are read from the record", "[scoring]") {
  auto withdrawn = scoring::ParseOsvRecord(
      testing::ReadText(testing::FixturePath("osv-handwritten/withdrawing/MAL-9000-0001.json")));
  REQUIRE(withdrawn.ok());
  CHECK((*withdrawn)[0].withdrawn == "2024-07-01T03:32:00Z");
  auto ranged = scoring::ParseOsvRecord(
      testing::ReadText(testing::FixturePath("osv-handwritten/first/MAL-9000-0002.json")));
  REQUIRE(ranged.ok());
  const OsvAffected& a = (*ranged)[0].affected;
  REQUIRE(a.ranges.size() == 1);
  CHECK(a.ranges[0].type == "SEMVER");
  CHECK(a.ranges[0].events == std::vector<std::pair<std::string, std::string>>{{"introduced", "1.0.0"},
                                                                               {"fixed", "1.2.11"}});
  // Stored and read back unchanged.
  auto again = OsvAffected::FromColumns(a.VersionsJson(), a.RangesJson());
  REQUIRE(again.ok());
  CHECK(again->ranges[0].events == a.ranges[0].events);
  auto object = OsvAffected::FromJson(a.ToJson());
  REQUIRE(object.ok());
  CHECK(object->ranges[0].events == a.ranges[0].events);
}

TEST_CASE("ranges are evaluated in each ecosystem's own version order", "[scoring]") {
  // npm (SEMVER): fixed is outside, introduced inside; pre-releases sort before their release.
  OsvAffected fsevents = Range("SEMVER", {{"introduced", "1.0.0"}, {"fixed", "1.2.11"}});
  CHECK(fsevents.Affects(Ecosystem::kNpm, "1.0.0"));
  CHECK(fsevents.Affects(Ecosystem::kNpm, "1.2.10"));
  CHECK_FALSE(fsevents.Affects(Ecosystem::kNpm, "1.2.11"));
  CHECK_FALSE(fsevents.Affects(Ecosystem::kNpm, "0.3.8"));
  CHECK_FALSE(fsevents.Affects(Ecosystem::kNpm, "1.0.0-beta.1"));  // before 1.0.0
  CHECK(fsevents.Affects(Ecosystem::kNpm, "1.2.11-rc.1"));         // before 1.2.11
  CHECK_FALSE(fsevents.Affects(Ecosystem::kNpm, "1.10.0"));        // numbers, not text
  CHECK_FALSE(fsevents.Affects(Ecosystem::kNpm, "not-a-version"));
  CHECK_FALSE(fsevents.AllVersions());
  // last_affected is inside; events in any order.
  OsvAffected solana = Range("SEMVER", {{"last_affected", "1.95.7"}, {"introduced", "1.95.6"}});
  CHECK(solana.Affects(Ecosystem::kNpm, "1.95.7"));
  CHECK_FALSE(solana.Affects(Ecosystem::kNpm, "1.95.8"));
  CHECK_FALSE(solana.Affects(Ecosystem::kNpm, "1.95.5"));
  // Two intervals in one range.
  OsvAffected twice = Range("SEMVER", {{"introduced", "1.0.0"}, {"fixed", "1.1.0"}, {"introduced", "2.0.0"}});
  CHECK(twice.Affects(Ecosystem::kNpm, "1.0.5"));
  CHECK_FALSE(twice.Affects(Ecosystem::kNpm, "1.5.0"));
  CHECK(twice.Affects(Ecosystem::kNpm, "3.0.0"));
  // PyPI (ECOSYSTEM): PEP 440, with epochs, post- and dev-releases.
  OsvAffected pypi = Range("ECOSYSTEM", {{"introduced", "2.0"}, {"fixed", "2.1.post1"}});
  CHECK(pypi.Affects(Ecosystem::kPypi, "2.0.0"));
  CHECK(pypi.Affects(Ecosystem::kPypi, "2.1"));
  CHECK_FALSE(pypi.Affects(Ecosystem::kPypi, "2.1.post1"));
  CHECK_FALSE(pypi.Affects(Ecosystem::kPypi, "2.0.dev3"));  // a dev release sorts before 2.0
  CHECK_FALSE(pypi.Affects(Ecosystem::kPypi, "1!1.0"));     // a later epoch sorts after everything
  CHECK(Range("ECOSYSTEM", {{"introduced", "1!0"}}).Affects(Ecosystem::kPypi, "1!1.0"));
  // Maven (ECOSYSTEM): qualifiers in Maven's order.
  OsvAffected maven = Range("ECOSYSTEM", {{"introduced", "2.0-alpha-1"}, {"fixed", "2.0"}});
  CHECK(maven.Affects(Ecosystem::kMaven, "2.0-beta-2"));
  CHECK(maven.Affects(Ecosystem::kMaven, "2.0-SNAPSHOT"));
  CHECK(maven.Affects(Ecosystem::kMaven, "2.0-RC1"));
  CHECK_FALSE(maven.Affects(Ecosystem::kMaven, "2.0.0"));  // the same as 2.0
  CHECK_FALSE(maven.Affects(Ecosystem::kMaven, "2.0-sp1"));
  // Go (SEMVER without the v, as OSV writes Go versions; the registry's versions have it).
  OsvAffected go = Range("SEMVER", {{"introduced", "0"}, {"fixed", "1.20.0"}});
  CHECK(go.Affects(Ecosystem::kGo, "v1.19.9"));
  CHECK(go.Affects(Ecosystem::kGo, "v0.0.0-20200101000000-abcdefabcdef"));
  CHECK_FALSE(go.Affects(Ecosystem::kGo, "v1.20.0"));
  CHECK_FALSE(go.Affects(Ecosystem::kGo, "v2.0.0+incompatible"));
  // From 0 to a fix: a version no order can place is not judged inside it.
  CHECK_FALSE(go.Affects(Ecosystem::kGo, "not-a-version"));
  CHECK_FALSE(
      Range("SEMVER", {{"introduced", "0"}, {"fixed", "1.20.0"}}).Affects(Ecosystem::kNpm, "not-a-version"));
  // Introduced at 0 and never fixed: every version, also those no order can place.
  OsvAffected all = Range("SEMVER", {{"introduced", "0"}});
  CHECK(all.AllVersions());
  CHECK(all.Affects(Ecosystem::kNpm, "anything"));
  // Listed versions are exact; GIT ranges name commits and are not evaluated.
  OsvAffected listed;
  listed.versions = {"0.0.7"};
  listed.ranges.push_back({"GIT", {{"introduced", "abc123"}}});
  CHECK(listed.Affects(Ecosystem::kNpm, "0.0.7"));
  CHECK_FALSE(listed.Affects(Ecosystem::kNpm, "0.0.8"));
  CHECK_FALSE(listed.AllVersions());
}

TEST_CASE("a package is malicious as a whole only when every version or the latest is named", "[scoring]") {
  // fsevents: 1.0.0 up to 1.2.11 named, the latest 2.3.3 clean.
  auto fsevents = WithVersions(Ecosystem::kNpm, "fsevents", {"0.3.8", "1.0.0", "1.2.9", "1.2.11", "2.3.3"});
  fsevents.advisories.push_back({"MAL-9000-0002", "Malicious code in fsevents (npm)",
                                 Range("SEMVER", {{"introduced", "1.0.0"}, {"fixed", "1.2.11"}})});
  auto r = scoring::Score(fsevents, kNow);
  CHECK(r.malicious.empty());
  CHECK(r.malicious_versions == std::vector<std::string>{"1.0.0", "1.2.9"});
  CHECK(r.latest_clean_version == "2.3.3");
  CHECK(r.score > 0);
  auto json = nlohmann::json::parse(r.ToJson());
  CHECK(json["flags"]["malicious"] == false);
  CHECK(json["flags"]["has_malicious_versions"] == true);
  CHECK(json["advisories"][0]["versions"] == nlohmann::json({"1.0.0", "1.2.9"}));
  // The version's own verdict, from the stored report alone (removed versions too).
  auto stored = scoring::Report::FromJson(r.ToJson());
  REQUIRE(stored.ok());
  CHECK(stored->AdvisoriesNaming(Ecosystem::kNpm, "1.0.0") == std::vector<std::string>{"MAL-9000-0002"});
  CHECK(stored->AdvisoriesNaming(Ecosystem::kNpm, "1.2.11").empty());
  CHECK(stored->AdvisoriesNaming(Ecosystem::kNpm, "1.1.7") == std::vector<std::string>{"MAL-9000-0002"});

  // The latest named: the whole package.
  auto latest = fsevents;
  latest.latest_version = "1.2.9";
  auto l = scoring::Score(latest, kNow);
  CHECK(l.malicious == "MAL-9000-0002");
  CHECK(l.score == 0.0);
  // Every known version named (a typosquat's only versions): the whole package.
  auto only = WithVersions(Ecosystem::kPypi, "0requests", {"0.0.1"});
  OsvAffected listed;
  listed.versions = {"0.0.1"};
  only.advisories.push_back({"MAL-2026-15859", "", listed});
  CHECK(scoring::Score(only, kNow).malicious == "MAL-2026-15859");
  // Every version named while the latest the registry names is not among them (a dist-tag
  // pointing at a version its list lacks): still the whole package.
  auto tagged = WithVersions(Ecosystem::kNpm, "evil-lib", {"1.0.0", "1.0.1"});
  tagged.latest_version = "1.0.2";
  OsvAffected both;
  both.versions = {"1.0.0", "1.0.1"};
  tagged.advisories.push_back({"MAL-9000-0003", "", both});
  CHECK(scoring::Score(tagged, kNow).malicious == "MAL-9000-0003");
  // A version the registry no longer has is listed, and the package is not malicious for it.
  auto removed = WithVersions(Ecosystem::kNpm, "some-lib", {"1.0.0", "1.0.2"});
  OsvAffected gone;
  gone.versions = {"1.0.1"};
  removed.advisories.push_back({"MAL-9000-0003", "", gone});
  auto g = scoring::Score(removed, kNow);
  CHECK(g.malicious.empty());
  CHECK(g.malicious_versions == std::vector<std::string>{"1.0.1"});
  CHECK(g.latest_clean_version == "1.0.2");
}

TEST_CASE("a package named by a malicious-package advisory scores 0 and the report names it", "[scoring]") {
  scoring::Inputs in;
  in.key = {Ecosystem::kNpm, "02-echo"};
  in.downloads_last_month = 50'000'000;
  in.advisories.push_back({"MAL-2025-191025", "Malicious code in 02-echo (npm)", {}});
  auto r = scoring::Score(in, kNow);
  CHECK(r.score == 0.0);
  CHECK(r.malicious == "MAL-2025-191025");
  CHECK_THAT(r.ToJson(),
             Catch::Contains(R"("advisory":"MAL-2025-191025")") && Catch::Contains(R"("malicious":true)"));
}

TEST_CASE("the store keeps OSV records by id: new, newer, unchanged, older, withdrawn", "[scoring]") {
  testing::TempDir dir;
  auto db = store::Store::Open({.path = dir.File("osv.db")}, core::SystemClock::Instance());
  REQUIRE(db.ok());
  store::Advisory first{{Ecosystem::kNpm, "react"}, "MAL-1", "first", "[]", "2024-06-25T12:22:49Z"};
  store::Advisory other{{Ecosystem::kNpm, "react-dom"}, "MAL-1", "first", "[]", "2024-06-25T12:22:49Z"};
  auto imported = (*db)->ImportAdvisoriesSync({first, other});
  REQUIRE(imported.ok());
  CHECK(imported->records_new == 1);
  CHECK(imported->changed_packages.size() == 2);
  // The same copy again: nothing changes (idempotent).
  imported = (*db)->ImportAdvisoriesSync({first, other});
  REQUIRE(imported.ok());
  CHECK(imported->records_unchanged == 1);
  CHECK(imported->changed_packages.empty());
  // An older copy does not replace a newer one (fractions of seconds compared as times).
  store::Advisory older = first;
  older.modified = "2024-06-25T12:22:48.999999999Z";
  older.summary = "older";
  imported = (*db)->ImportAdvisoriesSync({older});
  REQUIRE(imported.ok());
  CHECK(imported->records_unchanged == 1);
  CHECK((*db)->FindAdvisories({Ecosystem::kNpm, "react"})->at(0).summary == "first");
  // A newer copy that withdraws the record and no longer names react-dom replaces every row.
  store::Advisory withdrawing = first;
  withdrawing.modified = "2024-06-25T12:22:49.5Z";
  withdrawing.withdrawn = "2024-07-01T03:32:00Z";
  imported = (*db)->ImportAdvisoriesSync({withdrawing});
  REQUIRE(imported.ok());
  CHECK(imported->records_updated == 1);
  CHECK(imported->changed_packages.size() == 2);  // react-dom is no longer named: it changed too
  auto react = (*db)->FindAdvisories({Ecosystem::kNpm, "react"});
  REQUIRE(react.ok());
  REQUIRE(react->size() == 1);
  CHECK((*react)[0].withdrawn == "2024-07-01T03:32:00Z");
  CHECK((*db)->FindAdvisories({Ecosystem::kNpm, "react-dom"})->empty());
}

TEST_CASE("pkgtrust import-osv stores a folder, re-imports nothing twice, and a withdrawal clears the flag",
          "[scoring]") {
  testing::TempDir dir;
  std::string db_path = dir.File("osv.db");
  std::string output = RunCli("import-osv " + testing::FixturePath("osv") + " --db " + db_path);
  CHECK_THAT(output, Catch::StartsWith("imported 4 records (0 withdrawn) naming 4 packages from 4 files"));
  CHECK_THAT(output, Catch::Contains(": 4 new, 0 updated, 0 unchanged"));
  output = RunCli("import-osv " + testing::FixturePath("osv") + " --db " + db_path);
  CHECK_THAT(output, Catch::Contains(": 0 new, 0 updated, 4 unchanged"));
  {
    auto db = store::Store::Open({.path = db_path}, core::SystemClock::Instance());
    REQUIRE(db.ok());
    auto found = (*db)->FindAdvisories({Ecosystem::kPypi, "0requests"});
    REQUIRE(found.ok());
    REQUIRE(found->size() == 1);
    CHECK((*found)[0].id == "MAL-2026-15859");
    CHECK((*db)->FindAdvisories({Ecosystem::kNpm, "left-pad"})->empty());
  }
  output = RunCli("import-osv " + testing::FixturePath("osv-handwritten/first") + " --db " + db_path);
  CHECK_THAT(output, Catch::Contains(": 2 new, 0 updated, 0 unchanged"));
  output = RunCli("import-osv " + testing::FixturePath("osv-handwritten/withdrawing") + " --db " + db_path);
  CHECK_THAT(output, Catch::StartsWith("imported 1 records (1 withdrawn)"));
  CHECK_THAT(output, Catch::Contains(": 0 new, 1 updated, 0 unchanged"));
}
