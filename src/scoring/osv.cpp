#include "pkgtrust/scoring/osv.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "core/json_document.hpp"
#include "pkgtrust/core/package_name.hpp"
#include "pkgtrust/core/version.hpp"

namespace pkgtrust::scoring {
namespace {

bool Evaluated(const OsvRange& range) { return range.type == "SEMVER" || range.type == "ECOSYSTEM"; }

// OSV's evaluation of one range: walk its events in version order; "introduced" at or below
// the version opens it, "fixed" (or "limit") at or below closes it, "last_affected" below it
// closes it.
bool InRange(core::Ecosystem ecosystem, const OsvRange& range, std::string_view version) {
  std::vector<std::pair<std::string, std::string>> events;
  for (const auto& event : range.events)  // events the ecosystem cannot order are left out
    if (event.second == "0" || core::IsValidVersion(ecosystem, event.second)) events.push_back(event);
  auto key_less = [&](const std::pair<std::string, std::string>& a, const std::pair<std::string, std::string>& b) {
    if (a.second == "0" || b.second == "0") return a.second == "0" && b.second != "0";
    return core::CompareVersions(ecosystem, a.second, b.second).value_or(0) < 0;
  };
  std::stable_sort(events.begin(), events.end(), key_less);
  bool affected = false;
  for (const auto& [kind, at] : events) {
    int c = at == "0" ? 1 : core::CompareVersions(ecosystem, version, at).value_or(-1);
    if (kind == "introduced" && c >= 0)
      affected = true;
    else if ((kind == "fixed" || kind == "limit") && c >= 0)
      affected = false;
    else if (kind == "last_affected" && c > 0)
      affected = false;
  }
  return affected;
}

}  // namespace

bool OsvAffected::AllVersions() const {
  if (versions.empty() && ranges.empty()) return true;
  for (const OsvRange& range : ranges) {
    if (!Evaluated(range)) continue;
    bool from_zero = false, closed = false;
    for (const auto& [kind, at] : range.events) {
      if (kind == "introduced" && at == "0") from_zero = true;
      if (kind == "fixed" || kind == "last_affected" || kind == "limit") closed = true;
    }
    if (from_zero && !closed) return true;
  }
  return false;
}

bool OsvAffected::Affects(core::Ecosystem ecosystem, std::string_view version) const {
  if (AllVersions()) return true;
  if (std::find(versions.begin(), versions.end(), version) != versions.end()) return true;
  if (!core::IsValidVersion(ecosystem, version)) return false;
  for (const OsvRange& range : ranges)
    if (Evaluated(range) && InRange(ecosystem, range, version)) return true;
  return false;
}

std::string OsvAffected::VersionsJson() const { return nlohmann::json(versions).dump(); }

std::string OsvAffected::RangesJson() const {
  nlohmann::json out = nlohmann::json::array();
  for (const OsvRange& range : ranges) {
    nlohmann::json events = nlohmann::json::array();
    for (const auto& [kind, at] : range.events) events.push_back({{kind, at}});
    out.push_back({{"type", range.type}, {"events", std::move(events)}});
  }
  return out.dump();
}

namespace {

void ReadVersions(simdjson::dom::element list, std::vector<std::string>* out) {
  simdjson::dom::array items;
  if (!core::AsArray(list, items)) return;
  for (simdjson::dom::element v : items) {
    std::string_view s;
    if (v.get(s) == simdjson::SUCCESS && !s.empty() && s.size() <= 256) out->emplace_back(s);
  }
}

void ReadRanges(simdjson::dom::element list, std::vector<OsvRange>* out) {
  simdjson::dom::array items;
  if (!core::AsArray(list, items)) return;
  for (simdjson::dom::element r : items) {
    OsvRange range{core::StringAt(r, "type"), {}};
    simdjson::dom::array events;
    if (range.type.empty() || !core::AsArray(r["events"], events)) continue;
    for (simdjson::dom::element e : events) {
      simdjson::dom::object object;
      if (!core::AsObject(e, object)) continue;
      for (auto [kind, value] : object) {
        std::string_view at;
        if (value.get(at) == simdjson::SUCCESS && !at.empty() && at.size() <= 256)
          range.events.emplace_back(std::string(kind), std::string(at));
      }
    }
    out->push_back(std::move(range));
  }
}

}  // namespace

core::Result<OsvAffected> OsvAffected::FromColumns(std::string_view versions_json, std::string_view ranges_json) {
  OsvAffected out;
  core::JsonDocument versions(versions_json);
  if (!versions.ok() || !versions.root().is_array())
    return core::Status::InvalidArgument("stored advisory versions are not a JSON array");
  ReadVersions(versions.root().value_unsafe(), &out.versions);
  if (!ranges_json.empty()) {
    core::JsonDocument ranges(ranges_json);
    if (!ranges.ok() || !ranges.root().is_array())
      return core::Status::InvalidArgument("stored advisory ranges are not a JSON array");
    ReadRanges(ranges.root().value_unsafe(), &out.ranges);
  }
  return out;
}

core::Result<OsvAffected> OsvAffected::FromJson(std::string_view object_json) {
  core::JsonDocument doc(object_json);
  if (!doc.ok() || !doc.root().is_object())
    return core::Status::InvalidArgument("an advisory's affected versions are not a JSON object");
  OsvAffected out;
  simdjson::dom::element list;
  if (doc.root()["versions"].get(list) == simdjson::SUCCESS) ReadVersions(list, &out.versions);
  if (doc.root()["ranges"].get(list) == simdjson::SUCCESS) ReadRanges(list, &out.ranges);
  return out;
}

std::string OsvAffected::ToJson() const {
  return fmt::format(R"({{"versions":{},"ranges":{}}})", VersionsJson(), RangesJson());
}

core::Result<std::vector<MaliciousRecord>> ParseOsvRecord(std::string_view text, int* skipped) {
  core::JsonDocument doc(text);
  if (!doc.ok()) return core::Status::InvalidArgument(fmt::format("not JSON ({})", doc.error()));
  core::JsonValue root = doc.root();
  if (!root.is_object()) return core::Status::InvalidArgument("not a JSON object");
  std::string id = core::StringAt(root, "id");
  if (id.empty()) return core::Status::InvalidArgument("no \"id\"");
  if (!id.starts_with("MAL-"))
    return core::Status::InvalidArgument(
        fmt::format("{} is not a malicious-package record (MAL-...)", id.substr(0, 80)));
  simdjson::dom::array affected;
  if (!core::AsArray(root["affected"], affected))
    return core::Status::InvalidArgument(fmt::format("{} has no \"affected\" list", id));
  std::vector<MaliciousRecord> out;
  for (simdjson::dom::element entry : affected) {
    simdjson::dom::element package;
    if (entry["package"].get(package) != simdjson::SUCCESS || !package.is_object()) continue;
    auto eco = core::ParseEcosystem(core::StringAt(package, "ecosystem"));
    auto key = eco ? core::MakePackageKey(*eco, core::StringAt(package, "name"))
                   : core::Result<core::PackageKey>(core::Status::InvalidArgument("ecosystem"));
    if (!key.ok()) {
      if (skipped) ++*skipped;
      continue;
    }
    // A package named twice in one record: one row with both entries' versions and ranges.
    auto same = std::find_if(out.begin(), out.end(), [&](const MaliciousRecord& r) { return r.key == *key; });
    if (same == out.end()) {
      out.push_back({*key, id, core::StringAt(root, "summary"), core::StringAt(root, "published"),
                     core::StringAt(root, "modified"), core::StringAt(root, "withdrawn"), {}});
      same = out.end() - 1;
    }
    simdjson::dom::element list;
    if (entry["versions"].get(list) == simdjson::SUCCESS) ReadVersions(list, &same->affected.versions);
    if (entry["ranges"].get(list) == simdjson::SUCCESS) ReadRanges(list, &same->affected.ranges);
  }
  return out;
}

}  // namespace pkgtrust::scoring
