#include "pkgtrust/github/repository_facts.hpp"

#include <nlohmann/json.hpp>

#include "core/json_document.hpp"
#include "pkgtrust/core/time.hpp"

namespace pkgtrust::github {

using nlohmann::json;

namespace {
constexpr std::pair<ManifestStatus, const char*> kManifestStatusNames[] = {
    {ManifestStatus::kNotRead, "not_read"},
    {ManifestStatus::kFound, "found"},
    {ManifestStatus::kMissing, "missing"},
    {ManifestStatus::kUnreadable, "unreadable"}};
json ManifestJson(const Manifest& manifest) {
  json m = {{"status", ManifestStatusName(manifest.status)},
            {"path", manifest.path},
            {"declared_name", manifest.declared_name}};
  if (!manifest.error.empty()) m["error"] = manifest.error;
  return m;
}
std::string Time(core::Millis t) { return t ? core::FormatTimestamp(t) : std::string(); }
}  // namespace

std::string_view RepositoryStatusName(RepositoryStatus status) {
  switch (status) {
    case RepositoryStatus::kFound:
      return "found";
    case RepositoryStatus::kNotFound:
      return "not_found";
    case RepositoryStatus::kUnavailable:
      return "unavailable";
  }
  return "found";
}

std::string_view ManifestStatusName(ManifestStatus status) {
  for (const auto& [s, name] : kManifestStatusNames)
    if (s == status) return name;
  return "not_read";
}

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
              {"status", RepositoryStatusName(status)},
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
              {"etags", etags},
              {"read_at", read_at}}
      .dump();
}

core::Result<RepositoryFacts> RepositoryFacts::FromJson(std::string_view text) {
  using core::BoolAt;
  using core::IntAt;
  using core::StringAt;
  core::JsonDocument doc(text);
  core::JsonValue j = doc.root();
  if (!j.is_object()) return core::Status::InvalidArgument("stored repository facts are not a JSON object");
  auto time_at = [](auto object, std::string_view key) {
    return core::ParseTimestamp(StringAt(object, key)).value_or(0);
  };
  RepositoryFacts f;
  core::JsonValue req = j["requested"];
  f.requested = {StringAt(req, "host"), StringAt(req, "owner"), StringAt(req, "name"),
                 StringAt(req, "subdirectory")};
  if (f.requested.host.empty() || f.requested.owner.empty() || f.requested.name.empty())
    return core::Status::InvalidArgument("stored repository facts: no requested host, owner and name");
  std::string status = StringAt(j, "status", "found");
  f.status = status == "not_found"     ? RepositoryStatus::kNotFound
             : status == "unavailable" ? RepositoryStatus::kUnavailable
                                       : RepositoryStatus::kFound;
  f.full_name = StringAt(j, "full_name");
  f.moved = BoolAt(j, "moved");
  f.stars = IntAt(j, "stars");
  f.forks = IntAt(j, "forks");
  f.open_issues = IntAt(j, "open_issues");
  f.watchers = IntAt(j, "watchers");
  f.archived = BoolAt(j, "archived");
  f.disabled = BoolAt(j, "disabled");
  f.is_fork = BoolAt(j, "fork");
  f.fork_parent = StringAt(j, "fork_parent");
  f.created = time_at(j, "created");
  f.pushed = time_at(j, "pushed");
  f.updated = time_at(j, "updated");
  f.default_branch = StringAt(j, "default_branch");
  f.license = StringAt(j, "license");
  f.contributors = IntAt(j, "contributors", -1);
  simdjson::dom::array items;
  if (core::AsArray(j["tags"], items))
    for (simdjson::dom::element t : items) f.tags.push_back({StringAt(t, "name"), time_at(t, "date")});
  if (core::AsArray(j["releases"], items))
    for (simdjson::dom::element r : items)
      f.releases.push_back(
          {StringAt(r, "tag"), StringAt(r, "name"), time_at(r, "published"), BoolAt(r, "prerelease")});
  if (core::AsArray(j["weekly_commits"], items))
    for (simdjson::dom::element week : items) {
      std::int64_t n;
      f.weekly_commits.push_back(week.get(n) == simdjson::SUCCESS ? static_cast<int>(n) : 0);
    }
  f.commits_last_year = IntAt(j, "commits_last_year", -1);
  simdjson::dom::object etags;
  if (core::AsObject(j["etags"], etags))
    for (auto [endpoint, etag] : etags) {
      std::string_view value;
      if (etag.get(value) == simdjson::SUCCESS) f.etags.emplace(std::string(endpoint), std::string(value));
    }
  core::JsonValue m = j["manifest"];
  if (m.is_object()) {
    std::string manifest_status = StringAt(m, "status", "not_read");
    for (const auto& [s, name] : kManifestStatusNames)
      if (manifest_status == name) f.manifest.status = s;
    f.manifest.path = StringAt(m, "path");
    f.manifest.declared_name = StringAt(m, "declared_name");
    f.manifest.error = StringAt(m, "error");
  }
  f.read_at = IntAt(j, "read_at");
  return f;
}

}  // namespace pkgtrust::github
