#include "pkgtrust/scoring/model.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "pkgtrust/core/time.hpp"
#include "pkgtrust/pipeline/ingest_handlers.hpp"
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
  std::vector<store::Fact> facts = {{pipeline::kRegistryFact, lodash->ToJson()}};
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
