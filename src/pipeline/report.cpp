#include "pkgtrust/pipeline/report.hpp"

#include <cmath>

#include "pkgtrust/core/purl.hpp"
#include "pkgtrust/core/time.hpp"
#include "pkgtrust/core/version.hpp"
#include "pkgtrust/github/repository_facts.hpp"
#include "pkgtrust/registry/package_facts.hpp"
#include "pkgtrust/scoring/model.hpp"

namespace pkgtrust::pipeline {

using json = nlohmann::json;

namespace {

json TimeOrNull(core::Millis millis) {
  return millis > 0 ? json(core::FormatTimestamp(millis)) : json(nullptr);
}

json NonNegativeOrNull(std::int64_t value) { return value >= 0 ? json(value) : json(nullptr); }

const store::Fact* FindFact(const std::vector<store::Fact>& facts, std::string_view kind) {
  for (const store::Fact& f : facts)
    if (f.kind == kind) return &f;
  return nullptr;
}

// The typed facts of one kind, read by their owner; nullopt when absent or unreadable.
template <typename Facts>
std::optional<Facts> ReadFact(const std::vector<store::Fact>& facts, std::string_view kind) {
  const store::Fact* f = FindFact(facts, kind);
  if (!f) return std::nullopt;
  auto parsed = Facts::FromJson(f->json);
  if (!parsed.ok()) return std::nullopt;
  return std::move(parsed).value();
}

// A summary of the registry facts: everything but the per-version list, which can run to
// thousands of entries.
json PackageSection(const registry::PackageFacts& registry) {
  std::int64_t yanked = 0, attested = 0;
  core::Millis first_published = 0, latest_published = 0;
  for (const registry::VersionFacts& v : registry.versions) {
    if (v.yanked) ++yanked;
    if (v.has_attestation) ++attested;
    if (v.published > 0 && (first_published == 0 || v.published < first_published))
      first_published = v.published;
    latest_published = std::max(latest_published, v.published);
  }
  return {
      {"display_name", registry.display_name},
      {"description", registry.description},
      {"license", registry.license},
      {"homepage", registry.homepage},
      {"latest_version", registry.latest_version},
      {"versions", registry.versions.size()},
      {"yanked_versions", yanked},
      {"attested_versions", attested},
      {"first_published", TimeOrNull(first_published)},
      {"latest_published", TimeOrNull(latest_published)},
      {"maintainers", registry.maintainers},
      {"downloads_last_month", NonNegativeOrNull(registry.downloads_last_month)},
      {"downloads_total", NonNegativeOrNull(registry.downloads_total)},
      {"deprecated", registry.deprecated},
      {"security_holder", registry.security_holder},
      {"repository_declared", registry.repository_declared},
      {"repository_url", registry.repository ? registry.repository->Url() : ""},
  };
}

// A repository GitHub did not describe (missing: a 404; moved elsewhere and not read) has
// only the name asked for; every fact GitHub would have given is null, never a 0 or "" that
// reads like an answer. `full_name` is then the repository the package declares.
json RepositorySection(const github::RepositoryFacts& repo) {
  json manifest = {{"status", github::ManifestStatusName(repo.manifest.status)},
                   {"path", repo.manifest.path},
                   {"declared_name", repo.manifest.declared_name}};
  if (!repo.manifest.error.empty()) manifest["error"] = repo.manifest.error;
  // `read_at`: when the repository's shared facts this report used were read from GitHub
  // (every package of the repository may use the same read).
  json out = {{"status", github::RepositoryStatusName(repo.status)},
              {"moved", repo.moved},
              {"read_at", TimeOrNull(repo.read_at)},
              {"manifest", std::move(manifest)}};
  if (repo.status != github::RepositoryStatus::kFound) {
    for (const char* key : {"full_name", "stars", "forks", "open_issues", "archived", "fork", "created",
                            "pushed", "license", "contributors", "commits_last_year", "tags", "releases"})
      out[key] = nullptr;
    out["full_name"] = repo.requested.owner + "/" + repo.requested.name;
    return out;
  }
  auto text_or_null = [](const std::string& text) { return text.empty() ? json(nullptr) : json(text); };
  // A time GitHub did not give is "" here (as the stored facts have always spelled it).
  auto time_or_empty = [](core::Millis t) { return t ? core::FormatTimestamp(t) : std::string(); };
  out["full_name"] = text_or_null(repo.full_name);
  out["stars"] = NonNegativeOrNull(repo.stars);
  out["forks"] = NonNegativeOrNull(repo.forks);
  out["open_issues"] = NonNegativeOrNull(repo.open_issues);
  out["archived"] = repo.archived;
  out["fork"] = repo.is_fork;
  out["created"] = time_or_empty(repo.created);
  out["pushed"] = time_or_empty(repo.pushed);
  out["license"] = text_or_null(repo.license);  // GitHub names none
  out["contributors"] = NonNegativeOrNull(repo.contributors);
  out["commits_last_year"] = NonNegativeOrNull(repo.commits_last_year);
  out["tags"] = repo.tags.size();
  out["releases"] = repo.releases.size();
  return out;
}

// The registry's entry for `version`: as written, else one the ecosystem orders equal.
const registry::VersionFacts* FindVersion(const core::PackageKey& key, const registry::PackageFacts& registry,
                                          std::string_view version) {
  if (const registry::VersionFacts* exact = registry.FindVersion(version)) return exact;
  const registry::VersionFacts* equal = nullptr;
  for (const registry::VersionFacts& v : registry.versions)
    if (core::CompareVersions(key.ecosystem, v.version, version) == 0) equal = &v;
  return equal;
}

json VersionSectionOf(const core::PackageKey& key, const std::optional<registry::PackageFacts>& registry,
                      const std::optional<scoring::Report>& score, std::string_view version) {
  const registry::VersionFacts* entry = registry ? FindVersion(key, *registry, version) : nullptr;
  std::string name = entry ? entry->version : std::string(version);
  std::vector<std::string> advisories =
      score ? score->AdvisoriesNaming(key.ecosystem, name) : std::vector<std::string>{};
  double value = score ? score->score : 0.0;
  if (!advisories.empty())
    value = 0;
  else if (entry && !entry->deprecated.empty())
    value = std::min(value, 3.0);
  json install_scripts = json::object();
  if (entry)
    for (const auto& [script, command] : entry->install_scripts) install_scripts[script] = command;
  return {{"version", name},
          {"exists", entry != nullptr},
          {"latest", entry && registry->latest_version == entry->version},
          {"published", entry ? TimeOrNull(entry->published) : json(nullptr)},
          {"yanked", entry && entry->yanked},
          {"deprecated", entry && !entry->deprecated.empty() ? json(entry->deprecated) : json(nullptr)},
          {"install_scripts", std::move(install_scripts)},
          {"malicious", !advisories.empty()},
          {"advisories", advisories},
          {"score", value}};
}

}  // namespace

json VersionSection(const core::PackageKey& key, const std::vector<store::Fact>& facts,
                    std::string_view version) {
  return VersionSectionOf(key, ReadFact<registry::PackageFacts>(facts, store::kRegistryFact),
                          ReadFact<scoring::Report>(facts, store::kScoreFact), version);
}

std::string PurlOf(const core::PackageKey& key) { return core::FormatPurl(core::PurlFromPackageKey(key)); }

core::Result<json> BuildReport(const store::PackageRecord& record, const std::vector<store::Fact>& facts,
                               std::string_view version) {
  const store::Fact* score_fact = FindFact(facts, store::kScoreFact);
  if (!score_fact) return core::Status::NotFound(record.key.ToString() + " has no score yet");
  auto parsed_score = scoring::Report::FromJson(score_fact->json);
  if (!parsed_score.ok()) return core::Status::Internal(record.key.ToString() + ": stored score is not JSON");
  std::optional<scoring::Report> score = std::move(parsed_score).value();
  auto registry = ReadFact<registry::PackageFacts>(facts, store::kRegistryFact);
  auto repository = ReadFact<github::RepositoryFacts>(facts, store::kRepositoryFact);

  json score_json = score->ToJsonValue();
  json report = {{"ecosystem", core::EcosystemName(record.key.ecosystem)},
                 {"name", record.key.name},
                 {"purl", PurlOf(record.key)},
                 {"status", core::PackageStateName(record.state)}};
  json provenance = score_json["components"]["provenance"];
  report["score"] = {{"value", score->score},
                     {"model_version", score->model_version},
                     {"components", std::move(score_json["components"])},
                     {"explanation", std::move(score_json["explanation"])}};
  report["flags"] = std::move(score_json["flags"]);
  report["advisories"] = std::move(score_json["advisories"]);
  json package = registry ? PackageSection(*registry) : json(nullptr);
  if (registry) {
    provenance["attested_versions"] = package["attested_versions"];
    provenance["repository_declared"] = registry->repository.has_value();
  }
  report["package"] = std::move(package);
  report["repository"] = repository ? RepositorySection(*repository) : json(nullptr);
  report["provenance"] = std::move(provenance);
  report["timestamps"] = {{"first_seen", TimeOrNull(record.created_at)},
                          {"scored", TimeOrNull(record.state_since)}};
  if (record.state != core::PackageState::kComplete) {
    // An older report while a new run is under way.
    report["timestamps"]["scored"] = nullptr;
    report["refreshing"] = true;
  }
  if (!version.empty()) report["version"] = VersionSectionOf(record.key, registry, score, version);
  return report;
}

core::Result<json> BuildVersionTimeline(const core::PackageKey& key, const std::vector<store::Fact>& facts,
                                        std::size_t limit) {
  auto registry = ReadFact<registry::PackageFacts>(facts, store::kRegistryFact);
  if (!registry) return core::Status::NotFound(key.ToString() + " has no registry facts yet");
  auto score = ReadFact<scoring::Report>(facts, store::kScoreFact);
  auto repository = ReadFact<github::RepositoryFacts>(facts, store::kRepositoryFact);
  const bool has_repository = repository && repository->status == github::RepositoryStatus::kFound;
  const std::string short_name = scoring::TagShortName(key);
  constexpr double kDay = 24.0 * 3600 * 1000;
  json versions = json::array();
  for (auto it = registry->versions.rbegin(); it != registry->versions.rend() && versions.size() < limit;
       ++it) {
    json entry = VersionSectionOf(key, registry, score, it->version);
    entry.erase("exists");
    entry.erase("score");
    entry["attested"] = it->has_attestation;
    entry["tag"] = nullptr;
    std::string match = !has_repository ? "no_repository" : repository->tags.empty() ? "no_tags" : "none";
    if (has_repository) {
      for (const github::Tag& tag : repository->tags) {
        if (!scoring::TagMatches(tag.name, it->version, short_name)) continue;
        json days = nullptr;
        bool near = true;
        if (tag.date > 0 && it->published > 0) {
          double apart = static_cast<double>(tag.date - it->published) / kDay;
          days = std::round(apart * 10) / 10;
          near = std::abs(apart) <= scoring::kTagWindowDays;
        }
        entry["tag"] = {{"name", tag.name}, {"date", TimeOrNull(tag.date)}, {"days_from_publish", days}};
        match = near ? "near" : "far";
        break;
      }
    }
    entry["tag_match"] = match;
    versions.push_back(std::move(entry));
  }
  return json{{"ecosystem", core::EcosystemName(key.ecosystem)},
              {"name", key.name},
              {"purl", PurlOf(key)},
              {"latest_version", registry->latest_version},
              {"total_versions", registry->versions.size()},
              {"repository", has_repository ? json(repository->full_name) : json(nullptr)},
              {"repository_tags", has_repository ? json(repository->tags.size()) : json(nullptr)},
              {"versions", std::move(versions)}};
}

json ScoreSummary(std::string_view score_fact) {
  auto score = scoring::Report::FromJson(score_fact);
  if (!score.ok()) return nullptr;
  json value = score->ToJsonValue();
  return {{"score", score->score}, {"flags", std::move(value["flags"])}};
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
