// PyPI and crates.io documents (up to a few megabytes for projects with thousands of
// releases) read as a simdjson DOM.
#include <fmt/format.h>

#include <algorithm>

#include "core/json_document.hpp"
#include "pkgtrust/core/time.hpp"
#include "pkgtrust/registry/parsers.hpp"

namespace pkgtrust::registry {
namespace {

using core::BoolAt;
using core::IntAt;
using core::JsonValue;
using simdjson::dom::element;

std::string Str(JsonValue object, std::string_view key) { return core::StringAt(object, key); }
std::string Str(element object, std::string_view key) { return core::StringAt(object, key); }

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

bool IsCodeHost(const std::optional<core::RepositoryRef>& ref) {
  return ref && (ref->host == "github.com" || ref->host == "gitlab.com" || ref->host == "bitbucket.org");
}

}  // namespace

core::Result<PackageFacts> ParsePypiProject(std::string_view body, const core::PackageKey& key) {
  core::JsonDocument doc(body);
  JsonValue info = doc.root()["info"];
  if (!info.is_object())
    return core::Status::InvalidArgument(fmt::format("PyPI document for {}: no \"info\" object", key.name));
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
  simdjson::dom::object project_urls;
  if (core::AsObject(info["project_urls"], project_urls))
    for (auto [label, url] : project_urls) {
      std::string_view text;
      if (url.get(text) == simdjson::SUCCESS) urls.emplace_back(Lower(std::string(label)), std::string(text));
    }
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

  simdjson::dom::object releases;
  if (core::AsObject(doc.root()["releases"], releases)) {
    for (auto [version, files_value] : releases) {
      VersionFacts v{std::string(version)};
      simdjson::dom::array files;
      if (core::AsArray(files_value, files) && files.size() > 0) {
        bool all_yanked = true;
        for (element file : files) {
          if (!file.is_object()) continue;
          std::string uploaded = Str(file, "upload_time_iso_8601");
          if (uploaded.empty()) uploaded = Str(file, "upload_time");
          if (auto t = core::ParseTimestamp(uploaded); t && (v.published == 0 || *t < v.published))
            v.published = *t;
          all_yanked = all_yanked && BoolAt(file, "yanked");
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
  core::JsonDocument doc(body);
  JsonValue crate = doc.root()["crate"];
  if (!crate.is_object())
    return core::Status::InvalidArgument(
        fmt::format("crates.io document for {}: no \"crate\" object", key.name));
  PackageFacts facts;
  facts.key = key;
  facts.display_name = Str(crate, "name");
  if (facts.display_name.empty()) facts.display_name = Str(crate, "id");
  facts.description = Str(crate, "description");
  facts.homepage = Str(crate, "homepage");
  facts.repository_declared = Str(crate, "repository");
  for (const char* field : {"max_stable_version", "max_version", "newest_version"})
    if (facts.latest_version.empty()) facts.latest_version = Str(crate, field);
  facts.downloads_total = IntAt(crate, "downloads", -1);
  facts.downloads_last_90_days = IntAt(crate, "recent_downloads", -1);
  facts.created = core::ParseTimestamp(Str(crate, "created_at")).value_or(0);
  facts.modified = core::ParseTimestamp(Str(crate, "updated_at")).value_or(0);
  simdjson::dom::array versions;
  if (core::AsArray(doc.root()["versions"], versions)) {
    for (element v : versions) {
      if (!v.is_object()) continue;
      VersionFacts version{Str(v, "num")};
      if (version.version.empty()) continue;
      version.published = core::ParseTimestamp(Str(v, "created_at")).value_or(0);
      version.yanked = BoolAt(v, "yanked");
      if (version.version == facts.latest_version) facts.license = Str(v, "license");
      {
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
  core::JsonDocument doc(body);
  simdjson::dom::array users;
  if (!core::AsArray(doc.root()["users"], users))
    return core::Status::InvalidArgument("crates.io owners answer has no \"users\" list");
  std::vector<std::string> owners;
  for (element user : users)
    if (std::string login = Str(user, "login"); !login.empty()) owners.push_back(std::move(login));
  return owners;
}

}  // namespace pkgtrust::registry
