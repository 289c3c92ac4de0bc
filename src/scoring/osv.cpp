#include "pkgtrust/scoring/osv.hpp"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "pkgtrust/core/package_name.hpp"

namespace pkgtrust::scoring {

core::Result<std::vector<MaliciousRecord>> ParseOsvRecord(std::string_view text, int* skipped) {
  using nlohmann::json;
  json doc = json::parse(text, nullptr, false);
  if (!doc.is_object()) return core::Status::InvalidArgument("not a JSON object");
  if (!doc.contains("id") || !doc["id"].is_string()) return core::Status::InvalidArgument("no \"id\"");
  std::string id = doc["id"].get<std::string>();
  if (!id.starts_with("MAL-"))
    return core::Status::InvalidArgument(fmt::format("{} is not a malicious-package record (MAL-...)", id));
  if (!doc.contains("affected") || !doc["affected"].is_array())
    return core::Status::InvalidArgument(fmt::format("{} has no \"affected\" list", id));
  std::vector<MaliciousRecord> out;
  for (const json& affected : doc["affected"]) {
    if (!affected.is_object() || !affected.contains("package") || !affected["package"].is_object()) continue;
    const json& package = affected["package"];
    auto eco = core::ParseEcosystem(package.value("ecosystem", ""));
    auto key = eco ? core::MakePackageKey(*eco, package.value("name", ""))
                   : core::Result<core::PackageKey>(core::Status::InvalidArgument("ecosystem"));
    if (!key.ok()) {
      if (skipped) ++*skipped;
      continue;
    }
    MaliciousRecord record{
        std::move(key).value(), id, doc.value("summary", ""), doc.value("modified", ""), {}};
    if (affected.contains("versions") && affected["versions"].is_array())
      for (const json& v : affected["versions"])
        if (v.is_string()) record.versions.push_back(v.get<std::string>());
    out.push_back(std::move(record));
  }
  return out;
}

}  // namespace pkgtrust::scoring
