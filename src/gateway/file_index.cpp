#include "pkgtrust/gateway/file_index.hpp"

#include <fmt/format.h>

#include <vector>

#include "core/json_document.hpp"
#include "pkgtrust/core/time.hpp"
#include "pkgtrust/gateway/pypi_index.hpp"

namespace pkgtrust::gateway {

core::Result<NpmFiles> ReadNpmFiles(std::string_view packument) {
  core::JsonDocument doc(packument);
  if (!doc.ok())
    return core::Status::InvalidArgument(fmt::format("the upstream packument is not JSON ({})", doc.error()));
  simdjson::dom::object root, versions, times;
  if (doc.root().get(root) != simdjson::SUCCESS)
    return core::Status::InvalidArgument("the upstream packument is not a JSON object");
  NpmFiles files;
  if (root["versions"].get(versions) != simdjson::SUCCESS) return files;
  std::unordered_map<std::string_view, std::string_view> published_at;
  if (root["time"].get(times) == simdjson::SUCCESS)
    for (auto [key, value] : times) {
      std::string_view text;
      if (value.get(text) == simdjson::SUCCESS) published_at.emplace(key, text);
    }
  for (auto [key, value] : versions) {
    PublishedFile file;
    file.version = std::string(key);
    file.url = core::StringAt(value["dist"], "tarball");
    if (file.url.empty()) continue;
    file.integrity = core::StringAt(value["dist"], "integrity");
    file.shasum = core::StringAt(value["dist"], "shasum");
    if (auto at = published_at.find(key); at != published_at.end())
      file.published = core::ParseTimestamp(at->second).value_or(0);
    files.emplace(file.version, std::move(file));
  }
  return files;
}

core::Result<PypiFiles> ReadPypiFiles(std::string_view project_page) {
  core::JsonDocument doc(project_page);
  if (!doc.ok())
    return core::Status::InvalidArgument(fmt::format("the upstream index is not JSON ({})", doc.error()));
  simdjson::dom::array list, listed;
  if (doc.root()["files"].get(list) != simdjson::SUCCESS)
    return core::Status::InvalidArgument(
        "the upstream index is not a PEP 691 project page (no \"files\" list)");
  std::string name = core::StringAt(doc.root(), "name");
  std::vector<std::string> versions;
  if (doc.root()["versions"].get(listed) == simdjson::SUCCESS)
    for (simdjson::dom::element v : listed) {
      std::string_view text;
      if (v.get(text) == simdjson::SUCCESS) versions.emplace_back(text);
    }
  PypiFiles files;
  for (simdjson::dom::element item : list) {
    PublishedFile file;
    std::string filename = core::StringAt(item, "filename");
    file.url = core::StringAt(item, "url");
    if (filename.empty() || file.url.empty()) continue;
    file.version = PypiFileVersion(name, filename, versions);
    if (file.version.empty()) continue;
    file.sha256 = core::StringAt(item["hashes"], "sha256");
    file.published = core::ParseTimestamp(core::StringAt(item, "upload-time")).value_or(0);
    // PEP 714's name first, then PEP 658's.
    for (const char* mark_name : {"core-metadata", "data-dist-info-metadata"}) {
      simdjson::dom::element mark;
      if (item[mark_name].get(mark) != simdjson::SUCCESS) continue;
      bool flag = false;
      if (mark.get(flag) == simdjson::SUCCESS) {
        file.has_metadata = flag;
      } else if (mark.is_object()) {
        file.has_metadata = true;
        file.metadata_sha256 = core::StringAt(mark, "sha256");
      }
      break;
    }
    files.emplace(std::move(filename), std::move(file));
  }
  return files;
}

}  // namespace pkgtrust::gateway
