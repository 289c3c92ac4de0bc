// Maven XML with pugixml (a small DOM parser from Debian); Go proxy answers are plain
// text and tiny JSON objects.
#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <nlohmann/json.hpp>
#include <pugixml.hpp>

#include "pkgtrust/core/json_limits.hpp"
#include "pkgtrust/core/time.hpp"
#include "pkgtrust/registry/parsers.hpp"

namespace pkgtrust::registry {
namespace {

std::string Text(const pugi::xml_node& node, const char* child) {
  std::string text = node.child(child).text().get();
  auto start = text.find_first_not_of(" \t\r\n");
  auto end = text.find_last_not_of(" \t\r\n");
  return start == std::string::npos ? std::string() : text.substr(start, end - start + 1);
}

core::Result<pugi::xml_document> LoadXml(std::string_view xml, const char* what) {
  pugi::xml_document doc;
  pugi::xml_parse_result parsed =
      doc.load_buffer(xml.data(), xml.size(), pugi::parse_default, pugi::encoding_auto);
  if (!parsed)
    return core::Status::InvalidArgument(
        fmt::format("{} is not well-formed XML: {} at byte {}", what, parsed.description(), parsed.offset));
  return doc;
}

}  // namespace

core::Result<MavenMetadata> ParseMavenMetadata(std::string_view xml) {
  auto doc = LoadXml(xml, "maven-metadata.xml");
  if (!doc.ok()) return doc.status();
  pugi::xml_node metadata = doc->child("metadata");
  pugi::xml_node versioning = metadata.child("versioning");
  if (!metadata || !versioning)
    return core::Status::InvalidArgument("maven-metadata.xml has no <versioning>");
  MavenMetadata out;
  for (pugi::xml_node v : versioning.child("versions").children("version")) {
    std::string version = v.text().get();
    if (!version.empty()) out.versions.push_back(version);
  }
  out.latest = Text(versioning, "release");
  if (out.latest.empty()) out.latest = Text(versioning, "latest");
  if (out.latest.empty() && !out.versions.empty()) out.latest = out.versions.back();
  std::string updated = Text(versioning, "lastUpdated");  // yyyyMMddHHmmss
  if (updated.size() == 14)
    out.last_updated =
        core::ParseTimestamp(fmt::format("{}-{}-{}T{}:{}:{}Z", updated.substr(0, 4), updated.substr(4, 2),
                                         updated.substr(6, 2), updated.substr(8, 2), updated.substr(10, 2),
                                         updated.substr(12, 2)))
            .value_or(0);
  return out;
}

core::Result<MavenPom> ParseMavenPom(std::string_view xml) {
  auto doc = LoadXml(xml, "POM");
  if (!doc.ok()) return doc.status();
  pugi::xml_node project = doc->child("project");
  if (!project) return core::Status::InvalidArgument("POM has no <project>");
  MavenPom pom;
  pom.group_id = Text(project, "groupId");
  pom.artifact_id = Text(project, "artifactId");
  pom.version = Text(project, "version");
  pom.name = Text(project, "name");
  pom.description = Text(project, "description");
  pom.url = Text(project, "url");
  pugi::xml_node scm = project.child("scm");
  for (const char* field : {"url", "connection", "developerConnection"})
    if (pom.scm.empty()) pom.scm = Text(scm, field);
  for (pugi::xml_node license : project.child("licenses").children("license")) {
    std::string name = Text(license, "name");
    if (!name.empty()) pom.licenses.push_back(name);
  }
  for (pugi::xml_node dev : project.child("developers").children("developer")) {
    std::string who = Text(dev, "id");
    if (who.empty()) who = Text(dev, "name");
    if (!who.empty()) pom.developers.push_back(who);
  }
  pugi::xml_node parent = project.child("parent");
  pom.parent_group_id = Text(parent, "groupId");
  pom.parent_artifact_id = Text(parent, "artifactId");
  pom.parent_version = Text(parent, "version");
  if (pom.group_id.empty()) pom.group_id = pom.parent_group_id;
  if (pom.version.empty()) pom.version = pom.parent_version;
  return pom;
}

std::vector<std::string> ParseGoVersionList(std::string_view text) {
  std::vector<std::string> versions;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(start, end - start);
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.remove_suffix(1);
    if (auto space = line.find(' '); space != std::string_view::npos) line = line.substr(0, space);
    if (line.size() > 1 && line.front() == 'v') versions.emplace_back(line);
    start = end + 1;
  }
  std::sort(versions.begin(), versions.end(),
            [](const std::string& a, const std::string& b) { return CompareGoVersions(a, b) < 0; });
  versions.erase(std::unique(versions.begin(), versions.end()), versions.end());
  return versions;
}

core::Result<GoVersionInfo> ParseGoInfo(std::string_view text) {
  auto j = core::JsonNestingWithin(text) ? nlohmann::json::parse(text, nullptr, false)
                                         : nlohmann::json(nlohmann::json::value_t::discarded);
  if (!j.is_object() || !j.contains("Version") || !j["Version"].is_string())
    return core::Status::InvalidArgument("Go proxy .info answer has no \"Version\"");
  GoVersionInfo info{j["Version"].get<std::string>()};
  if (j.contains("Time") && j["Time"].is_string())
    info.time = core::ParseTimestamp(j["Time"].get<std::string>()).value_or(0);
  return info;
}

GoMod ParseGoMod(std::string_view text) {
  GoMod mod;
  bool in_retract_block = false;
  std::size_t start = 0;
  auto add_retraction = [&](std::string_view spec) {
    if (auto comment = spec.find("//"); comment != std::string_view::npos) spec = spec.substr(0, comment);
    auto trim = [](std::string_view s) {
      while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
      while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
      return s;
    };
    spec = trim(spec);
    if (spec.empty()) return;
    if (spec.front() == '[' && spec.back() == ']') {
      std::string_view inner = spec.substr(1, spec.size() - 2);
      auto comma = inner.find(',');
      if (comma == std::string_view::npos) return;
      mod.retracted.emplace_back(std::string(trim(inner.substr(0, comma))),
                                 std::string(trim(inner.substr(comma + 1))));
    } else {
      mod.retracted.emplace_back(std::string(spec), std::string(spec));
    }
  };
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(start, end - start);
    start = end + 1;
    while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
    if (in_retract_block) {
      if (line.starts_with(")"))
        in_retract_block = false;
      else
        add_retraction(line);
    } else if (line.starts_with("module ")) {
      std::string_view path = line.substr(7);
      if (auto comment = path.find("//"); comment != std::string_view::npos) path = path.substr(0, comment);
      while (!path.empty() && (path.back() == ' ' || path.back() == '\r')) path.remove_suffix(1);
      if (path.size() > 1 && path.front() == '"' && path.back() == '"')
        path = path.substr(1, path.size() - 2);
      mod.module = std::string(path);
    } else if (line.starts_with("retract")) {
      std::string_view rest = line.substr(7);
      while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
      if (rest.starts_with("("))
        in_retract_block = true;
      else
        add_retraction(rest);
    }
  }
  return mod;
}

int CompareGoVersions(std::string_view a, std::string_view b) {
  auto split = [](std::string_view v, std::string_view* core_part, std::string_view* pre) {
    if (!v.empty() && v.front() == 'v') v.remove_prefix(1);
    if (auto plus = v.find('+'); plus != std::string_view::npos) v = v.substr(0, plus);
    auto dash = v.find('-');
    *core_part = v.substr(0, dash);
    *pre = dash == std::string_view::npos ? std::string_view() : v.substr(dash + 1);
  };
  std::string_view ac, ap, bc, bp;
  split(a, &ac, &ap);
  split(b, &bc, &bp);
  for (int i = 0; i < 3; ++i) {
    auto next = [](std::string_view& s) {
      std::int64_t n = 0;
      auto dot = s.find('.');
      std::string_view part = s.substr(0, dot);
      std::from_chars(part.data(), part.data() + part.size(), n);
      s = dot == std::string_view::npos ? std::string_view() : s.substr(dot + 1);
      return n;
    };
    std::int64_t x = next(ac), y = next(bc);
    if (x != y) return x < y ? -1 : 1;
  }
  if (ap.empty() != bp.empty()) return ap.empty() ? 1 : -1;  // a release sorts after its pre-releases
  return ap < bp ? -1 : (ap > bp ? 1 : 0);
}

bool IsRetracted(const GoMod& mod, std::string_view version) {
  for (const auto& [low, high] : mod.retracted)
    if (CompareGoVersions(version, low) >= 0 && CompareGoVersions(version, high) <= 0) return true;
  return false;
}

}  // namespace pkgtrust::registry
