#include "pkgtrust/gateway/npm_audit.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "core/json_document.hpp"
#include "pkgtrust/core/package_name.hpp"
#include "pkgtrust/core/version.hpp"

namespace pkgtrust::gateway {

std::string NpmVulnerableRange(const scoring::OsvAffected& affected) {
  if (affected.AllVersions()) return "*";
  // A listed version npm cannot read as one version ("1.0" would be the X-range 1.0.x) is left out.
  std::vector<std::string> parts;
  for (const std::string& v : affected.versions)
    if (core::IsValidVersion(core::Ecosystem::kNpm, v)) parts.push_back(v);
  for (const scoring::OsvRange& range : affected.ranges) {
    if (range.type != "SEMVER" && range.type != "ECOSYSTEM") continue;
    // In version order, as OSV evaluates them (scoring::OsvAffected::Affects does the same).
    std::vector<std::pair<std::string, std::string>> events;
    for (const auto& event : range.events)
      if (event.second == "0" || core::IsValidVersion(core::Ecosystem::kNpm, event.second))
        events.push_back(event);
    std::stable_sort(events.begin(), events.end(), [](const auto& a, const auto& b) {
      if (a.second == "0" || b.second == "0") return a.second == "0" && b.second != "0";
      return core::CompareVersions(core::Ecosystem::kNpm, a.second, b.second).value_or(0) < 0;
    });
    std::string lower;
    bool open = false;
    for (const auto& [event, version] : events) {
      if (event == "introduced") {
        lower = version == "0" ? ">=0.0.0-0" : ">=" + version;
        open = true;
      } else if (open && (event == "fixed" || event == "last_affected")) {
        parts.push_back(fmt::format("{} {}{}", lower, event == "fixed" ? "<" : "<=", version));
        open = false;
      }
    }
    if (open) parts.push_back(lower);
  }
  return fmt::format("{}", fmt::join(parts, " || "));
}

std::int64_t NpmAdvisoryNumber(std::string_view osv_id) {
  std::uint32_t hash = 2166136261u;  // FNV-1a
  for (unsigned char c : osv_id) {
    hash ^= c;
    hash *= 16777619u;
  }
  return static_cast<std::int64_t>(hash & 0x7fffffffu);
}

core::Result<std::string> AnswerNpmAuditBulk(std::string_view body, const AdvisoriesOf& advisories_of) {
  core::JsonDocument doc(body);
  simdjson::dom::object request;
  if (!doc.ok() || doc.root().get(request) != simdjson::SUCCESS)
    return core::Status::InvalidArgument(
        "the audit request is not a JSON object of package names to versions");
  if (request.size() > kMaxAuditPackages)
    return core::Status::InvalidArgument(fmt::format(
        "the audit request names {} packages; at most {} are answered", request.size(), kMaxAuditPackages));
  nlohmann::json answer = nlohmann::json::object();
  for (auto [name, versions_value] : request) {
    simdjson::dom::array versions_array;
    if (versions_value.get(versions_array) != simdjson::SUCCESS)
      return core::Status::InvalidArgument(fmt::format(
          "the audit request's entry for '{}' is not a list of versions", std::string(name).substr(0, 100)));
    auto key = core::MakePackageKey(core::Ecosystem::kNpm, name);
    if (!key.ok()) continue;
    std::vector<std::string> versions;
    for (simdjson::dom::element v : versions_array) {
      std::string_view text;
      if (v.get(text) == simdjson::SUCCESS) versions.emplace_back(text);
    }
    auto advisories = advisories_of(*key);
    if (!advisories.ok()) return advisories.status();
    nlohmann::json found = nlohmann::json::array();
    for (const PackageKnowledge::Advisory& advisory : *advisories) {
      bool names_one = false;
      for (const std::string& v : versions)
        names_one = names_one || advisory.affected.Affects(key->ecosystem, v);
      std::string range = NpmVulnerableRange(advisory.affected);
      if (!names_one || range.empty()) continue;
      found.push_back({{"id", NpmAdvisoryNumber(advisory.id)},
                       {"url", "https://osv.dev/vulnerability/" + advisory.id},
                       {"title", fmt::format("Malicious package ({}){}", advisory.id,
                                             advisory.summary.empty() ? "" : ": " + advisory.summary)},
                       {"severity", "critical"},
                       {"vulnerable_versions", range},
                       {"cwe", {"CWE-506"}},
                       {"cvss", {{"score", 0}, {"vectorString", nullptr}}}});
    }
    if (!found.empty()) answer[std::string(name)] = std::move(found);
  }
  return answer.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace pkgtrust::gateway
