// Verdicts: version-aware, each concern at its threshold, the ignore list and its expiry.
#include <catch2/catch.hpp>

#include "check/check_test_support.hpp"

namespace pkgtrust::check {
using namespace testing;
using json = nlohmann::json;

TEST_CASE("check: a malicious advisory applies only to the versions it names", "[check]") {
  Policy policy;
  json report = Report("fsevents", 6.0, "1.2.9");
  report["flags"]["has_malicious_versions"] = true;
  report["advisories"] = {{{"id", "MAL-9000-0002"}, {"summary", "malicious code in fsevents"}}};
  report["version"]["malicious"] = true;
  report["version"]["advisories"] = {"MAL-9000-0002"};
  report["version"]["score"] = 0.0;
  DependencyVerdict bad = Judge(Locked("fsevents", "1.2.9"), report, policy, kCheckNow);
  CHECK(ConcernsOf(bad) == std::vector<std::string>{"malicious"});
  CHECK(bad.findings[0].message == "version 1.2.9 is malicious: MAL-9000-0002 (malicious code in fsevents)");
  CHECK(bad.Fails());
  CHECK(bad.score == 0.0);
  CHECK(bad.purl == "pkg:npm/fsevents@1.2.9");

  json clean = Report("fsevents", 6.0, "2.3.3");
  clean["flags"]["has_malicious_versions"] = true;
  clean["advisories"] = report["advisories"];
  DependencyVerdict good = Judge(Locked("fsevents", "2.3.3"), clean, policy, kCheckNow);
  CHECK(good.findings.empty());
  CHECK_FALSE(good.Fails());
  CHECK(good.score == 6.0);
}

TEST_CASE("check: without a locked version the package's own flags decide", "[check]") {
  json report = Report("gw-evil", 0.0, "");
  report["flags"]["malicious"] = true;
  report["flags"]["advisory"] = "MAL-2099-0101";
  report["advisories"] = {{{"id", "MAL-2099-0101"}, {"summary", "steals tokens"}}};
  DependencyVerdict verdict = Judge(Locked("gw-evil", ""), report, Policy{}, kCheckNow);
  CHECK(ConcernsOf(verdict) == std::vector<std::string>{"malicious"});
  CHECK(verdict.findings[0].message == "the package is malicious: MAL-2099-0101 (steals tokens)");
  // With a locked version, only the version section speaks for it.
  json versioned = Report("gw-evil", 0.0, "1.0.0");
  versioned["flags"]["malicious"] = true;
  CHECK(Judge(Locked("gw-evil", "1.0.0"), versioned, Policy{}, kCheckNow).findings.empty());
}

TEST_CASE("check: a typosquat fails by default, naming the package it imitates", "[check]") {
  json report = Report("expresss", 2.0);
  report["flags"]["typosquatting"] = true;
  report["flags"]["looks_like"] = "express";
  report["flags"]["looks_like_rule"] = "repeated character";
  DependencyVerdict verdict = Judge(Locked("expresss", "1.0.0"), report, Policy{}, kCheckNow);
  REQUIRE(ConcernsOf(verdict) == std::vector<std::string>{"typosquat"});
  CHECK(verdict.findings[0].message ==
        "the name looks like the popular package express (repeated character)");
  CHECK(verdict.Fails());
}

TEST_CASE("check: yanked and deprecated versions warn unless the policy fails on them", "[check]") {
  json report = Report("request", 3.0, "2.88.2");
  report["version"]["yanked"] = true;
  report["version"]["deprecated"] = "request has been deprecated";
  Policy policy;
  DependencyVerdict warned = Judge(Locked("request", "2.88.2"), report, policy, kCheckNow);
  CHECK(ConcernsOf(warned) == std::vector<std::string>{"yanked", "deprecated"});
  CHECK(warned.findings[1].message == "version 2.88.2 is deprecated: request has been deprecated");
  CHECK_FALSE(warned.Fails());
  policy.fail_on = {Concern::kDeprecated};
  DependencyVerdict failed = Judge(Locked("request", "2.88.2"), report, policy, kCheckNow);
  CHECK_FALSE(failed.findings[0].fails);
  CHECK(failed.findings[1].fails);
}

TEST_CASE("check: too new is younger than too_new_hours, not older", "[check]") {
  Policy policy;
  policy.too_new_hours = 24;
  json report = Report("fresh", 7.0);
  report["version"]["published"] = core::FormatTimestamp(kCheckNow - 24 * kHour + 1000);
  DependencyVerdict young = Judge(Locked("fresh", "1.0.0"), report, policy, kCheckNow);
  REQUIRE(ConcernsOf(young) == std::vector<std::string>{"too_new"});
  CHECK(young.findings[0].message == "version 1.0.0 was published 24 hours ago (the policy asks for 24)");
  report["version"]["published"] = core::FormatTimestamp(kCheckNow - 24 * kHour);
  CHECK(Judge(Locked("fresh", "1.0.0"), report, policy, kCheckNow).findings.empty());
}

TEST_CASE("check: a score below min_score is a finding with the report's reasons; equal is not", "[check]") {
  Policy policy;
  policy.min_score = 3.0;
  policy.fail_on.push_back(Concern::kLowScore);
  CHECK(Judge(Locked("a", "1.0.0"), Report("a", 3.0), policy, kCheckNow).findings.empty());
  DependencyVerdict low = Judge(Locked("a", "1.0.0"), Report("a", 2.9), policy, kCheckNow);
  REQUIRE(ConcernsOf(low) == std::vector<std::string>{"low_score"});
  CHECK(low.findings[0].message ==
        "score 2.9 is below the minimum 3.0: the repository is archived (-1.1); no provenance attestations "
        "(-0.4)");
  CHECK(low.Fails());
  CHECK(low.explanation.size() == 3);
  // No min_score: no score finding at all.
  CHECK(Judge(Locked("a", "1.0.0"), Report("a", 0.5), Policy{}, kCheckNow).findings.empty());
}

TEST_CASE("check: the locked version's score is the one compared", "[check]") {
  Policy policy;
  policy.min_score = 5.0;
  json report = Report("dep", 8.0, "0.9.0");
  report["version"]["deprecated"] = "use 1.x";
  report["version"]["score"] = 3.0;  // a deprecated version is capped at 3
  DependencyVerdict verdict = Judge(Locked("dep", "0.9.0"), report, policy, kCheckNow);
  CHECK(verdict.score == 3.0);
  CHECK(ConcernsOf(verdict) == std::vector<std::string>{"deprecated", "low_score"});
}

TEST_CASE("check: pending, failed, not found and missing versions", "[check]") {
  Policy policy;
  DependencyVerdict pending =
      Judge(Locked("new-one", "1.0.0"), json{{"status", "pending_registry"}}, policy, kCheckNow);
  CHECK(pending.outcome == Outcome::kPending);
  CHECK(pending.detail == "pending_registry");
  CHECK(ConcernsOf(pending) == std::vector<std::string>{"pending"});
  CHECK_FALSE(pending.Fails());
  policy.fail_on.push_back(Concern::kPending);
  CHECK(Judge(Locked("x", "1.0.0"), json{{"status", "failed"}}, policy, kCheckNow).Fails());

  DependencyVerdict missing =
      Judge(Locked("nope", "1.0.0"), json{{"status", "not_found"}}, Policy{}, kCheckNow);
  CHECK(missing.outcome == Outcome::kNotFound);
  CHECK(missing.findings[0].message == "pkg:npm/nope is not in its registry");

  json report = Report("gone", 5.0, "9.9.9");
  report["version"]["exists"] = false;
  report["version"]["published"] = nullptr;
  DependencyVerdict unlisted = Judge(Locked("gone", "9.9.9"), report, Policy{}, kCheckNow);
  CHECK(ConcernsOf(unlisted) == std::vector<std::string>{"missing"});

  DependencyVerdict garbage = Judge(Locked("odd", "1.0.0"), json::array({1, 2}), Policy{}, kCheckNow);
  CHECK(garbage.outcome == Outcome::kPending);
  CHECK(garbage.detail == "no answer");
}

TEST_CASE("check: an ignore entry in force stops a failure; an expired one says so", "[check]") {
  json report = Report("expresss", 2.0);
  report["flags"]["typosquatting"] = true;
  report["flags"]["looks_like"] = "express";
  Policy policy;
  policy.source = ".pkgtrust.yaml";
  policy.ignore.push_back({"pkg:npm/expresss", {}, "our own fork", "2026-12-07", 4});
  DependencyVerdict today = Judge(Locked("expresss", "1.0.0"), report, policy, kCheckNow);
  CHECK_FALSE(today.Fails());
  CHECK(today.findings[0].ignored == "ignored until 2026-12-07: our own fork");

  policy.ignore[0].expires = "2026-12-06";
  DependencyVerdict expired = Judge(Locked("expresss", "1.0.0"), report, policy, kCheckNow);
  CHECK(expired.Fails());
  CHECK(expired.findings[0].ignored.empty());
  CHECK(expired.findings[0].expired ==
        "the ignore entry for pkg:npm/expresss (.pkgtrust.yaml:4) expired on 2026-12-06: no longer ignored");
}

TEST_CASE("check: an ignore entry with a version or concerns covers only those", "[check]") {
  json report = Report("expresss", 2.0, "2.0.0");
  report["flags"]["typosquatting"] = true;
  report["version"]["yanked"] = true;
  Policy policy;
  policy.fail_on = {Concern::kTyposquat, Concern::kYanked};
  policy.ignore.push_back({"pkg:npm/expresss@1.0.0", {}, "reviewed 1.0.0", "2099-01-01", 3});
  CHECK(Judge(Locked("expresss", "2.0.0"), report, policy, kCheckNow).Fails());
  policy.ignore[0].package = "pkg:npm/expresss@2.0.0";
  CHECK_FALSE(Judge(Locked("expresss", "2.0.0"), report, policy, kCheckNow).Fails());
  policy.ignore[0].concerns = {Concern::kTyposquat};
  DependencyVerdict partly = Judge(Locked("expresss", "2.0.0"), report, policy, kCheckNow);
  CHECK(partly.Fails());
  CHECK_FALSE(partly.findings[0].fails);  // typosquat, ignored
  CHECK(partly.findings[1].fails);        // yanked
}

TEST_CASE("check: what is not from a registry of a scored ecosystem is not looked up", "[check]") {
  Outcome outcome;
  std::string detail;
  lockfile::LockedDependency git = Locked("is-number", "");
  git.origin = lockfile::Origin::kGit;
  git.origin_detail = "git+https://github.com/jonschlinkert/is-number.git#af885e2";
  CHECK_FALSE(ShouldLookUp(git, &outcome, &detail));
  CHECK(outcome == Outcome::kNotRegistry);
  CHECK(detail == "git: git+https://github.com/jonschlinkert/is-number.git#af885e2");

  lockfile::LockedDependency composer;
  composer.purl = *core::ParsePurl("pkg:composer/laravel/framework@7.12.0");
  CHECK_FALSE(ShouldLookUp(composer, &outcome, &detail));
  CHECK(outcome == Outcome::kUnscored);
  CHECK(detail == "purl type 'composer' is not scored");

  lockfile::LockedDependency bad = Locked("Not A Name!", "1.0.0", 3, core::Ecosystem::kCrates);
  CHECK_FALSE(ShouldLookUp(bad, &outcome, &detail));
  CHECK(outcome == Outcome::kInvalid);

  CHECK(ShouldLookUp(Locked("left-pad", "1.3.0"), &outcome, &detail));
}

TEST_CASE("check: worst first, and the exit code of a result", "[check]") {
  json typo = Report("expresss", 4.0);
  typo["flags"]["typosquatting"] = true;
  json yanked = Report("old", 6.0);
  yanked["version"]["yanked"] = true;
  CheckResult result;
  result.verdicts.push_back(Judge(Locked("fine", "1.0.0"), Report("fine", 9.0), result.policy, kCheckNow));
  result.verdicts.push_back(Judge(Locked("low", "1.0.0"), Report("low", 1.0), result.policy, kCheckNow));
  result.verdicts.push_back(Judge(Locked("old", "1.0.0"), yanked, result.policy, kCheckNow));
  result.verdicts.push_back(Judge(Locked("expresss", "1.0.0"), typo, result.policy, kCheckNow));
  result.verdicts.push_back(NotLookedUp(Locked("git-dep", ""), Outcome::kNotRegistry, "git"));
  SortWorstFirst(result.verdicts);
  std::vector<std::string> order;
  for (const auto& verdict : result.verdicts) order.push_back(verdict.purl);
  CHECK(order == std::vector<std::string>{"pkg:npm/expresss@1.0.0", "pkg:npm/old@1.0.0", "pkg:npm/low@1.0.0",
                                          "pkg:npm/fine@1.0.0", "pkg:npm/git-dep"});
  CHECK(ExitCodeOf(result) == kExitPolicyViolated);
  result.verdicts.erase(result.verdicts.begin());
  CHECK(ExitCodeOf(result) == kExitPassed);
  result.errors.push_back({"yarn.lock", "yarn.lock:3: expected ..."});
  CHECK(ExitCodeOf(result) == kExitInputError);
}

}  // namespace pkgtrust::check

namespace pkgtrust::check {
using namespace testing;

TEST_CASE("check: ignore entries match the name as the registry normalizes it", "[check]") {
  // PyPI's `zope.interface` is `zope-interface` (PEP 503); crates' `serde_json` is `serde-json`.
  auto policy = ParsePolicy(
      "ignore:\n"
      "  - package: pkg:pypi/zope.interface\n    reason: r\n    expires: 2099-01-01\n"
      "  - package: pkg:cargo/serde_json@1.0.100\n    reason: r\n    expires: 2099-01-01\n",
      "p.yaml");
  REQUIRE(policy.ok());
  policy->fail_on = {Concern::kYanked};
  nlohmann::json report = Report("x", 5.0, "5.0");
  report["version"]["yanked"] = true;
  CHECK_FALSE(
      Judge(Locked("zope.interface", "5.0", 1, core::Ecosystem::kPypi), report, *policy, kCheckNow).Fails());
  CHECK_FALSE(
      Judge(Locked("Zope_Interface", "5.0", 1, core::Ecosystem::kPypi), report, *policy, kCheckNow).Fails());
  CHECK(Judge(Locked("zope.schema", "5.0", 1, core::Ecosystem::kPypi), report, *policy, kCheckNow).Fails());
  report["version"]["version"] = "1.0.100";
  CHECK_FALSE(Judge(Locked("serde_json", "1.0.100", 1, core::Ecosystem::kCrates), report, *policy, kCheckNow)
                  .Fails());
  CHECK(Judge(Locked("serde_json", "1.0.101", 1, core::Ecosystem::kCrates), report, *policy, kCheckNow)
            .Fails());
  // An SBOM's purl with qualifiers is the same package.
  lockfile::LockedDependency jar;
  jar.purl = *core::ParsePurl("pkg:maven/org.slf4j/slf4j-api@2.0.16?type=jar");
  CHECK(CanonicalPurl(jar.purl, true) == "pkg:maven/org.slf4j/slf4j-api@2.0.16");
  CHECK(CanonicalPurl(jar.purl, false) == "pkg:maven/org.slf4j/slf4j-api");
}

TEST_CASE("check: concern lists as flags and parameters give them", "[check]") {
  CHECK(*ParseConcernList("malicious,typosquat") ==
        std::vector<Concern>{Concern::kMalicious, Concern::kTyposquat});
  CHECK(ParseConcernList("none")->empty());
  CHECK(ParseConcernList("")->empty());
  CHECK(*ParseConcernList("pending,") == std::vector<Concern>{Concern::kPending});
  auto bad = ParseConcernList("malicious,evil");
  REQUIRE_FALSE(bad.ok());
  CHECK(
      bad.status().message() ==
      "'evil' is not one of malicious, typosquat, yanked, deprecated, too_new, low_score, pending, missing");
}

TEST_CASE("check: a version no registry would take is invalid, not sent", "[check]") {
  Outcome outcome;
  std::string detail;
  CHECK_FALSE(ShouldLookUp(Locked("left-pad", std::string(257, '1')), &outcome, &detail));
  CHECK(outcome == Outcome::kInvalid);
  CHECK(detail == "the version is longer than 256 bytes");
  CHECK(ShouldLookUp(Locked("left-pad", std::string(256, '1')), &outcome, &detail));
  CHECK_FALSE(ShouldLookUp(Locked("left-pad", "1.0 beta"), &outcome, &detail));
  CHECK(detail == "the version has spaces or control characters");
  // LookupsFor leaves them out; each purl once.
  std::vector<lockfile::LockedDependency> dependencies = {Locked("a", "1.0.0"), Locked("a", "1.0.0", 9),
                                                          Locked("a", "2.0.0"), Locked("b", "1 0")};
  auto lookups = LookupsFor(dependencies);
  REQUIRE(lookups.size() == 2);
  CHECK(lookups[0].purl == "pkg:npm/a@1.0.0");
  CHECK(lookups[1].version == "2.0.0");
  CHECK(lookups[1].key.name == "a");
}

TEST_CASE("check: a report the server could not read is pending with the reason", "[check]") {
  DependencyVerdict verdict = Judge(
      Locked("x", "1.0.0"), nlohmann::json{{"status", "error"}, {"error", {{"message", "damaged row"}}}},
      Policy{}, kCheckNow);
  CHECK(verdict.outcome == Outcome::kPending);
  CHECK(verdict.detail == "error: damaged row");
}

}  // namespace pkgtrust::check
