// The package report built from stored facts: pinned byte for byte against reports the
// build before the typed facts produced (tests/fixtures/reports/, SOURCES.md), so a change
// of how facts are read cannot change an answer unnoticed.
#include "pkgtrust/pipeline/report.hpp"

#include <catch2/catch.hpp>
#include <cstdlib>

#include "pkgtrust/core/time.hpp"
#include "pkgtrust/pipeline/stage_handlers.hpp"
#include "pkgtrust/registry/parsers.hpp"
#include "support/test_support.hpp"

using namespace pkgtrust;
using json = nlohmann::json;

namespace {

constexpr core::Millis kNow = 1'767'225'600'000;  // 2026-01-01T00:00:00Z

registry::PackageFacts Chalk() {
  auto facts = registry::ParseNpmPackument(testing::ReadText(testing::FixturePath("registry/npm/chalk.json")),
                                           {core::Ecosystem::kNpm, "chalk"});
  REQUIRE(facts.ok());
  facts->downloads_last_month = 299'000'000;
  return std::move(facts).value();
}

github::RepositoryFacts ChalkRepository() {
  github::RepositoryFacts r;
  r.requested = {"github.com", "chalk", "chalk", ""};
  r.full_name = "chalk/chalk";
  r.stars = 22'000;
  r.forks = 870;
  r.open_issues = 3;
  r.watchers = 200;
  r.created = core::ParseTimestamp("2013-08-03T00:21:55Z").value();
  r.pushed = core::ParseTimestamp("2025-09-08T15:00:00Z").value();
  r.updated = r.pushed;
  r.default_branch = "main";
  r.license = "MIT";
  r.contributors = 94;
  r.tags = {{"v5.6.2", core::ParseTimestamp("2025-09-08T14:00:00Z").value()}, {"v5.6.0", 0}};
  r.releases = {{"v5.6.2", "v5.6.2", core::ParseTimestamp("2025-09-08T14:10:00Z").value(), false}};
  r.weekly_commits = std::vector<int>(52, 1);
  r.commits_last_year = 52;
  r.manifest = {github::ManifestStatus::kFound, "package.json", "chalk", ""};
  r.etags = {{"repo", "\"abc\""}};
  r.read_at = kNow - 3'600'000;
  return r;
}

// The score the model gives, with an advisory that names one version (so the report and
// a version's section carry advisories).
std::string ScoreOf(const core::PackageKey& key, const std::vector<store::Fact>& facts) {
  auto inputs = pipeline::ScoringInputs(key, facts);
  REQUIRE(inputs.ok());
  scoring::OsvAffected affected;
  affected.versions = {"5.6.1"};
  inputs->advisories.push_back({"MAL-2025-0001", "a compromised release", affected});
  return scoring::Score(*inputs, kNow).ToJson();
}

store::PackageRecord Record(const core::PackageKey& key, core::PackageState state) {
  store::PackageRecord record;
  record.key = key;
  record.state = state;
  record.generation = 3;
  record.created_at = kNow - 86'400'000;
  record.state_since = kNow - 60'000;
  return record;
}

// The report as the golden file holds it; PKGTRUST_WRITE_GOLDEN=1 rewrites the file.
void CheckGolden(const json& report, const std::string& name) {
  std::string path = testing::FixturePath("reports/" + name);
  std::string text = report.dump(2) + "\n";
  if (std::getenv("PKGTRUST_WRITE_GOLDEN")) testing::WriteText(path, text);
  CHECK(testing::ReadText(path) == text);
}

}  // namespace

TEST_CASE("report: registry, repository and score facts, with a version", "[pipeline][report]") {
  core::PackageKey key{core::Ecosystem::kNpm, "chalk"};
  std::vector<store::Fact> facts = {{store::kRegistryFact, Chalk().ToJson()},
                                    {store::kRepositoryFact, ChalkRepository().ToJson()}};
  facts.push_back({store::kScoreFact, ScoreOf(key, facts)});
  auto report = pipeline::BuildReport(Record(key, core::PackageState::kComplete), facts, "5.6.1");
  REQUIRE(report.ok());
  CHECK((*report)["version"]["malicious"] == true);
  CheckGolden(*report, "chalk-version.json");
}

TEST_CASE("report: a repository GitHub does not know, while a new run is under way", "[pipeline][report]") {
  core::PackageKey key{core::Ecosystem::kNpm, "chalk"};
  github::RepositoryFacts missing;
  missing.requested = {"github.com", "chalk", "gone", ""};
  missing.status = github::RepositoryStatus::kNotFound;
  missing.read_at = kNow - 1000;
  std::vector<store::Fact> facts = {{store::kRegistryFact, Chalk().ToJson()},
                                    {store::kRepositoryFact, missing.ToJson()}};
  facts.push_back({store::kScoreFact, ScoreOf(key, facts)});
  auto report = pipeline::BuildReport(Record(key, core::PackageState::kPendingRegistry), facts);
  REQUIRE(report.ok());
  CHECK((*report)["refreshing"] == true);
  CheckGolden(*report, "chalk-repository-missing.json");
}

TEST_CASE("report: registry facts only, a version the registry does not have", "[pipeline][report]") {
  core::PackageKey key{core::Ecosystem::kNpm, "chalk"};
  std::vector<store::Fact> facts = {{store::kRegistryFact, Chalk().ToJson()}};
  facts.push_back({store::kScoreFact, ScoreOf(key, facts)});
  auto report = pipeline::BuildReport(Record(key, core::PackageState::kComplete), facts, "99.0.0");
  REQUIRE(report.ok());
  CHECK((*report)["version"]["exists"] == false);
  CHECK((*report)["repository"].is_null());
  CheckGolden(*report, "chalk-registry-only.json");
}

TEST_CASE("report: no score fact is not found, an unreadable one an error", "[pipeline][report]") {
  core::PackageKey key{core::Ecosystem::kNpm, "chalk"};
  std::vector<store::Fact> facts = {{store::kRegistryFact, Chalk().ToJson()}};
  auto none = pipeline::BuildReport(Record(key, core::PackageState::kComplete), facts);
  CHECK(none.status().code() == core::StatusCode::kNotFound);
  facts.push_back({store::kScoreFact, "not json"});
  auto broken = pipeline::BuildReport(Record(key, core::PackageState::kComplete), facts);
  CHECK(broken.status().code() == core::StatusCode::kInternal);
}

// ---- Each fact kind's owner reads back every member it writes (store::Fact's kinds).

namespace {

// The paths at which `populated` still holds what a blank value writes: a member the
// populated value below does not set, so the round trip would not cover it.
void SameAsBlank(const json& populated, const json& blank, const std::string& path,
                 std::vector<std::string>& out) {
  if (populated.is_object() && blank.is_object()) {
    for (const auto& [key, value] : blank.items()) {
      if (!populated.contains(key))
        out.push_back(path + "." + key + " (absent)");
      else
        SameAsBlank(populated[key], value, path + "." + key, out);
    }
    return;
  }
  if (populated == blank) out.push_back(path);
}

template <typename Facts>
void CheckReadBack(const Facts& populated, const Facts& blank) {
  std::vector<std::string> unset;
  SameAsBlank(json::parse(populated.ToJson()), json::parse(blank.ToJson()), "", unset);
  INFO("members the populated value leaves at the blank's value: " << json(unset).dump());
  CHECK(unset.empty());
  std::string written = populated.ToJson();
  auto read = Facts::FromJson(written);
  REQUIRE(read.ok());
  CHECK(read->ToJson() == written);
}

}  // namespace

TEST_CASE("stored facts: the registry facts read back every member written", "[pipeline][report]") {
  registry::PackageFacts f;
  f.key = {core::Ecosystem::kPypi, "some-pkg"};
  f.display_name = "Some_Pkg";
  f.description = "a package";
  f.license = "MIT";
  f.homepage = "https://example.test";
  f.latest_version = "1.1.0";
  registry::VersionFacts v;
  v.version = "1.1.0";
  v.published = kNow;
  v.yanked = true;
  v.deprecated = "use another";
  v.has_attestation = true;
  v.repository = "git+https://github.com/scope/pkg.git";
  v.install_scripts = {{"postinstall", "node setup.js"}, {"preinstall", "echo hi"}};
  v.publisher = "alice";
  f.versions = {{"1.0.0"}, v};
  f.maintainers = {"alice", "bob"};
  f.repository_declared = "github:scope/pkg";
  f.repository = core::RepositoryRef{"github.com", "scope", "pkg", "packages/pkg"};
  f.downloads_last_month = 10;
  f.downloads_total = 100;
  f.downloads_last_90_days = 30;
  f.created = kNow - 1000;
  f.modified = kNow;
  f.unpublished = true;
  f.deprecated = "use another";
  f.security_holder = true;
  CheckReadBack(f, registry::PackageFacts{});
  // And every member of a version.
  auto read = registry::PackageFacts::FromJson(f.ToJson());
  REQUIRE(read.ok());
  const registry::VersionFacts& back = read->versions.at(1);
  CHECK(back.published == v.published);
  CHECK(back.install_scripts == v.install_scripts);
  CHECK(back.publisher == v.publisher);
}

TEST_CASE("stored facts: the repository facts read back every member written", "[pipeline][report]") {
  github::RepositoryFacts r = ChalkRepository();
  r.requested.subdirectory = "packages/chalk";
  r.status = github::RepositoryStatus::kUnavailable;
  r.moved = true;
  r.disabled = true;
  r.archived = true;
  r.is_fork = true;
  r.fork_parent = "other/chalk";
  r.manifest = {github::ManifestStatus::kUnreadable, "package.json", "chalk", "too large"};
  CheckReadBack(r, github::RepositoryFacts{});
}

TEST_CASE("stored facts: the score reads back every member written", "[pipeline][report]") {
  scoring::Report r;
  r.model_version = "pkgtrust-test";
  r.score = 4.2;
  r.activity = {6.5, {"pushed 3 days ago"}};
  r.provenance = {7.0, {"attested"}};
  r.popularity = {2.5, {"12 downloads"}};
  r.malicious = "MAL-1";
  scoring::OsvAffected affected;
  affected.versions = {"1.0.0"};
  affected.ranges = {{"SEMVER", {{"introduced", "2.0.0"}, {"fixed", "2.0.5"}}}};
  r.advisories = {{"MAL-1", "bad", true, {"1.0.0", "2.0.1"}, affected}};
  r.malicious_versions = {"1.0.0", "2.0.1"};
  r.latest_clean_version = "2.0.5";
  r.deprecated = "do not use";
  r.archived = true;
  r.typosquat_of = "chalk";
  r.typosquat_rule = "deletion";
  r.install_script_added = true;
  r.dependency_confusion = "@acme/*";
  r.repository_declares = "chalk";
  r.reasons = {{"a reason", -1.5, "install_scripts"}, {"another", 0.5, ""}};
  CheckReadBack(r, scoring::Report{});
  auto read = scoring::Report::FromJson(r.ToJson());
  REQUIRE(read.ok());
  CHECK(read->AdvisoriesNaming(core::Ecosystem::kNpm, "2.0.3") == std::vector<std::string>{"MAL-1"});
  CHECK(read->AdvisoriesNaming(core::Ecosystem::kNpm, "2.0.5").empty());
}

TEST_CASE(
    "stored facts: a score advisory without its affected versions is skipped, not read as every version",
    "[pipeline][report]") {
  auto read =
      scoring::Report::FromJson(R"({"score":5,"advisories":[{"id":"MAL-1"},{"id":"MAL-2","affected":[]}]})");
  REQUIRE(read.ok());
  CHECK(read->advisories.empty());
  CHECK(read->AdvisoriesNaming(core::Ecosystem::kNpm, "1.0.0").empty());
}

TEST_CASE("the version timeline: a tag within the window is near, one further apart far",
          "[pipeline][report]") {
  constexpr core::Millis kDay = 86'400'000;
  core::PackageKey key{core::Ecosystem::kNpm, "@acme/core"};
  registry::PackageFacts registry;
  registry.key = key;
  registry.latest_version = "1.4.0";
  const char* names[] = {"1.0.0", "1.1.0", "1.2.0", "1.3.0", "1.4.0"};
  for (int i = 0; i < 5; ++i) {
    registry::VersionFacts v;
    v.version = names[i];
    v.published = kNow - (5 - i) * 30 * kDay;
    v.has_attestation = i == 4;
    registry.versions.push_back(v);
  }
  registry.repository_declared = "https://github.com/acme/mono";
  registry::Finish(registry);
  github::RepositoryFacts repo;
  repo.requested = {"github.com", "acme", "mono", ""};
  repo.full_name = "acme/mono";
  const core::Millis published_13 = registry.versions[3].published;
  repo.tags = {{"core@1.4.0", registry.versions[4].published + kDay * 69 / 10},  // 6.9 days later: near
               {"v1.3.0", published_13 - kDay * 75 / 10},                        // 7.5 days before: far
               {"v1.2.0", 0},                                                    // no date: near
               {"other-1.1.0", registry.versions[1].published}};                 // another package's tag
  std::vector<store::Fact> facts = {{store::kRegistryFact, registry.ToJson()},
                                    {store::kRepositoryFact, repo.ToJson()}};
  auto timeline = pipeline::BuildVersionTimeline(key, facts, 10);
  REQUIRE(timeline.ok());
  const json& versions = (*timeline)["versions"];
  REQUIRE(versions.size() == 5);
  CHECK(versions[0]["version"] == "1.4.0");  // newest first
  CHECK(versions[0]["latest"] == true);
  CHECK(versions[0]["attested"] == true);
  CHECK(versions[0]["tag"]["name"] == "core@1.4.0");
  CHECK(versions[0]["tag"]["days_from_publish"] == 6.9);
  CHECK(versions[0]["tag_match"] == "near");
  CHECK(versions[1]["tag"]["days_from_publish"] == -7.5);
  CHECK(versions[1]["tag_match"] == "far");
  CHECK(versions[2]["tag"]["date"].is_null());
  CHECK(versions[2]["tag_match"] == "near");
  CHECK(versions[3]["tag_match"] == "none");  // other-1.1.0 names another package
  CHECK(versions[4]["tag_match"] == "none");
  CHECK((*timeline)["repository_tags"] == 4);
  CHECK(pipeline::BuildVersionTimeline(key, facts, 2)->at("versions").size() == 2);

  repo.tags.clear();
  facts[1] = {store::kRepositoryFact, repo.ToJson()};
  CHECK(pipeline::BuildVersionTimeline(key, facts, 10)->at("versions")[0]["tag_match"] == "no_tags");
  facts.pop_back();
  CHECK(pipeline::BuildVersionTimeline(key, facts, 10)->at("versions")[0]["tag_match"] == "no_repository");
  CHECK(pipeline::BuildVersionTimeline(key, {}, 10).status().code() == core::StatusCode::kNotFound);
}
