#include "pkgtrust/pipeline/report.hpp"

#include "pkgtrust/core/purl.hpp"
#include "pkgtrust/core/time.hpp"
#include "pkgtrust/core/version.hpp"
#include "pkgtrust/pipeline/stage_handlers.hpp"

namespace pkgtrust::pipeline {

using json = nlohmann::json;

namespace {

json TimeOrNull(core::Millis millis) {
  return millis > 0 ? json(core::FormatTimestamp(millis)) : json(nullptr);
}

const store::Fact* FindFact(const std::vector<store::Fact>& facts, std::string_view kind) {
  for (const store::Fact& f : facts)
    if (f.kind == kind) return &f;
  return nullptr;
}

json NonNegativeOrNull(const json& value) {
  return value.is_number_integer() && value.get<std::int64_t>() >= 0 ? value : json(nullptr);
}

// A summary of the registry facts: everything but the per-version list, which can run to
// thousands of entries.
json PackageSection(const json& registry) {
  const json& versions = registry.contains("versions") ? registry["versions"] : json::array();
  std::int64_t yanked = 0, attested = 0;
  std::string first_published, latest_published;
  for (const json& v : versions) {
    if (v.value("yanked", false)) ++yanked;
    if (v.value("attestation", false)) ++attested;
    std::string published = v.value("published", "");
    if (!published.empty() && (first_published.empty() || published < first_published))
      first_published = published;
    if (!published.empty() && published > latest_published) latest_published = published;
  }
  json section = {
      {"display_name", registry.value("display_name", "")},
      {"description", registry.value("description", "")},
      {"license", registry.value("license", "")},
      {"homepage", registry.value("homepage", "")},
      {"latest_version", registry.value("latest_version", "")},
      {"versions", versions.size()},
      {"yanked_versions", yanked},
      {"attested_versions", attested},
      {"first_published", first_published.empty() ? json(nullptr) : json(first_published)},
      {"latest_published", latest_published.empty() ? json(nullptr) : json(latest_published)},
      {"maintainers", registry.value("maintainers", json::array())},
      {"downloads_last_month", NonNegativeOrNull(registry.value("downloads_last_month", json(-1)))},
      {"downloads_total", NonNegativeOrNull(registry.value("downloads_total", json(-1)))},
      {"deprecated", registry.value("deprecated", "")},
      {"security_holder", registry.value("security_holder", false)},
      {"repository_declared", registry.value("repository_declared", "")},
      {"repository_url", registry.contains("repository") ? registry["repository"].value("url", "") : ""},
  };
  return section;
}

// A repository GitHub did not describe (missing: a 404; moved elsewhere and not read) has
// only the name asked for; every fact GitHub would have given is null, never a 0 or "" that
// reads like an answer. `full_name` is then the repository the package declares.
json RepositorySection(const json& repo) {
  std::string status = repo.value("status", "found");
  // `read_at`: when the repository's shared facts this report used were read from GitHub
  // (every package of the repository may use the same read).
  json out = {{"status", status},
              {"moved", repo.value("moved", false)},
              {"read_at", TimeOrNull(repo.value("read_at", core::Millis{0}))},
              {"manifest", repo.value("manifest", json(nullptr))}};
  const char* facts[] = {"full_name", "stars",  "forks",   "open_issues",  "archived",          "fork",
                         "created",   "pushed", "license", "contributors", "commits_last_year", "tags",
                         "releases"};
  if (status != "found") {
    for (const char* key : facts) out[key] = nullptr;
    const json& requested = repo.contains("requested") ? repo["requested"] : json::object();
    if (requested.is_object() && requested.value("owner", "") != "")
      out["full_name"] = requested.value("owner", "") + "/" + requested.value("name", "");
    return out;
  }
  auto text_or_null = [&](const char* key) {
    std::string text = repo.value(key, "");
    return text.empty() ? json(nullptr) : json(text);
  };
  auto count_or_null = [&](const char* key) {
    return repo.contains(key) && repo[key].is_array() ? json(repo[key].size()) : json(nullptr);
  };
  out["full_name"] = text_or_null("full_name");
  out["stars"] = NonNegativeOrNull(repo.value("stars", json(-1)));
  out["forks"] = NonNegativeOrNull(repo.value("forks", json(-1)));
  out["open_issues"] = NonNegativeOrNull(repo.value("open_issues", json(-1)));
  out["archived"] = repo.value("archived", json(nullptr));
  out["fork"] = repo.value("fork", json(nullptr));
  out["created"] = repo.value("created", json(nullptr));
  out["pushed"] = repo.value("pushed", json(nullptr));
  out["license"] = text_or_null("license");  // GitHub names none
  out["contributors"] = NonNegativeOrNull(repo.value("contributors", json(-1)));
  out["commits_last_year"] = NonNegativeOrNull(repo.value("commits_last_year", json(-1)));
  out["tags"] = count_or_null("tags");
  out["releases"] = count_or_null("releases");
  return out;
}

}  // namespace

json VersionSection(const core::PackageKey& key, const std::vector<store::Fact>& facts,
                    std::string_view version) {
  json registry = json::object();
  if (const store::Fact* f = FindFact(facts, pipeline::kRegistryFact))
    registry = json::parse(f->json, nullptr, false);
  const json* entry = nullptr;
  if (registry.is_object() && registry.contains("versions") && registry["versions"].is_array()) {
    for (const json& v : registry["versions"])  // the version as written, else one the ecosystem orders equal
      if (v.is_object() && v.value("version", "") == version) entry = &v;
    if (!entry)
      for (const json& v : registry["versions"])
        if (v.is_object() && core::CompareVersions(key.ecosystem, v.value("version", ""), version) == 0)
          entry = &v;
  }
  json score = json::object();
  std::vector<std::string> advisories;
  if (const store::Fact* f = FindFact(facts, pipeline::kScoreFact)) {
    score = json::parse(f->json, nullptr, false);
    advisories = pipeline::AdvisoriesNamingVersion(f->json, key.ecosystem,
                                                   entry ? entry->value("version", "") : version);
  }
  double value = score.is_object() ? score.value("score", 0.0) : 0.0;
  std::string deprecated = entry ? entry->value("deprecated", "") : "";
  if (!advisories.empty())
    value = 0;
  else if (!deprecated.empty())
    value = std::min(value, 3.0);
  json out = {{"version", entry ? entry->value("version", "") : std::string(version)},
              {"exists", entry != nullptr},
              {"latest", registry.is_object() && entry &&
                             registry.value("latest_version", "") == entry->value("version", "")},
              {"published", entry ? entry->value("published", json(nullptr)) : json(nullptr)},
              {"yanked", entry ? entry->value("yanked", false) : false},
              {"deprecated", deprecated.empty() ? json(nullptr) : json(deprecated)},
              {"install_scripts", entry ? entry->value("install_scripts", json::object()) : json::object()},
              {"malicious", !advisories.empty()},
              {"advisories", advisories},
              {"score", value}};
  return out;
}

std::string PurlOf(const core::PackageKey& key) { return core::FormatPurl(core::PurlFromPackageKey(key)); }

core::Result<json> BuildReport(const store::PackageRecord& record, const std::vector<store::Fact>& facts,
                               std::string_view version) {
  const store::Fact* score_fact = FindFact(facts, pipeline::kScoreFact);
  if (!score_fact) return core::Status::NotFound(record.key.ToString() + " has no score yet");
  json score = json::parse(score_fact->json, nullptr, false);
  if (!score.is_object()) return core::Status::Internal(record.key.ToString() + ": stored score is not JSON");

  json report = {{"ecosystem", core::EcosystemName(record.key.ecosystem)},
                 {"name", record.key.name},
                 {"purl", PurlOf(record.key)},
                 {"status", core::PackageStateName(record.state)}};
  json components = score.value("components", json::object());
  report["score"] = {{"value", score.value("score", 0.0)},
                     {"model_version", score.value("model_version", "")},
                     {"components", components},
                     {"explanation", score.value("explanation", json::array())}};
  report["flags"] = score.value("flags", json::object());
  report["advisories"] = score.value("advisories", json::array());

  json package = nullptr;
  if (const store::Fact* f = FindFact(facts, pipeline::kRegistryFact)) {
    json registry = json::parse(f->json, nullptr, false);
    if (registry.is_object()) package = PackageSection(registry);
  }
  json repository = nullptr;
  if (const store::Fact* f = FindFact(facts, pipeline::kRepositoryFact)) {
    json repo = json::parse(f->json, nullptr, false);
    if (repo.is_object()) repository = RepositorySection(repo);
  }
  json provenance = components.value("provenance", json::object());
  if (package.is_object()) {
    provenance["attested_versions"] = package["attested_versions"];
    provenance["repository_declared"] = !package["repository_url"].get<std::string>().empty();
  }
  report["package"] = std::move(package);
  report["repository"] = std::move(repository);
  report["provenance"] = std::move(provenance);
  report["timestamps"] = {{"first_seen", TimeOrNull(record.created_at)},
                          {"scored", TimeOrNull(record.state_since)}};
  if (record.state != core::PackageState::kComplete) {
    // An older report while a new run is under way.
    report["timestamps"]["scored"] = nullptr;
    report["refreshing"] = true;
  }
  if (!version.empty()) report["version"] = VersionSection(record.key, facts, version);
  return report;
}

std::string RedactUrls(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  std::size_t i = 0;
  while (i < text.size()) {
    std::size_t at = std::min(text.find("http://", i), text.find("https://", i));
    if (at == std::string_view::npos) {
      out.append(text.substr(i));
      break;
    }
    out.append(text.substr(i, at - i));
    out += "<upstream>";
    std::size_t end = at;
    while (end < text.size() && text[end] != ' ' && text[end] != '\n' && text[end] != '"' &&
           text[end] != '\'')
      ++end;
    if (end > at && text[end - 1] == ':') --end;  // "GET http://host/x: 404" keeps its colon
    i = end;
  }
  return out;
}

json PendingBody(const store::PackageRecord& record, int retry_after_seconds) {
  json body = {{"ecosystem", core::EcosystemName(record.key.ecosystem)},
               {"name", record.key.name},
               {"purl", PurlOf(record.key)},
               {"status", core::PackageStateName(record.state)},
               {"retry_after_seconds", retry_after_seconds}};
  // Why the last attempt failed, without the internal upstream addresses (the log has them).
  if (!record.last_error.empty()) body["last_error"] = RedactUrls(record.last_error);
  return body;
}

}  // namespace pkgtrust::pipeline
