#include "pkgtrust/registry/package_facts.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "pkgtrust/core/time.hpp"

namespace pkgtrust::registry {

using nlohmann::json;

std::string PackageFacts::ToJson() const {
  json versions_json = json::array();
  for (const VersionFacts& v : versions) {
    json item = {{"version", v.version}};
    if (v.published) item["published"] = core::FormatTimestamp(v.published);
    if (v.yanked) item["yanked"] = true;
    if (!v.deprecated.empty()) item["deprecated"] = v.deprecated;
    if (v.has_attestation) item["attestation"] = true;
    if (!v.repository.empty()) item["repository"] = v.repository;
    versions_json.push_back(std::move(item));
  }
  json out = {{"ecosystem", core::EcosystemName(key.ecosystem)},
              {"name", key.name},
              {"display_name", display_name},
              {"description", description},
              {"license", license},
              {"homepage", homepage},
              {"latest_version", latest_version},
              {"versions", std::move(versions_json)},
              {"maintainers", maintainers},
              {"repository_declared", repository_declared},
              {"downloads_last_month", downloads_last_month},
              {"downloads_total", downloads_total},
              {"downloads_last_90_days", downloads_last_90_days},
              {"unpublished", unpublished},
              {"deprecated", deprecated},
              {"security_holder", security_holder}};
  if (repository)
    out["repository"] = {{"host", repository->host},
                         {"owner", repository->owner},
                         {"name", repository->name},
                         {"subdirectory", repository->subdirectory},
                         {"url", repository->Url()}};
  if (created) out["created"] = core::FormatTimestamp(created);
  if (modified) out["modified"] = core::FormatTimestamp(modified);
  return out.dump();
}

core::Result<PackageFacts> PackageFacts::FromJson(std::string_view text) {
  json j = json::parse(text, nullptr, false);
  if (!j.is_object()) return core::Status::InvalidArgument("stored registry facts are not a JSON object");
  try {
    PackageFacts f;
    auto eco = core::ParseEcosystem(j.at("ecosystem").get<std::string>());
    if (!eco) return core::Status::InvalidArgument("stored registry facts name an unknown ecosystem");
    f.key = {*eco, j.at("name").get<std::string>()};
    f.display_name = j.value("display_name", "");
    f.description = j.value("description", "");
    f.license = j.value("license", "");
    f.homepage = j.value("homepage", "");
    f.latest_version = j.value("latest_version", "");
    for (const json& v : j.value("versions", json::array())) {
      VersionFacts version;
      version.version = v.at("version").get<std::string>();
      if (v.contains("published"))
        version.published = core::ParseTimestamp(v["published"].get<std::string>()).value_or(0);
      version.yanked = v.value("yanked", false);
      version.deprecated = v.value("deprecated", "");
      version.has_attestation = v.value("attestation", false);
      version.repository = v.value("repository", "");
      f.versions.push_back(std::move(version));
    }
    f.maintainers = j.value("maintainers", std::vector<std::string>{});
    f.repository_declared = j.value("repository_declared", "");
    if (j.contains("repository")) {
      const json& r = j["repository"];
      f.repository =
          core::RepositoryRef{r.at("host"), r.at("owner"), r.at("name"), r.value("subdirectory", "")};
    }
    f.downloads_last_month = j.value("downloads_last_month", std::int64_t{-1});
    f.downloads_total = j.value("downloads_total", std::int64_t{-1});
    f.downloads_last_90_days = j.value("downloads_last_90_days", std::int64_t{-1});
    if (j.contains("created")) f.created = core::ParseTimestamp(j["created"].get<std::string>()).value_or(0);
    if (j.contains("modified"))
      f.modified = core::ParseTimestamp(j["modified"].get<std::string>()).value_or(0);
    f.unpublished = j.value("unpublished", false);
    f.deprecated = j.value("deprecated", "");
    f.security_holder = j.value("security_holder", false);
    return f;
  } catch (const json::exception& e) {
    return core::Status::InvalidArgument(std::string("stored registry facts: ") + e.what());
  }
}

const VersionFacts* PackageFacts::FindVersion(std::string_view version) const {
  for (const VersionFacts& v : versions)
    if (v.version == version) return &v;
  return nullptr;
}

VersionFacts* PackageFacts::FindVersion(std::string_view version) {
  for (VersionFacts& v : versions)
    if (v.version == version) return &v;
  return nullptr;
}

void Finish(PackageFacts& facts) {
  std::stable_sort(facts.versions.begin(), facts.versions.end(),
                   [](const VersionFacts& a, const VersionFacts& b) { return a.published < b.published; });
  if (!facts.repository && !facts.repository_declared.empty())
    facts.repository = core::ParseRepositoryUrl(facts.repository_declared);
  if (const VersionFacts* latest = facts.FindVersion(facts.latest_version)) {
    if (facts.deprecated.empty()) facts.deprecated = latest->deprecated;
  }
}

}  // namespace pkgtrust::registry
