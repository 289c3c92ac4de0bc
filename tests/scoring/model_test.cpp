#include "pkgtrust/scoring/model.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "pkgtrust/core/time.hpp"
#include "pkgtrust/pipeline/stage_handlers.hpp"
#include "pkgtrust/registry/parsers.hpp"
#include "pkgtrust/scoring/typosquat.hpp"
#include "support/test_support.hpp"

using namespace pkgtrust;
using scoring::Inputs;

namespace {

constexpr core::Millis kDay = 24LL * 3600 * 1000;
const core::Millis kNow = *core::ParseTimestamp("2026-11-23T00:00:00Z");

// A healthy, popular, well-tagged package.
Inputs Healthy() {
  Inputs in;
  in.key = {core::Ecosystem::kNpm, "good-lib"};
  in.latest_version = "2.3.0";
  for (int i = 0; i < 8; ++i)
    in.versions.push_back({"2." + std::to_string(i / 3) + "." + std::to_string(i % 3),
                           kNow - (400 - i * 45) * kDay,
                           /*yanked=*/false, /*attested=*/true});
  in.downloads_last_month = 5'000'000;
  in.has_repository = true;
  in.repository_host = "github.com";
  in.repository_owner = "acme";
  in.repository_name = "good-lib";
  Inputs::GitHub gh;
  gh.stars = 8000;
  gh.forks = 900;
  gh.contributors = 40;
  gh.commits_last_year = 150;
  gh.pushed = kNow - 3 * kDay;
  for (const auto& v : in.versions) gh.tags.push_back({"v" + v.version, v.published + 3600'000});
  gh.manifest = Inputs::GitHub::Manifest::kDeclaresPackage;
  gh.manifest_path = "package.json";
  gh.manifest_name = "good-lib";
  in.github = gh;
  return in;
}

bool HasReason(const scoring::Report& r, const std::string& text) {
  for (const auto& reason : r.reasons)
    if (reason.text.find(text) != std::string::npos) return true;
  return false;
}

}  // namespace

TEST_CASE("a healthy, popular, tagged package scores high on every component", "[scoring]") {
  auto r = scoring::Score(Healthy(), kNow);
  CHECK(r.model_version == scoring::kModelVersion);
  CHECK(r.activity.value >= 8);
  CHECK(r.provenance.value >= 9);
  CHECK(r.popularity.value >= 8);
  CHECK(r.score >= 8);
  CHECK(r.score <= 10);
  CHECK(r.reasons.size() == 3);  // the three weighted components, no caps
  double sum = 0;
  for (const auto& reason : r.reasons) sum += reason.effect;
  CHECK(sum == Approx(r.score).margin(0.06));                     // the explanation adds up to the score
  CHECK(scoring::Score(Healthy(), kNow).ToJson() == r.ToJson());  // deterministic

  Inputs unattested = Healthy();
  for (auto& v : unattested.versions) v.attested = false;
  CHECK(scoring::Score(unattested, kNow).provenance.value == 8.0);  // attestations weigh 20% on npm
}

TEST_CASE("flags cap the score and say why", "[scoring]") {
  Inputs deprecated = Healthy();
  deprecated.deprecated = "use better-lib instead";
  auto d = scoring::Score(deprecated, kNow);
  CHECK(d.score == 3.0);
  CHECK(HasReason(d, "deprecated: \"use better-lib instead\""));

  Inputs archived = Healthy();
  archived.github->archived = true;
  auto a = scoring::Score(archived, kNow);
  CHECK(a.score == 4.0);
  CHECK(a.archived);
  CHECK(HasReason(a, "archived"));

  Inputs holder = Healthy();
  holder.security_holder = true;
  CHECK(scoring::Score(holder, kNow).score == 0.0);

  auto json = nlohmann::json::parse(d.ToJson());
  CHECK(json["flags"]["deprecated"] == true);
  CHECK(json["flags"]["deprecation_message"] == "use better-lib instead");
  CHECK(json["flags"]["malicious"] == false);
  CHECK(json["components"]["provenance"]["value"].get<double>() >= 9);
  CHECK(json["explanation"].size() == 4);
}

TEST_CASE("provenance: no repository, a missing one, a fork, tags far from releases", "[scoring]") {
  Inputs none = Healthy();
  none.has_repository = false;
  none.github.reset();
  auto n = scoring::Score(none, kNow);
  CHECK(n.provenance.value == 0);
  CHECK(n.provenance.facts == std::vector<std::string>{"no source repository declared"});

  Inputs missing = Healthy();
  missing.github = Inputs::GitHub{.found = false};
  auto m = scoring::Score(missing, kNow);
  CHECK(m.provenance.value == 2.0);  // only the attestations count
  CHECK(m.provenance.facts[0] == "the declared repository does not exist");

  Inputs fork = Healthy();
  fork.github->fork = true;
  CHECK(scoring::Score(fork, kNow).provenance.value < scoring::Score(Healthy(), kNow).provenance.value);

  Inputs late = Healthy();
  for (auto& tag : late.github->tags) tag.date += 30 * kDay;  // tags a month after the releases
  auto l = scoring::Score(late, kNow);
  CHECK(l.provenance.value < 6);
  CHECK_THAT(l.provenance.facts[0], Catch::Contains("0 of the 8 newest versions match a tag"));
}

TEST_CASE("provenance: the repository's manifest decides whether it is the package's", "[scoring]") {
  using Manifest = Inputs::GitHub::Manifest;
  auto with = [](Manifest manifest, const char* declared = "") {
    Inputs in = Healthy();
    in.github->manifest = manifest;
    in.github->manifest_name = declared;
    return scoring::Score(in, kNow);
  };
  auto declares = with(Manifest::kDeclaresPackage, "good-lib");
  auto other = with(Manifest::kDeclaresOther, "evil-lib");
  auto missing = with(Manifest::kMissing);
  auto unread = with(Manifest::kNotRead);
  CHECK(declares.provenance.value > unread.provenance.value);  // the name only suggests it
  CHECK(unread.provenance.value > other.provenance.value);
  CHECK(other.provenance.value > missing.provenance.value);
  auto has_fact = [](const scoring::Report& r, const std::string& text) {
    for (const auto& f : r.provenance.facts)
      if (f.find(text) != std::string::npos) return true;
    return false;
  };
  CHECK(has_fact(declares, "package.json in the repository declares this package"));
  CHECK(has_fact(other, "declares 'evil-lib', not this package"));
  CHECK(has_fact(missing, "no manifest for this package"));
  CHECK(has_fact(unread, "named like the package (its manifest was not read)"));

  // A repository named otherwise whose manifest was not read gets nothing for its name.
  Inputs renamed = Healthy();
  renamed.repository_name = "something-else";
  renamed.github->manifest = Manifest::kUnreadable;
  CHECK(scoring::Score(renamed, kNow).provenance.value < unread.provenance.value);
}

TEST_CASE("popularity: PyPI packages count by their rank in the popular list", "[scoring]") {
  scoring::PopularPackages popular;
  popular.Add(core::Ecosystem::kPypi, "boto3", 1e9);
  for (int i = 2; i <= 15000; ++i) popular.Add(core::Ecosystem::kPypi, "pkg" + std::to_string(i), 1e9 / i);
  auto score = [&](const char* name) {
    Inputs in = Healthy();
    in.key = {core::Ecosystem::kPypi, name};
    in.downloads_last_month = -1;  // PyPI has no download counts
    in.github.reset();
    return scoring::Score(in, kNow, &popular).popularity;
  };
  CHECK(score("boto3").value == 10);
  CHECK(score("pkg15000").value == 5);
  CHECK(score("pkg150").value > score("pkg1500").value);
  CHECK_THAT(score("pkg150").facts.at(0), Catch::Contains("rank 150 among PyPI packages"));
  CHECK(score("unlisted").value == 0);
  CHECK(score("unlisted").facts.empty());  // not listed: unknown, no part of the component
}

TEST_CASE("stored facts of a real package are scored", "[scoring]") {
  auto lodash = registry::ParseNpmPackument(
      testing::ReadText(testing::FixturePath("registry/npm/lodash.json")), {core::Ecosystem::kNpm, "lodash"});
  REQUIRE(lodash.ok());
  std::vector<store::Fact> facts = {{store::kRegistryFact, lodash->ToJson()}};
  auto inputs = pipeline::ScoringInputs(lodash->key, facts);
  REQUIRE(inputs.ok());
  CHECK(inputs->versions.size() == 114);
  CHECK(inputs->has_repository);
  CHECK_FALSE(inputs->github.has_value());
  auto report = scoring::Score(*inputs, kNow);
  CHECK(report.score >= 0);
  CHECK(report.score <= 10);
  CHECK_THAT(report.activity.facts.back(), Catch::Contains("0 releases in the last year"));
  CHECK_FALSE(pipeline::ScoringInputs(lodash->key, {}).ok());  // nothing to score
}

namespace {

// The model's inputs from a recorded (or written) npm packument, as the pipeline builds them.
Inputs FromPackument(const std::string& fixture, const std::string& name) {
  auto facts = registry::ParseNpmPackument(testing::ReadText(testing::FixturePath("registry/npm/" + fixture)),
                                           {core::Ecosystem::kNpm, name});
  REQUIRE(facts.ok());
  auto inputs = pipeline::ScoringInputs(facts->key, {{store::kRegistryFact, facts->ToJson()}});
  REQUIRE(inputs.ok());
  return *inputs;
}

const scoring::Reason* SignalOf(const scoring::Report& r, const std::string& signal) {
  for (const auto& reason : r.reasons)
    if (reason.signal == signal) return &reason;
  return nullptr;
}

double SumOfEffects(const scoring::Report& r) {
  double sum = 0;
  for (const auto& reason : r.reasons) sum += reason.effect;
  return sum;
}

}  // namespace

TEST_CASE("install scripts: a scored reason; one added by the newest version is a flag", "[scoring]") {
  // bcrypt (recorded): its versions have run `install` for years; the latest too.
  auto bcrypt = scoring::Score(FromPackument("bcrypt.json", "bcrypt"), kNow);
  const scoring::Reason* scripts = SignalOf(bcrypt, "install_scripts");
  REQUIRE(scripts != nullptr);
  CHECK(scripts->effect == Approx(-1.0));
  CHECK_THAT(scripts->text, Catch::Contains("6.0.0 runs install scripts (install: node-gyp-build)"));
  CHECK_FALSE(bcrypt.install_script_added);
  // dependabot's hand-written packument: scripts appear in 1.1.0, and 1.3.0 keeps them.
  auto kept = scoring::Score(FromPackument("install_scripts.json", "install-scripts"), kNow);
  CHECK(SignalOf(kept, "install_scripts") != nullptr);
  CHECK_FALSE(kept.install_script_added);
  // Written here: 1.3.0 adds a postinstall after three versions without one.
  auto added = scoring::Score(FromPackument("install-script-added.json", "install-script-added"), kNow);
  CHECK(added.install_script_added);
  CHECK(added.score <= 2.0);
  CHECK_THAT(SignalOf(added, "install_script_added")->text,
             Catch::Contains("1.3.0, added an install script (postinstall: node ./setup.js); none of the 3 earlier"));
  CHECK(nlohmann::json::parse(added.ToJson())["flags"]["install_script_added"] == true);
  CHECK(SumOfEffects(added) == Approx(added.score).margin(0.06));
  // lodash (recorded) runs none.
  auto lodash = scoring::Score(FromPackument("lodash.json", "lodash"), kNow);
  CHECK(SignalOf(lodash, "install_scripts") == nullptr);
}

TEST_CASE("a newest version published by an account that published none before", "[scoring]") {
  // Written here: 1.3.0 by new-account after original-author's three.
  auto added = scoring::Score(FromPackument("install-script-added.json", "install-script-added"), kNow);
  REQUIRE(SignalOf(added, "new_publisher") != nullptr);
  CHECK_THAT(SignalOf(added, "new_publisher")->text, Catch::Contains("published by 'new-account'"));
  // dependabot's hand-written packument: 10.0.0 by "GitHub Actions" after oldmaintainer's 9.0.0.
  auto lint = scoring::Score(FromPackument("npm-package-json-lint.json", "npm-package-json-lint"), kNow);
  CHECK(SignalOf(lint, "new_publisher") != nullptr);
  // With a provenance attestation the publisher is the repository's CI: not counted.
  Inputs attested = FromPackument("npm-package-json-lint.json", "npm-package-json-lint");
  attested.versions.back().attested = true;
  CHECK(SignalOf(scoring::Score(attested, kNow), "new_publisher") == nullptr);
  // lodash (recorded): 4.17.21's publisher published earlier versions.
  CHECK(SignalOf(scoring::Score(FromPackument("lodash.json", "lodash"), kNow), "new_publisher") == nullptr);
}

TEST_CASE("young packages and versions, on both sides of the configured ages", "[scoring]") {
  scoring::ModelOptions options;  // 7 days, 48 hours
  constexpr core::Millis kHour = 3600'000;
  auto with_times = [&](core::Millis first, core::Millis latest) {
    Inputs in = Healthy();
    in.versions = {{"1.0.0", first}, {"1.1.0", latest}};
    in.latest_version = "1.1.0";
    return scoring::Score(in, kNow, options);
  };
  CHECK(SignalOf(with_times(kNow - 7 * kDay + kHour, kNow - kHour), "young_package") != nullptr);
  CHECK(SignalOf(with_times(kNow - 7 * kDay - kHour, kNow - 400 * kDay), "young_package") == nullptr);
  CHECK(SignalOf(with_times(kNow - 400 * kDay, kNow - 47 * kHour), "young_version") != nullptr);
  CHECK(SignalOf(with_times(kNow - 400 * kDay, kNow - 49 * kHour), "young_version") == nullptr);
  options.young_version_hours = 50;  // configurable
  CHECK(SignalOf(with_times(kNow - 400 * kDay, kNow - 49 * kHour), "young_version") != nullptr);
  auto young = with_times(kNow - kHour * 30, kNow - kHour * 30);
  CHECK_THAT(SignalOf(young, "young_package")->text, Catch::Contains("first published 30 hours ago"));
}

TEST_CASE("a single version and no repository: a throwaway package's shape", "[scoring]") {
  Inputs one = Healthy();
  one.versions.resize(1);
  one.latest_version = one.versions[0].version;
  one.has_repository = false;
  one.github.reset();
  auto r = scoring::Score(one, kNow);
  REQUIRE(SignalOf(r, "single_version_no_repository") != nullptr);
  Inputs two = one;
  two.versions.push_back(Healthy().versions[1]);
  CHECK(SignalOf(scoring::Score(two, kNow), "single_version_no_repository") == nullptr);
  Inputs with_repository = one;
  with_repository.has_repository = true;
  CHECK(SignalOf(scoring::Score(with_repository, kNow), "single_version_no_repository") == nullptr);
}

TEST_CASE("dependency confusion: a public package named like the organisation's internal ones", "[scoring]") {
  scoring::ModelOptions options;
  options.internal_names = {"@acme/*", "npm:acme-*", "pypi:acme_internal_?"};
  auto flag = [&](core::Ecosystem eco, const char* name) {
    Inputs in = Healthy();
    in.key = {eco, name};
    return scoring::Score(in, kNow, options).dependency_confusion;
  };
  CHECK(flag(core::Ecosystem::kNpm, "@acme/billing") == "@acme/*");
  CHECK(flag(core::Ecosystem::kNpm, "@ACME/billing") == "@acme/*");  // case-insensitive
  CHECK(flag(core::Ecosystem::kNpm, "@acme-labs/billing") == "");
  CHECK(flag(core::Ecosystem::kNpm, "acme-utils") == "npm:acme-*");
  CHECK(flag(core::Ecosystem::kPypi, "acme-utils") == "");            // the pattern is npm's
  CHECK(flag(core::Ecosystem::kPypi, "acme-internal-x") == "pypi:acme_internal_?");  // as PyPI normalizes
  CHECK(scoring::MatchInternalName({core::Ecosystem::kMaven, "org.acme:core"}, {"org.acme:*"}) == "org.acme:*");
  Inputs in = Healthy();
  in.key = {core::Ecosystem::kNpm, "@acme/billing"};
  auto r = scoring::Score(in, kNow, options);
  CHECK(r.score <= 1.0);
  auto json = nlohmann::json::parse(r.ToJson());
  CHECK(json["flags"]["dependency_confusion"] == true);
  CHECK(json["flags"]["internal_name_pattern"] == "@acme/*");
}

TEST_CASE("star-jacking: a declared repository that is a popular package's own", "[scoring]") {
  scoring::PopularPackages popular;
  popular.Add(core::Ecosystem::kPypi, "requests", 1e9);
  popular.Index();
  auto with_manifest = [&](const char* name, const char* declared) {
    Inputs in = Healthy();
    in.key = {core::Ecosystem::kPypi, name};
    in.github->manifest = Inputs::GitHub::Manifest::kDeclaresOther;
    in.github->manifest_name = declared;
    in.github->manifest_path = "setup.py";
    return scoring::Score(in, kNow, &popular);
  };
  auto jacked = with_manifest("reqeusts-toolbelt", "Requests");  // names normalize before they compare
  CHECK(jacked.repository_declares == "requests");
  CHECK(jacked.score <= 2.0);
  CHECK_THAT(SignalOf(jacked, "repository_mismatch")->text,
             Catch::Contains("belongs to the popular package 'requests' (setup.py declares it)"));
  CHECK(with_manifest("my-monorepo-part", "my-monorepo").repository_declares.empty());  // not a popular one
}
