// .pkgtrust.yaml: every key read, every mistake named with its file and line.
#include <catch2/catch.hpp>

#include "pkgtrust/check/check.hpp"

namespace pkgtrust::check {

std::string PolicyError(const std::string& yaml) {
  auto policy = ParsePolicy(yaml, ".pkgtrust.yaml");
  REQUIRE_FALSE(policy.ok());
  return policy.status().message();
}

TEST_CASE("check policy: a full file", "[check]") {
  auto policy = ParsePolicy(R"(# what fails CI
fail_on: [malicious, typosquat, yanked, pending]
min_score: 3.5
too_new_hours: 48
ignore:
  - package: pkg:npm/expresss
    reason: our fork, reviewed by security
    expires: 2027-01-31
  - package: pkg:pypi/Django_Utils@1.0
    concerns: [low_score]
    reason: internal
    expires: "2026-12-31"
)",
                            "repo/.pkgtrust.yaml");
  INFO(policy.status().message());
  REQUIRE(policy.ok());
  CHECK(policy->fail_on ==
        std::vector<Concern>{Concern::kMalicious, Concern::kTyposquat, Concern::kYanked, Concern::kPending});
  CHECK(policy->min_score == 3.5);
  CHECK(policy->too_new_hours == 48);
  CHECK(policy->source == "repo/.pkgtrust.yaml");
  REQUIRE(policy->ignore.size() == 2);
  CHECK(policy->ignore[0].package == "pkg:npm/expresss");
  CHECK(policy->ignore[0].line == 6);
  CHECK(policy->ignore[0].expires == "2027-01-31");
  CHECK(policy->ignore[1].package == "pkg:pypi/django-utils@1.0");  // canonical, as dependencies are
  CHECK(policy->ignore[1].concerns == std::vector<Concern>{Concern::kLowScore});
}

TEST_CASE("check policy: an empty file is the defaults", "[check]") {
  auto policy = ParsePolicy("", "p.yaml");
  REQUIRE(policy.ok());
  CHECK(policy->fail_on == std::vector<Concern>{Concern::kMalicious, Concern::kTyposquat});
  CHECK_FALSE(policy->min_score);
  CHECK(policy->too_new_hours == 24);
  auto none = ParsePolicy("fail_on: []\n", "p.yaml");
  REQUIRE(none.ok());
  CHECK(none->fail_on.empty());
}

TEST_CASE("check policy: mistakes name the file, the line and the key", "[check]") {
  CHECK(PolicyError("fail_on: [malicious]\nfail-on: [pending]\n") ==
        ".pkgtrust.yaml:2: unknown key 'fail-on' (known: fail_on, min_score, too_new_hours, ignore)");
  CHECK(PolicyError("fail_on: [malicious, evil]\n") ==
        ".pkgtrust.yaml:1: fail_on: 'evil' is not one of malicious, typosquat, yanked, deprecated, too_new, "
        "low_score, pending, missing");
  CHECK(PolicyError("fail_on: malicious\n") ==
        ".pkgtrust.yaml:1: fail_on must be a list such as [malicious, typosquat]");
  CHECK(PolicyError("min_score: 11\n") == ".pkgtrust.yaml:1: min_score must be a number from 0 to 10");
  CHECK(PolicyError("min_score: high\n") == ".pkgtrust.yaml:1: min_score must be a number from 0 to 10");
  CHECK(PolicyError("too_new_hours: -1\n") ==
        ".pkgtrust.yaml:1: too_new_hours must be a whole number from 0 to 8760");
  CHECK(PolicyError("ignore:\n  - package: pkg:npm/x\n    expires: 2027-01-01\n") ==
        ".pkgtrust.yaml:2: the ignore entry for pkg:npm/x needs a `reason`");
  CHECK(PolicyError("ignore:\n  - package: pkg:npm/x\n    reason: r\n") ==
        ".pkgtrust.yaml:2: the ignore entry for pkg:npm/x needs `expires` as a date, YYYY-MM-DD");
  CHECK(PolicyError("ignore:\n  - package: pkg:npm/x\n    reason: r\n    expires: 2027-13-01\n") ==
        ".pkgtrust.yaml:2: the ignore entry for pkg:npm/x needs `expires` as a date, YYYY-MM-DD");
  CHECK(PolicyError("ignore:\n  - package: npm/x\n    reason: r\n    expires: 2027-01-01\n")
            .starts_with(".pkgtrust.yaml:2: ignore.package: "));
  CHECK(PolicyError("ignore:\n  - package: pkg:npm/x\n    until: 2027-01-01\n") ==
        ".pkgtrust.yaml:3: unknown key ignore.until (known: package, reason, expires, concerns)");
  CHECK(PolicyError("fail_on: [malicious\n").starts_with(".pkgtrust.yaml:2: not valid YAML: "));
  CHECK(PolicyError("- a\n- b\n") ==
        ".pkgtrust.yaml:1: expected a mapping with fail_on, min_score, too_new_hours, ignore");
}

}  // namespace pkgtrust::check

namespace pkgtrust::check {

TEST_CASE("check policy: settings given as text, at their bounds", "[check]") {
  Policy policy;
  CHECK(SetPolicyOption(policy, "min_score", "10", "--min-score").ok());
  CHECK(policy.min_score == 10.0);
  CHECK(SetPolicyOption(policy, "min_score", "0", "--min-score").ok());
  CHECK(SetPolicyOption(policy, "min_score", "10.01", "--min-score").message() ==
        "--min-score must be a number from 0 to 10");
  CHECK(SetPolicyOption(policy, "min_score", "-0.1", "min_score").message() ==
        "min_score must be a number from 0 to 10");
  CHECK(SetPolicyOption(policy, "too_new_hours", "8760", "too_new_hours").ok());
  CHECK(policy.too_new_hours == 8760);
  CHECK(SetPolicyOption(policy, "too_new_hours", "8761", "too_new_hours").message() ==
        "too_new_hours must be a whole number from 0 to 8760");
  CHECK(SetPolicyOption(policy, "too_new_hours", "1.5", "too_new_hours").message() ==
        "too_new_hours must be a whole number from 0 to 8760");
  CHECK(SetPolicyOption(policy, "fail_on", "none", "fail_on").ok());
  CHECK(policy.fail_on.empty());
  CHECK(SetPolicyOption(policy, "fail_on", "evil", "--fail-on")
            .message()
            .starts_with("--fail-on: 'evil' is not one of"));
  CHECK(SetPolicyOption(policy, "ignore", "x", "ignore").message() == "ignore is not a policy setting");
}

}  // namespace pkgtrust::check
