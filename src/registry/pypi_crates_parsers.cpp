// PyPI and crates.io documents are small (well under a megabyte): read as a DOM.
#include <fmt/format.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "pkgtrust/core/time.hpp"
#include "pkgtrust/registry/parsers.hpp"

namespace pkgtrust::registry {
namespace {

using json = nlohmann::json;

std::string Str(const json& object, const char* key) {
  auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

bool IsCodeHost(const std::optional<core::RepositoryRef>& ref) {
  return ref && (ref->host == "github.com" || ref->host == "gitlab.com" || ref->host == "bitbucket.org");
}

}  // namespace

core::Result<PackageFacts> ParsePypiProject(std::string_view body, const core::PackageKey& key) {
  json doc = json::parse(body, nullptr, false);
  if (!doc.is_object() || !doc.contains("info") || !doc["info"].is_object())
    return core::Status::InvalidArgument(fmt::format("PyPI document for {}: no \"info\" object", key.name));
  const json& info = doc["info"];
  PackageFacts facts;
  facts.key = key;
  facts.display_name = Str(info, "name");
  facts.description = Str(info, "summary");
  facts.license = Str(info, "license_expression");
  if (facts.license.empty()) facts.license = Str(info, "license");
  if (facts.license.size() > 200) facts.license = facts.license.substr(0, 200);  // some paste the whole text
  facts.homepage = Str(info, "home_page");
  facts.latest_version = Str(info, "version");
  for (const char* person : {"author", "maintainer"}) {
    std::string name = Str(info, person);
    if (!name.empty() &&
        std::find(facts.maintainers.begin(), facts.maintainers.end(), name) == facts.maintainers.end())
      facts.maintainers.push_back(name);
  }
  // The repository: the first project URL under a source-like label that points at a
  // code host, then any project URL or the home page that does.
  std::vector<std::pair<std::string, std::string>> urls;
  if (info.contains("project_urls") && info["project_urls"].is_object())
    for (auto& [label, url] : info["project_urls"].items())
      if (url.is_string()) urls.emplace_back(Lower(label), url.get<std::string>());
  static const char* kSourceLabels[] = {"source", "source code", "repository", "code", "github", "git"};
  for (const char* wanted : kSourceLabels)
    for (const auto& [label, url] : urls)
      if (label == wanted && facts.repository_declared.empty() && IsCodeHost(core::ParseRepositoryUrl(url)))
        facts.repository_declared = url;
  for (const auto& [label, url] : urls)
    if (facts.repository_declared.empty() && IsCodeHost(core::ParseRepositoryUrl(url)))
      facts.repository_declared = url;
  if (facts.repository_declared.empty() && IsCodeHost(core::ParseRepositoryUrl(facts.homepage)))
    facts.repository_declared = facts.homepage;

  if (doc.contains("releases") && doc["releases"].is_object()) {
    for (auto& [version, files] : doc["releases"].items()) {
      VersionFacts v{version};
      if (files.is_array() && !files.empty()) {
        bool all_yanked = true;
        for (const json& file : files) {
          if (!file.is_object()) continue;
          std::string uploaded = Str(file, "upload_time_iso_8601");
          if (uploaded.empty()) uploaded = Str(file, "upload_time");
          if (auto t = core::ParseTimestamp(uploaded); t && (v.published == 0 || *t < v.published))
            v.published = *t;
          all_yanked = all_yanked && file.value("yanked", false);
        }
        v.yanked = all_yanked;  // PEP 592: a release is yanked when all its files are
      }
      facts.versions.push_back(std::move(v));
    }
  } else if (!facts.latest_version.empty()) {
    facts.versions.push_back({facts.latest_version});
  }
  if (!facts.versions.empty())
    facts.created =
        std::min_element(facts.versions.begin(), facts.versions.end(), [](const auto& a, const auto& b) {
          return (a.published ? a.published : INT64_MAX) < (b.published ? b.published : INT64_MAX);
        })->published;
  Finish(facts);
  if (const VersionFacts* latest = facts.FindVersion(facts.latest_version))
    facts.modified = latest->published;
  return facts;
}

core::Result<PackageFacts> ParseCratesCrate(std::string_view body, const core::PackageKey& key) {
  json doc = json::parse(body, nullptr, false);
  if (!doc.is_object() || !doc.contains("crate") || !doc["crate"].is_object())
    return core::Status::InvalidArgument(
        fmt::format("crates.io document for {}: no \"crate\" object", key.name));
  const json& crate = doc["crate"];
  PackageFacts facts;
  facts.key = key;
  facts.display_name = Str(crate, "name");
  if (facts.display_name.empty()) facts.display_name = Str(crate, "id");
  facts.description = Str(crate, "description");
  facts.homepage = Str(crate, "homepage");
  facts.repository_declared = Str(crate, "repository");
  for (const char* field : {"max_stable_version", "max_version", "newest_version"})
    if (facts.latest_version.empty()) facts.latest_version = Str(crate, field);
  if (crate.contains("downloads") && crate["downloads"].is_number_integer())
    facts.downloads_total = crate["downloads"].get<std::int64_t>();
  if (crate.contains("recent_downloads") && crate["recent_downloads"].is_number_integer())
    facts.downloads_last_90_days = crate["recent_downloads"].get<std::int64_t>();
  facts.created = core::ParseTimestamp(Str(crate, "created_at")).value_or(0);
  facts.modified = core::ParseTimestamp(Str(crate, "updated_at")).value_or(0);
  if (doc.contains("versions") && doc["versions"].is_array()) {
    for (const json& v : doc["versions"]) {
      if (!v.is_object()) continue;
      VersionFacts version{Str(v, "num")};
      if (version.version.empty()) continue;
      version.published = core::ParseTimestamp(Str(v, "created_at")).value_or(0);
      version.yanked = v.value("yanked", false);
      if (version.version == facts.latest_version) facts.license = Str(v, "license");
      if (v.contains("published_by") && v["published_by"].is_object()) {
        std::string login = Str(v["published_by"], "login");
        if (!login.empty() &&
            std::find(facts.maintainers.begin(), facts.maintainers.end(), login) == facts.maintainers.end() &&
            facts.maintainers.size() < 50)
          facts.maintainers.push_back(login);
      }
      facts.versions.push_back(std::move(version));
    }
  }
  Finish(facts);
  return facts;
}

core::Result<std::vector<std::string>> ParseCratesOwners(std::string_view body) {
  json doc = json::parse(body, nullptr, false);
  if (!doc.is_object() || !doc.contains("users") || !doc["users"].is_array())
    return core::Status::InvalidArgument("crates.io owners answer has no \"users\" list");
  std::vector<std::string> owners;
  for (const json& user : doc["users"])
    if (user.is_object() && !Str(user, "login").empty()) owners.push_back(Str(user, "login"));
  return owners;
}

}  // namespace pkgtrust::registry
