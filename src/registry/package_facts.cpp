#include "pkgtrust/registry/package_facts.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "core/json_document.hpp"
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
    if (!v.install_scripts.empty()) {
      json scripts = json::object();
      for (const auto& [name, command] : v.install_scripts) scripts[name] = command;
      item["install_scripts"] = std::move(scripts);
    }
    if (!v.publisher.empty()) item["publisher"] = v.publisher;
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
  return out.dump(-1, ' ', false, json::error_handler_t::replace);
}

core::Result<PackageFacts> PackageFacts::FromJson(std::string_view text) {
  using core::BoolAt;
  using core::IntAt;
  using core::StringAt;
  core::JsonDocument doc(text);
  core::JsonValue j = doc.root();
  if (!j.is_object()) return core::Status::InvalidArgument("stored registry facts are not a JSON object");
  auto bad = [](std::string_view what) {
    return core::Status::InvalidArgument(fmt::format("stored registry facts: {}", what));
  };
  PackageFacts f;
  auto eco = core::ParseEcosystem(StringAt(j, "ecosystem"));
  if (!eco) return bad("an unknown ecosystem");
  f.key = {*eco, StringAt(j, "name")};
  if (f.key.name.empty()) return bad("no name");
  f.display_name = StringAt(j, "display_name");
  f.description = StringAt(j, "description");
  f.license = StringAt(j, "license");
  f.homepage = StringAt(j, "homepage");
  f.latest_version = StringAt(j, "latest_version");
  simdjson::dom::array items;
  if (core::AsArray(j["versions"], items)) {
    f.versions.reserve(items.size());
    for (simdjson::dom::element v : items) {
      VersionFacts version;
      version.version = StringAt(v, "version");
      if (version.version.empty()) return bad("a version without its name");
      version.published = core::ParseTimestamp(StringAt(v, "published")).value_or(0);
      version.yanked = BoolAt(v, "yanked");
      version.deprecated = StringAt(v, "deprecated");
      version.has_attestation = BoolAt(v, "attestation");
      version.repository = StringAt(v, "repository");
      simdjson::dom::object scripts;
      if (core::AsObject(v["install_scripts"], scripts))
        for (auto [name, command] : scripts) {
          std::string_view text;
          if (command.get(text) == simdjson::SUCCESS) version.install_scripts.emplace_back(name, text);
        }
      version.publisher = StringAt(v, "publisher");
      f.versions.push_back(std::move(version));
    }
  }
  if (core::AsArray(j["maintainers"], items))
    for (simdjson::dom::element m : items) {
      std::string_view name;
      if (m.get(name) == simdjson::SUCCESS) f.maintainers.emplace_back(name);
    }
  f.repository_declared = StringAt(j, "repository_declared");
  if (core::JsonValue r = j["repository"]; r.is_object()) {
    f.repository = core::RepositoryRef{StringAt(r, "host"), StringAt(r, "owner"), StringAt(r, "name"),
                                       StringAt(r, "subdirectory")};
    if (f.repository->host.empty() || f.repository->owner.empty() || f.repository->name.empty())
      return bad("a repository without host, owner or name");
  }
  f.downloads_last_month = IntAt(j, "downloads_last_month", -1);
  f.downloads_total = IntAt(j, "downloads_total", -1);
  f.downloads_last_90_days = IntAt(j, "downloads_last_90_days", -1);
  f.created = core::ParseTimestamp(StringAt(j, "created")).value_or(0);
  f.modified = core::ParseTimestamp(StringAt(j, "modified")).value_or(0);
  f.unpublished = BoolAt(j, "unpublished");
  f.deprecated = StringAt(j, "deprecated");
  f.security_holder = BoolAt(j, "security_holder");
  return f;
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
