// SARIF 2.1.0 (OASIS), the format GitHub code scanning reads: one rule per concern, one
// result per finding at the lockfile line of its dependency, so a pull request that locks
// a bad version is annotated on that line. Ignored findings are kept as suppressed results
// with the ignore entry's reason, as the standard provides, rather than dropped.
#include <fmt/format.h>

#include <filesystem>

#include "pkgtrust/check/render.hpp"

namespace pkgtrust::check {

using json = nlohmann::json;

namespace {

struct RuleText {
  Concern concern;
  std::string_view title;
  std::string_view help;
};

constexpr RuleText kRules[] = {
    {Concern::kMalicious, "Malicious package version",
     "An advisory in force (OSV MAL-*) names the locked version. Remove it, or lock a version the advisory "
     "does not "
     "name, and treat the machines that installed it as compromised."},
    {Concern::kTyposquat, "Name imitates a popular package",
     "The name is close to a popular package's. Check that this is the package you meant to install."},
    {Concern::kYanked, "Locked version is yanked",
     "The registry withdrew the locked version. Lock another one."},
    {Concern::kDeprecated, "Locked version is deprecated",
     "The maintainers deprecated the locked version or the package. Their message says what to use instead."},
    {Concern::kTooNew, "Locked version is very new",
     "The locked version was published recently; compromised releases are usually caught within days."},
    {Concern::kLowScore, "Score below the minimum",
     "The package's supply-chain score is below the policy's min_score."},
    {Concern::kPending, "No report yet",
     "pkgtrust had no report for this package in time; it is being scored."},
    {Concern::kMissing, "Not in the registry",
     "The registry does not list the locked version (or the package): it may have been removed."},
};

std::string RuleId(Concern concern) { return "pkgtrust/" + std::string(ConcernName(concern)); }

// A path GitHub can match to a repository file: relative to `base`, with forward slashes.
std::string ArtifactUri(const std::string& file, std::string_view base) {
  namespace fs = std::filesystem;
  std::error_code error;
  fs::path absolute = fs::absolute(file, error);
  fs::path root = fs::absolute(fs::path(base), error);
  fs::path relative = absolute.lexically_normal().lexically_relative(root.lexically_normal());
  if (!relative.empty() && *relative.begin() != "..") return relative.generic_string();
  return "file://" + absolute.lexically_normal().generic_string();
}

}  // namespace

json RenderSarif(const CheckResult& result, std::string_view tool_version, std::string_view base) {
  json rules = json::array();
  for (const RuleText& rule : kRules) {
    bool fails = result.policy.Fails(rule.concern);
    rules.push_back({{"id", RuleId(rule.concern)},
                     {"name", ConcernName(rule.concern)},
                     {"shortDescription", {{"text", rule.title}}},
                     {"fullDescription", {{"text", rule.help}}},
                     {"help", {{"text", rule.help}}},
                     {"defaultConfiguration", {{"level", fails ? "error" : "warning"}}},
                     {"properties", {{"tags", {"security", "supply-chain"}}}}});
  }
  json results = json::array();
  for (const DependencyVerdict& verdict : result.verdicts)
    for (const Finding& finding : verdict.findings) {
      const lockfile::LockedDependency& dependency = verdict.dependency;
      json location = {{"artifactLocation", {{"uri", ArtifactUri(dependency.file, base)}}}};
      if (dependency.line > 0) location["region"] = {{"startLine", dependency.line}};
      json entry = {{"ruleId", RuleId(finding.concern)},
                    {"ruleIndex", static_cast<int>(finding.concern)},
                    {"level", result.policy.Fails(finding.concern) ? "error" : "warning"},
                    {"message", {{"text", fmt::format("{}: {}", verdict.purl, finding.message)}}},
                    {"locations", {{{"physicalLocation", std::move(location)}}}},
                    // One alert per file, package, version and concern across runs, whatever its line
                    // (two lockfiles of a monorepo that lock one version: two alerts).
                    {"partialFingerprints",
                     {{"pkgtrustFinding/v1", fmt::format("{}#{}#{}", ArtifactUri(dependency.file, base),
                                                         verdict.purl, RuleId(finding.concern))}}},
                    {"properties", {{"purl", verdict.purl}, {"fails", finding.fails}}}};
      if (!finding.ignored.empty())
        entry["suppressions"] = {{{"kind", "external"}, {"justification", finding.ignored}}};
      if (!finding.expired.empty()) entry["properties"]["expired_ignore"] = finding.expired;
      results.push_back(std::move(entry));
    }
  json artifacts = json::array();
  for (const std::string& file : result.files)
    artifacts.push_back({{"location", {{"uri", ArtifactUri(file, base)}}}});
  return {{"$schema", "https://json.schemastore.org/sarif-2.1.0.json"},
          {"version", "2.1.0"},
          {"runs",
           {{{"tool",
              {{"driver", {{"name", "pkgtrust"}, {"version", tool_version}, {"rules", std::move(rules)}}}}},
             {"artifacts", std::move(artifacts)},
             {"results", std::move(results)},
             {"properties", {{"summary", SummaryLine(result)}}}}}}};
}

json RenderSarifFailure(const CheckResult& result, std::string_view tool_version, std::string_view base,
                        std::string_view why) {
  json sarif = RenderSarif(result, tool_version, base);
  json notifications = json::array({{{"level", "error"}, {"message", {{"text", why}}}}});
  for (const InputError& error : result.errors)
    notifications.push_back(
        {{"level", "error"},
         {"message", {{"text", error.message}}},
         {"locations",
          {{{"physicalLocation", {{"artifactLocation", {{"uri", ArtifactUri(error.file, base)}}}}}}}}});
  sarif["runs"][0]["invocations"] = {
      {{"executionSuccessful", false}, {"toolExecutionNotifications", notifications}}};
  return sarif;
}

}  // namespace pkgtrust::check
