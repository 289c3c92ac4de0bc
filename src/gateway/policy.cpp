#include "pkgtrust/gateway/policy.hpp"

#include <fmt/format.h>

#include <cmath>

#include "pkgtrust/core/percent_encoding.hpp"
#include "pkgtrust/core/time.hpp"
#include "pkgtrust/scoring/model.hpp"

namespace pkgtrust::gateway {

std::optional<Action> ParseAction(std::string_view text) {
  if (text == "off") return Action::kOff;
  if (text == "warn") return Action::kWarn;
  if (text == "block") return Action::kBlock;
  return std::nullopt;
}

std::string_view ActionName(Action action) {
  switch (action) {
    case Action::kOff:
      return "off";
    case Action::kWarn:
      return "warn";
    case Action::kBlock:
      return "block";
  }
  return "off";
}

namespace {

bool Matches(const ListEntry& entry, const core::PackageKey& key, std::string_view version) {
  if (!entry.version.empty() && entry.version != version) return false;
  return !scoring::MatchInternalName(key, {entry.pattern}).empty();
}

std::string Hours(double hours) {
  return hours >= 48 ? fmt::format("{:.0f} days", hours / 24) : fmt::format("{:.0f} hours", hours);
}

}  // namespace

core::Result<ListEntry> ParseListEntry(std::string_view pattern, std::string reason) {
  ListEntry entry{std::string(pattern), "", std::move(reason), std::string(pattern)};
  if (pattern.empty()) return core::Status::InvalidArgument("an empty package pattern");
  if (!pattern.starts_with("pkg:")) return entry;
  // "pkg:TYPE/NAMESPACE/NAME@VERSION": the type names the ecosystem, the rest the name glob.
  std::string_view rest = pattern.substr(4);
  rest = rest.substr(0, rest.find_first_of("?#"));  // qualifiers and a subpath say nothing about the name
  std::size_t slash = rest.find('/');
  if (slash == std::string_view::npos || slash == 0 || slash + 1 == rest.size())
    return core::Status::InvalidArgument(fmt::format("'{}' is not a purl (pkg:type/name)", pattern));
  auto ecosystem = core::ParseEcosystem(rest.substr(0, slash));
  if (!ecosystem)
    return core::Status::InvalidArgument(fmt::format(
        "'{}': unknown purl type '{}' (npm, pypi, cargo, maven, golang)", pattern, rest.substr(0, slash)));
  std::string_view path = rest.substr(slash + 1);
  if (std::size_t at = path.rfind('@'); at != std::string_view::npos && at > 0) {
    auto version = core::PercentDecode(path.substr(at + 1));
    if (!version.ok() || version->empty())
      return core::Status::InvalidArgument(fmt::format("'{}': a malformed version", pattern));
    entry.version = *version;
    path = path.substr(0, at);
  }
  auto name = core::PercentDecode(path);
  if (!name.ok() || name->empty())
    return core::Status::InvalidArgument(fmt::format("'{}': a malformed name", pattern));
  // Maven purls write group/artifact; the service's Maven names are group:artifact.
  if (*ecosystem == core::Ecosystem::kMaven)
    if (std::size_t s = name->find('/'); s != std::string::npos) (*name)[s] = ':';
  entry.pattern = std::string(core::EcosystemName(*ecosystem)) + ":" + *name;
  return entry;
}

Decision Decide(const Policy& policy, const PackageKnowledge& package, std::string_view version,
                core::Millis published, core::Millis now) {
  for (const ListEntry& entry : policy.allow)
    if (Matches(entry, package.key, version))
      return {Action::kOff, "allow_list", fmt::format("allowed by '{}': {}", entry.written, entry.reason),
              false};

  std::vector<Decision> found;
  auto rule = [&](Action action, std::string name, std::string reason) {
    if (action != Action::kOff) found.push_back({action, std::move(name), std::move(reason), false});
  };
  for (const ListEntry& entry : policy.deny)
    if (Matches(entry, package.key, version)) {
      rule(Action::kBlock, "deny_list", fmt::format("denied by '{}': {}", entry.written, entry.reason));
      break;
    }
  for (const PackageKnowledge::Advisory& advisory : package.advisories)
    if (advisory.affected.Affects(package.key.ecosystem, version)) {
      rule(policy.malicious, "malicious",
           fmt::format("{} {} is malicious: advisory {}{}{}", package.key.name, version, advisory.id,
                       advisory.summary.empty() ? "" : " (",
                       advisory.summary.empty() ? "" : advisory.summary + ")"));
      break;
    }
  if (policy.min_release_age_hours > 0 && published > 0) {
    double age_hours = static_cast<double>(now - published) / 3'600'000.0;
    if (age_hours < policy.min_release_age_hours)
      rule(Action::kBlock, "min_release_age",
           fmt::format("{} {} was published {} ago, less than the {} a release must age here",
                       package.key.name, version, Hours(std::floor(std::max(0.0, age_hours))),
                       Hours(policy.min_release_age_hours)));
  }
  if (policy.min_score && package.score && *package.score < *policy.min_score)
    rule(policy.below_min_score, "min_score",
         fmt::format("{} scores {:.1f}, below the minimum of {:.1f}", package.key.name, *package.score,
                     *policy.min_score));
  if (!package.looks_like.empty())
    rule(policy.typosquat, "typosquat",
         fmt::format("{} looks like the popular package {} (possible typosquat)", package.key.name,
                     package.looks_like));
  if (!package.checked && policy.deny_unscored)
    rule(Action::kBlock, "unscored",
         fmt::format("{} has not been checked yet; try again shortly", package.key.name));

  for (Decision& d : found)
    if (d.action == Action::kBlock) {
      d.refused = !policy.monitor;
      return d;
    }
  if (!found.empty()) return found.front();
  return {};
}

}  // namespace pkgtrust::gateway
