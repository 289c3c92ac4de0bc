// Reports and dependencies for the check's tests, shaped as GET /v1/packages answers them.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "pkgtrust/check/check.hpp"
#include "pkgtrust/core/ecosystem.hpp"
#include "pkgtrust/core/time.hpp"

namespace pkgtrust::testing {

// 2026-12-07T12:00:00Z, the tests' "now".
inline constexpr core::Millis kCheckNow = 1796644800000;
inline constexpr core::Millis kHour = 3'600'000;

inline lockfile::LockedDependency Locked(std::string name, std::string version, int line = 7,
                                         core::Ecosystem ecosystem = core::Ecosystem::kNpm) {
  lockfile::LockedDependency dependency;
  dependency.purl = core::PurlFromPackageKey({ecosystem, std::move(name)}, version);
  dependency.file = "package-lock.json";
  dependency.line = line;
  return dependency;
}

// A complete report of score `score`, with the version section of `version` (clean,
// published 30 days before kCheckNow).
inline nlohmann::json Report(const std::string& name, double score, const std::string& version = "1.0.0") {
  nlohmann::json report = {
      {"ecosystem", "npm"},
      {"name", name},
      {"purl", "pkg:npm/" + name},
      {"status", "complete"},
      {"score",
       {{"value", score},
        {"explanation",
         {{{"effect", 2.0}, {"reason", "activity 5.0/10 (weight 40%)"}},
          {{"effect", -1.1}, {"reason", "the repository is archived"}},
          {{"effect", -0.4}, {"reason", "no provenance attestations"}}}}}},
      {"flags", {{"malicious", false}, {"typosquatting", false}, {"deprecated", false}, {"archived", true}}},
      {"advisories", nlohmann::json::array()}};
  if (!version.empty())
    report["version"] = {{"version", version},
                         {"exists", true},
                         {"published", core::FormatTimestamp(kCheckNow - 30 * 24 * kHour)},
                         {"yanked", false},
                         {"deprecated", nullptr},
                         {"malicious", false},
                         {"advisories", nlohmann::json::array()},
                         {"score", score}};
  return report;
}

inline std::vector<std::string> ConcernsOf(const check::DependencyVerdict& verdict) {
  std::vector<std::string> names;
  for (const auto& finding : verdict.findings) names.emplace_back(check::ConcernName(finding.concern));
  return names;
}

}  // namespace pkgtrust::testing
