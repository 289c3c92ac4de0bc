// The gateway's policy: each rule on both sides of its condition, the order of the rules,
// monitor mode, and allow and deny list entries (names, globs, purls).
#include "pkgtrust/gateway/policy.hpp"

#include <catch2/catch.hpp>

using namespace pkgtrust;
using gateway::Action;

namespace {

constexpr core::Millis kHour = 3'600'000;
constexpr core::Millis kNow = 1'767'225'600'000;  // 2026-01-01T00:00:00Z

gateway::PackageKnowledge Known(std::string name) {
  gateway::PackageKnowledge k;
  k.key = {core::Ecosystem::kNpm, std::move(name)};
  k.checked = true;
  return k;
}

gateway::ListEntry Entry(std::string_view pattern, std::string reason = "because") {
  auto entry = gateway::ParseListEntry(pattern, std::move(reason));
  REQUIRE(entry.ok());
  return *entry;
}

}  // namespace

TEST_CASE("gateway policy: a malicious advisory blocks the versions it names, and only those", "[gateway]") {
  gateway::Policy policy;
  auto pkg = Known("evil-pkg");
  scoring::OsvAffected affected;
  affected.versions = {"1.0.1"};
  pkg.advisories.push_back({"MAL-2025-1", "steals tokens", affected});
  auto named = gateway::Decide(policy, pkg, "1.0.1", 0, kNow);
  CHECK(named.refused);
  CHECK(named.rule == "malicious");
  CHECK(named.reason == "evil-pkg 1.0.1 is malicious: advisory MAL-2025-1 (steals tokens)");
  auto other = gateway::Decide(policy, pkg, "1.0.0", 0, kNow);
  CHECK_FALSE(other.refused);
  CHECK(other.action == Action::kOff);
  // An advisory listing no version names every one.
  pkg.advisories[0].affected = {};
  CHECK(gateway::Decide(policy, pkg, "1.0.0", 0, kNow).refused);
  // Configured to warn: allowed, with the reason.
  policy.malicious = Action::kWarn;
  auto warned = gateway::Decide(policy, pkg, "1.0.0", 0, kNow);
  CHECK_FALSE(warned.refused);
  CHECK(warned.action == Action::kWarn);
}

TEST_CASE("gateway policy: the release age refuses a version younger than the minimum, not one as old",
          "[gateway]") {
  gateway::Policy policy;
  policy.min_release_age_hours = 48;
  auto pkg = Known("fresh");
  auto young = gateway::Decide(policy, pkg, "2.0.0", kNow - 48 * kHour + 1, kNow);
  CHECK(young.refused);
  CHECK(young.rule == "min_release_age");
  CHECK(young.reason ==
        "fresh 2.0.0 was published 47 hours ago, less than the 2 days a release must age here");
  CHECK_FALSE(gateway::Decide(policy, pkg, "2.0.0", kNow - 48 * kHour, kNow).refused);
  // No publish time: the rule cannot apply.
  CHECK_FALSE(gateway::Decide(policy, pkg, "2.0.0", 0, kNow).refused);
  policy.min_release_age_hours = 0;
  CHECK_FALSE(gateway::Decide(policy, pkg, "2.0.0", kNow, kNow).refused);
}

TEST_CASE("gateway policy: the minimum score blocks below it, not at it; absent score never blocks",
          "[gateway]") {
  gateway::Policy policy;
  policy.min_score = 4.0;
  auto pkg = Known("meh");
  pkg.score = 3.9;
  auto low = gateway::Decide(policy, pkg, "1.0.0", 0, kNow);
  CHECK(low.refused);
  CHECK(low.reason == "meh scores 3.9, below the minimum of 4.0");
  pkg.score = 4.0;
  CHECK_FALSE(gateway::Decide(policy, pkg, "1.0.0", 0, kNow).refused);
  pkg.score.reset();
  CHECK_FALSE(gateway::Decide(policy, pkg, "1.0.0", 0, kNow).refused);
}

TEST_CASE("gateway policy: a typosquat warns by default and blocks when configured", "[gateway]") {
  gateway::Policy policy;
  auto pkg = Known("lodahs");
  pkg.looks_like = "lodash";
  auto warned = gateway::Decide(policy, pkg, "1.0.0", 0, kNow);
  CHECK(warned.action == Action::kWarn);
  CHECK_FALSE(warned.refused);
  CHECK(warned.reason == "lodahs looks like the popular package lodash (possible typosquat)");
  policy.typosquat = Action::kBlock;
  CHECK(gateway::Decide(policy, pkg, "1.0.0", 0, kNow).refused);
  policy.typosquat = Action::kOff;
  CHECK(gateway::Decide(policy, pkg, "1.0.0", 0, kNow).action == Action::kOff);
}

TEST_CASE("gateway policy: a block wins over an earlier warning; monitor mode refuses nothing", "[gateway]") {
  gateway::Policy policy;
  policy.min_score = 5;
  auto pkg = Known("lodahs");
  pkg.looks_like = "lodash";  // warn
  pkg.score = 1.0;            // block
  auto d = gateway::Decide(policy, pkg, "1.0.0", 0, kNow);
  CHECK(d.rule == "min_score");
  CHECK(d.refused);
  policy.monitor = true;
  auto monitored = gateway::Decide(policy, pkg, "1.0.0", 0, kNow);
  CHECK(monitored.rule == "min_score");
  CHECK(monitored.action == Action::kBlock);
  CHECK_FALSE(monitored.refused);
}

TEST_CASE("gateway policy: unscored packages pass unless configured to be denied", "[gateway]") {
  gateway::Policy policy;
  gateway::PackageKnowledge unknown;
  unknown.key = {core::Ecosystem::kPypi, "brand-new"};
  CHECK_FALSE(gateway::Decide(policy, unknown, "0.1", 0, kNow).refused);
  policy.deny_unscored = true;
  auto d = gateway::Decide(policy, unknown, "0.1", 0, kNow);
  CHECK(d.refused);
  CHECK(d.rule == "unscored");
  unknown.checked = true;
  CHECK_FALSE(gateway::Decide(policy, unknown, "0.1", 0, kNow).refused);
}

TEST_CASE("gateway policy: allow and deny lists by name, glob and purl", "[gateway]") {
  gateway::Policy policy;
  policy.deny = {Entry("@evil/*", "our red team's scope"), Entry("pkg:pypi/requests@2.0.0", "a bad build")};
  policy.allow = {Entry("npm:left-pad", "vendored and reviewed")};
  auto scoped = Known("@evil/x");
  auto denied = gateway::Decide(policy, scoped, "1.0.0", 0, kNow);
  CHECK(denied.refused);
  CHECK(denied.reason == "denied by '@evil/*': our red team's scope");
  CHECK_FALSE(gateway::Decide(policy, Known("@good/x"), "1.0.0", 0, kNow).refused);

  gateway::PackageKnowledge requests;
  requests.key = {core::Ecosystem::kPypi, "requests"};
  requests.checked = true;
  CHECK(gateway::Decide(policy, requests, "2.0.0", 0, kNow).refused);
  CHECK_FALSE(gateway::Decide(policy, requests, "2.0.1", 0, kNow).refused);
  requests.key.ecosystem = core::Ecosystem::kNpm;  // the purl names PyPI's requests only
  CHECK_FALSE(gateway::Decide(policy, requests, "2.0.0", 0, kNow).refused);

  // The allow list goes first: even a malicious advisory is not consulted.
  auto pad = Known("left-pad");
  pad.advisories.push_back({"MAL-1", "", {}});
  auto allowed = gateway::Decide(policy, pad, "1.3.0", 0, kNow);
  CHECK_FALSE(allowed.refused);
  CHECK(allowed.rule == "allow_list");
  policy.allow.clear();
  CHECK(gateway::Decide(policy, pad, "1.3.0", 0, kNow).refused);
}

TEST_CASE("gateway policy: list entries are checked when configured", "[gateway]") {
  CHECK(gateway::ParseListEntry("", "r").status().code() == core::StatusCode::kInvalidArgument);
  CHECK(gateway::ParseListEntry("pkg:npm", "r").status().message() ==
        "'pkg:npm' is not a purl (pkg:type/name)");
  CHECK(gateway::ParseListEntry("pkg:nuget/x", "r").status().message() ==
        "'pkg:nuget/x': unknown purl type 'nuget' (npm, pypi, cargo, maven, golang)");
  CHECK_FALSE(gateway::ParseListEntry("pkg:npm/%4", "r").ok());
  auto maven = gateway::ParseListEntry("pkg:maven/org.example/lib", "r");
  REQUIRE(maven.ok());
  CHECK(maven->pattern == "maven:org.example:lib");
  auto scoped = gateway::ParseListEntry("pkg:npm/%40acme/*@1.0.0", "r");
  REQUIRE(scoped.ok());
  CHECK(scoped->pattern == "npm:@acme/*");
  CHECK(scoped->version == "1.0.0");
  auto qualified = gateway::ParseListEntry("pkg:npm/evil@1.0.0?repository_url=x#sub", "r");
  REQUIRE(qualified.ok());
  CHECK(qualified->pattern == "npm:evil");
  CHECK(qualified->version == "1.0.0");
  CHECK(gateway::ParseAction("block") == Action::kBlock);
  CHECK_FALSE(gateway::ParseAction("deny").has_value());
}
