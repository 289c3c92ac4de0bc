#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <set>

#include "pkgtrust/check/check.hpp"
#include "pkgtrust/core/ecosystem.hpp"
#include "pkgtrust/core/package_name.hpp"
#include "pkgtrust/core/purl.hpp"
#include "pkgtrust/core/time.hpp"

namespace pkgtrust::check {

using json = nlohmann::json;

namespace {

constexpr std::string_view kConcernNames[] = {"malicious", "typosquat", "yanked",  "deprecated",
                                              "too_new",   "low_score", "pending", "missing"};
constexpr std::string_view kOutcomeNames[] = {"judged",       "pending",  "not_found",
                                              "not_registry", "unscored", "invalid"};

// Reports come from a server or a database: read them without trusting their shape.
const json& Member(const json& object, const char* key) {
  static const json kNull;
  if (!object.is_object()) return kNull;
  auto it = object.find(key);
  return it == object.end() ? kNull : *it;
}
std::string Text(const json& object, const char* key) {
  const json& value = Member(object, key);
  return value.is_string() ? value.get<std::string>() : std::string();
}
bool Flag(const json& object, const char* key) {
  const json& value = Member(object, key);
  return value.is_boolean() && value.get<bool>();
}

// "2026-12-07" for a time, in UTC: ignore entries expire at the end of their day.
std::string DayOf(core::Millis millis) { return core::FormatTimestamp(millis).substr(0, 10); }

// The advisories that name the locked version, with their summaries.
std::string AdvisoryText(const json& report, const json& ids) {
  std::vector<std::string> parts;
  if (!ids.is_array()) return "";
  for (const json& id : ids) {
    if (!id.is_string()) continue;
    std::string summary;
    const json& advisories = Member(report, "advisories");
    if (advisories.is_array())
      for (const json& advisory : advisories)
        if (Text(advisory, "id") == id.get<std::string>()) summary = Text(advisory, "summary");
    parts.push_back(summary.empty() ? id.get<std::string>()
                                    : fmt::format("{} ({})", id.get<std::string>(), summary));
  }
  return fmt::format("{}", fmt::join(parts, "; "));
}

// The reasons that took the most from the score, as the report gives them.
std::string TopPenalties(const json& explanation) {
  std::vector<std::pair<double, std::string>> penalties;
  if (explanation.is_array())
    for (const json& entry : explanation) {
      const json& effect = Member(entry, "effect");
      if (effect.is_number() && effect.get<double>() < 0)
        penalties.emplace_back(effect.get<double>(), Text(entry, "reason"));
    }
  std::stable_sort(penalties.begin(), penalties.end());
  std::vector<std::string> parts;
  for (std::size_t i = 0; i < penalties.size() && i < 3; ++i)
    parts.push_back(fmt::format("{} ({:+.1f})", penalties[i].second, penalties[i].first));
  return fmt::format("{}", fmt::join(parts, "; "));
}

void Apply(const Policy& policy, const std::string& purl, const std::string& bare, core::Millis now,
           Finding& finding) {
  finding.fails = policy.Fails(finding.concern);
  std::string today = DayOf(now);
  for (const IgnoreEntry& entry : policy.ignore) {
    if (entry.package != bare && entry.package != purl) continue;
    if (!entry.concerns.empty() &&
        std::find(entry.concerns.begin(), entry.concerns.end(), finding.concern) == entry.concerns.end())
      continue;
    if (entry.expires < today) {
      finding.expired = fmt::format("the ignore entry for {} ({}:{}) expired on {}: no longer ignored",
                                    entry.package, policy.source, entry.line, entry.expires);
      continue;
    }
    finding.fails = false;
    finding.ignored = fmt::format("ignored until {}: {}", entry.expires, entry.reason);
    finding.expired.clear();
    return;
  }
}

}  // namespace

std::string_view ConcernName(Concern concern) { return kConcernNames[static_cast<int>(concern)]; }

std::optional<Concern> ConcernFromName(std::string_view name) {
  for (Concern concern : kAllConcerns)
    if (ConcernName(concern) == name) return concern;
  return std::nullopt;
}

std::string ConcernNames() {
  std::vector<std::string_view> names;
  for (Concern concern : kAllConcerns) names.push_back(ConcernName(concern));
  return fmt::format("{}", fmt::join(names, ", "));
}

core::Result<std::vector<Concern>> ParseConcernList(std::string_view text) {
  std::vector<Concern> concerns;
  if (text == "none") return concerns;
  while (!text.empty()) {
    std::size_t comma = text.find(',');
    std::string_view name = text.substr(0, comma);
    text = comma == std::string_view::npos ? std::string_view() : text.substr(comma + 1);
    if (name.empty()) continue;
    auto concern = ConcernFromName(name);
    if (!concern)
      return core::Status::InvalidArgument(
          fmt::format("'{}' is not one of {}", name.substr(0, 40), ConcernNames()));
    concerns.push_back(*concern);
  }
  return concerns;
}

std::string CanonicalPurl(const core::Purl& purl, bool with_version) {
  std::string_view version = with_version ? std::string_view(purl.version) : std::string_view();
  if (auto key = core::PackageKeyFromPurl(purl); key.ok())
    return core::FormatPurl(core::PurlFromPackageKey(*key, version));
  core::Purl bare = purl;
  bare.version = std::string(version);
  bare.qualifiers.clear();
  bare.subpath.clear();
  return core::FormatPurl(bare);
}

std::string_view OutcomeName(Outcome outcome) { return kOutcomeNames[static_cast<int>(outcome)]; }

bool Policy::Fails(Concern concern) const {
  return std::find(fail_on.begin(), fail_on.end(), concern) != fail_on.end();
}

bool DependencyVerdict::Fails() const {
  return std::any_of(findings.begin(), findings.end(), [](const Finding& f) { return f.fails; });
}

int DependencyVerdict::Severity() const {
  int worst = static_cast<int>(std::size(kAllConcerns));
  for (const Finding& finding : findings)
    if (finding.ignored.empty()) worst = std::min(worst, static_cast<int>(finding.concern));
  return worst;
}

bool ShouldLookUp(const lockfile::LockedDependency& dependency, Outcome* outcome, std::string* detail) {
  if (dependency.origin != lockfile::Origin::kRegistry) {
    *outcome = Outcome::kNotRegistry;
    *detail = fmt::format("{}{}{}", lockfile::OriginName(dependency.origin),
                          dependency.origin_detail.empty() ? "" : ": ", dependency.origin_detail);
    return false;
  }
  auto key = core::PackageKeyFromPurl(dependency.purl);
  if (!key.ok()) {
    bool scored_type = false;
    for (core::Ecosystem ecosystem : core::kAllEcosystems)
      scored_type = scored_type || core::PurlType(ecosystem) == dependency.purl.type;
    *outcome = scored_type ? Outcome::kInvalid : Outcome::kUnscored;
    *detail = scored_type ? key.status().message()
                          : fmt::format("purl type '{}' is not scored", dependency.purl.type);
    return false;
  }
  // The API refuses such versions: say why here instead of sending them.
  const std::string& version = dependency.purl.version;
  bool printable = std::all_of(version.begin(), version.end(),
                               [](char c) { return static_cast<unsigned char>(c) > 0x20 && c != 0x7f; });
  if (version.size() > 256 || !printable) {
    *outcome = Outcome::kInvalid;
    *detail = version.size() > 256 ? "the version is longer than 256 bytes"
                                   : "the version has spaces or control characters";
    return false;
  }
  return true;
}

DependencyVerdict NotLookedUp(const lockfile::LockedDependency& dependency, Outcome outcome,
                              std::string detail) {
  DependencyVerdict verdict;
  verdict.dependency = dependency;
  verdict.purl = core::FormatPurl(dependency.purl);
  verdict.outcome = outcome;
  verdict.detail = std::move(detail);
  return verdict;
}

DependencyVerdict Judge(const lockfile::LockedDependency& dependency, const json& report,
                        const Policy& policy, core::Millis now) {
  DependencyVerdict verdict = NotLookedUp(dependency, Outcome::kJudged);
  const std::string& locked = dependency.purl.version;
  std::string bare = CanonicalPurl(dependency.purl, false);
  std::string versioned = CanonicalPurl(dependency.purl, true);
  auto add = [&](Concern concern, std::string message) {
    Finding finding{concern, std::move(message)};
    Apply(policy, versioned, bare, now, finding);
    verdict.findings.push_back(std::move(finding));
  };
  std::string status = Text(report, "status");
  if (!Member(report, "score").is_object()) {
    if (status == "not_found") {
      verdict.outcome = Outcome::kNotFound;
      add(Concern::kMissing, fmt::format("{} is not in its registry", bare));
    } else if (status == "invalid") {
      verdict.outcome = Outcome::kInvalid;
      verdict.detail = Text(Member(report, "error"), "message");
    } else {
      verdict.outcome = Outcome::kPending;
      verdict.detail = status.empty() ? "no answer" : status;
      if (status == "error") verdict.detail += ": " + Text(Member(report, "error"), "message");
      add(Concern::kPending, fmt::format("no report yet ({})", verdict.detail));
    }
    return verdict;
  }

  const json& flags = Member(report, "flags");
  const json& version = Member(report, "version");
  const json& score = Member(report, "score");
  verdict.explanation =
      Member(score, "explanation").is_array() ? Member(score, "explanation") : json::array();
  if (Member(score, "value").is_number()) verdict.score = Member(score, "value").get<double>();

  if (!locked.empty() && version.is_object()) {
    // The locked version's own facts: an advisory naming other versions does not apply.
    if (Member(version, "score").is_number()) verdict.score = Member(version, "score").get<double>();
    if (Flag(version, "malicious"))
      add(Concern::kMalicious, fmt::format("version {} is malicious: {}", locked,
                                           AdvisoryText(report, Member(version, "advisories"))));
    if (!Flag(version, "exists"))
      add(Concern::kMissing, fmt::format("the registry does not list version {}", locked));
    if (Flag(version, "yanked")) add(Concern::kYanked, fmt::format("version {} is yanked", locked));
    if (std::string message = Text(version, "deprecated"); !message.empty())
      add(Concern::kDeprecated, fmt::format("version {} is deprecated: {}", locked, message));
    if (auto published = core::ParseTimestamp(Text(version, "published"))) {
      double hours = static_cast<double>(now - *published) / 3'600'000.0;
      if (hours < policy.too_new_hours)
        add(Concern::kTooNew,
            fmt::format("version {} was published {:.0f} hours ago (the policy asks for {})", locked,
                        std::max(hours, 0.0), policy.too_new_hours));
    }
  } else {
    // No version locked (a range, a managed version): what holds for the package as a whole.
    if (Flag(flags, "malicious"))
      add(Concern::kMalicious, fmt::format("the package is malicious: {}",
                                           AdvisoryText(report, json::array({Text(flags, "advisory")}))));
    if (Flag(flags, "deprecated"))
      add(Concern::kDeprecated,
          fmt::format("the package is deprecated: {}", Text(flags, "deprecation_message")));
  }
  if (Flag(flags, "typosquatting")) {
    std::string rule = Text(flags, "looks_like_rule");
    add(Concern::kTyposquat, fmt::format("the name looks like the popular package {}{}",
                                         Text(flags, "looks_like"), rule.empty() ? "" : " (" + rule + ")"));
  }
  if (policy.min_score && verdict.score && *verdict.score < *policy.min_score) {
    std::string penalties = TopPenalties(verdict.explanation);
    add(Concern::kLowScore, fmt::format("score {:.1f} is below the minimum {:.1f}{}{}", *verdict.score,
                                        *policy.min_score, penalties.empty() ? "" : ": ", penalties));
  }
  std::stable_sort(verdict.findings.begin(), verdict.findings.end(),
                   [](const Finding& a, const Finding& b) { return a.concern < b.concern; });
  return verdict;
}

void SortWorstFirst(std::vector<DependencyVerdict>& verdicts) {
  std::stable_sort(verdicts.begin(), verdicts.end(),
                   [](const DependencyVerdict& a, const DependencyVerdict& b) {
                     bool a_fails = a.Fails(), b_fails = b.Fails();
                     if (a_fails != b_fails) return a_fails;
                     if (a.Severity() != b.Severity()) return a.Severity() < b.Severity();
                     double a_score = a.score.value_or(11), b_score = b.score.value_or(11);
                     if (a_score != b_score) return a_score < b_score;
                     return a.purl < b.purl;
                   });
}

std::vector<Lookup> LookupsFor(const std::vector<lockfile::LockedDependency>& dependencies) {
  std::vector<Lookup> lookups;
  std::set<std::string> seen;
  Outcome outcome;
  std::string detail;
  for (const lockfile::LockedDependency& dependency : dependencies) {
    if (!ShouldLookUp(dependency, &outcome, &detail)) continue;
    std::string purl = core::FormatPurl(dependency.purl);
    if (!seen.insert(purl).second) continue;
    lookups.push_back({std::move(purl), *core::PackageKeyFromPurl(dependency.purl), dependency.purl.version});
  }
  return lookups;
}

std::vector<DependencyVerdict> JudgeAll(const std::vector<lockfile::LockedDependency>& dependencies,
                                        const std::map<std::string, json>& reports, const Policy& policy,
                                        core::Millis now) {
  static const json kNoAnswer = {{"status", "pending"}};
  std::vector<DependencyVerdict> verdicts;
  verdicts.reserve(dependencies.size());
  for (const lockfile::LockedDependency& dependency : dependencies) {
    Outcome outcome = Outcome::kJudged;
    std::string detail;
    if (!ShouldLookUp(dependency, &outcome, &detail)) {
      verdicts.push_back(NotLookedUp(dependency, outcome, std::move(detail)));
      continue;
    }
    auto it = reports.find(core::FormatPurl(dependency.purl));
    verdicts.push_back(Judge(dependency, it == reports.end() ? kNoAnswer : it->second, policy, now));
  }
  SortWorstFirst(verdicts);
  return verdicts;
}

int ExitCodeOf(const CheckResult& result) {
  if (!result.errors.empty()) return kExitInputError;
  for (const DependencyVerdict& verdict : result.verdicts)
    if (verdict.Fails()) return kExitPolicyViolated;
  return kExitPassed;
}

}  // namespace pkgtrust::check
