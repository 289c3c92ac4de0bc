#include "pkgtrust/github/repository_facts.hpp"

#include <nlohmann/json.hpp>

#include "pkgtrust/core/time.hpp"

namespace pkgtrust::github {

using nlohmann::json;

namespace {
std::string_view StatusName(RepositoryStatus s) {
  switch (s) {
    case RepositoryStatus::kFound:
      return "found";
    case RepositoryStatus::kNotFound:
      return "not_found";
    case RepositoryStatus::kUnavailable:
      return "unavailable";
  }
  return "found";
}
constexpr std::pair<ManifestStatus, const char*> kManifestStatusNames[] = {
    {ManifestStatus::kNotRead, "not_read"},
    {ManifestStatus::kFound, "found"},
    {ManifestStatus::kMissing, "missing"},
    {ManifestStatus::kUnreadable, "unreadable"}};
json ManifestJson(const Manifest& manifest) {
  const char* status_name = "not_read";
  for (const auto& [s, name] : kManifestStatusNames)
    if (s == manifest.status) status_name = name;
  json m = {{"status", status_name}, {"path", manifest.path}, {"declared_name", manifest.declared_name}};
  if (!manifest.error.empty()) m["error"] = manifest.error;
  return m;
}
std::string Time(core::Millis t) { return t ? core::FormatTimestamp(t) : std::string(); }
core::Millis ParseTime(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? core::ParseTimestamp(it->get<std::string>()).value_or(0) : 0;
}
}  // namespace

std::string RepositoryFacts::ToJson() const {
  json tags_json = json::array();
  for (const Tag& t : tags) tags_json.push_back({{"name", t.name}, {"date", Time(t.date)}});
  json releases_json = json::array();
  for (const Release& r : releases)
    releases_json.push_back(
        {{"tag", r.tag}, {"name", r.name}, {"published", Time(r.published)}, {"prerelease", r.prerelease}});
  return json{{"requested",
               {{"host", requested.host},
                {"owner", requested.owner},
                {"name", requested.name},
                {"subdirectory", requested.subdirectory}}},
              {"status", StatusName(status)},
              {"full_name", full_name},
              {"moved", moved},
              {"stars", stars},
              {"forks", forks},
              {"open_issues", open_issues},
              {"watchers", watchers},
              {"archived", archived},
              {"disabled", disabled},
              {"fork", is_fork},
              {"fork_parent", fork_parent},
              {"created", Time(created)},
              {"pushed", Time(pushed)},
              {"updated", Time(updated)},
              {"default_branch", default_branch},
              {"license", license},
              {"contributors", contributors},
              {"tags", std::move(tags_json)},
              {"releases", std::move(releases_json)},
              {"weekly_commits", weekly_commits},
              {"commits_last_year", commits_last_year},
              {"manifest", ManifestJson(manifest)},
              {"etags", etags}}
      .dump();
}

core::Result<RepositoryFacts> RepositoryFacts::FromJson(std::string_view text) {
  json j = json::parse(text, nullptr, false);
  if (!j.is_object()) return core::Status::InvalidArgument("stored repository facts are not a JSON object");
  try {
    RepositoryFacts f;
    const json& req = j.at("requested");
    f.requested = {req.at("host"), req.at("owner"), req.at("name"), req.value("subdirectory", "")};
    std::string status = j.value("status", "found");
    f.status = status == "not_found"     ? RepositoryStatus::kNotFound
               : status == "unavailable" ? RepositoryStatus::kUnavailable
                                         : RepositoryStatus::kFound;
    f.full_name = j.value("full_name", "");
    f.moved = j.value("moved", false);
    f.stars = j.value("stars", std::int64_t{0});
    f.forks = j.value("forks", std::int64_t{0});
    f.open_issues = j.value("open_issues", std::int64_t{0});
    f.watchers = j.value("watchers", std::int64_t{0});
    f.archived = j.value("archived", false);
    f.disabled = j.value("disabled", false);
    f.is_fork = j.value("fork", false);
    f.fork_parent = j.value("fork_parent", "");
    f.created = ParseTime(j, "created");
    f.pushed = ParseTime(j, "pushed");
    f.updated = ParseTime(j, "updated");
    f.default_branch = j.value("default_branch", "");
    f.license = j.value("license", "");
    f.contributors = j.value("contributors", std::int64_t{-1});
    for (const json& t : j.value("tags", json::array()))
      if (t.is_object()) f.tags.push_back({t.value("name", ""), ParseTime(t, "date")});
    for (const json& r : j.value("releases", json::array()))
      f.releases.push_back(
          {r.value("tag", ""), r.value("name", ""), ParseTime(r, "published"), r.value("prerelease", false)});
    f.weekly_commits = j.value("weekly_commits", std::vector<int>{});
    f.commits_last_year = j.value("commits_last_year", std::int64_t{-1});
    f.etags = j.value("etags", std::map<std::string, std::string>{});
    if (auto m = j.find("manifest"); m != j.end() && m->is_object()) {
      std::string status = m->value("status", "not_read");
      for (const auto& [s, name] : kManifestStatusNames)
        if (status == name) f.manifest.status = s;
      f.manifest.path = m->value("path", "");
      f.manifest.declared_name = m->value("declared_name", "");
      f.manifest.error = m->value("error", "");
    }
    return f;
  } catch (const json::exception& e) {
    return core::Status::InvalidArgument(std::string("stored repository facts: ") + e.what());
  }
}

}  // namespace pkgtrust::github
