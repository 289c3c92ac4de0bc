#include "pkgtrust/gateway/requests.hpp"

#include <fmt/format.h>

#include "pkgtrust/core/package_name.hpp"
#include "pkgtrust/core/percent_encoding.hpp"
#include "pkgtrust/core/version.hpp"

namespace pkgtrust::gateway {

namespace {

core::Status Refuse(std::string_view what, std::string_view path) {
  return core::Status::InvalidArgument(fmt::format("{}: '{}'", what, path.substr(0, 200)));
}

// A path segment that may reach an upstream URL: no climbing, no hidden separators or controls.
bool SafeSegment(std::string_view segment) {
  if (segment.empty() || segment == "." || segment == "..") return false;
  for (char c : segment)
    if (c == '/' || c == '\\' || static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return false;
  return true;
}

}  // namespace

core::Result<NpmRequest> ParseNpmRequest(std::string_view path) {
  NpmRequest request;
  if (path == "-/npm/v1/security/advisories/bulk") {
    request.kind = NpmRequest::Kind::kAudit;
    return request;
  }
  // Scoped names arrive as "@scope%2fname" (npm) or "@scope/name" (other clients).
  auto decoded = core::PercentDecode(path);
  if (!decoded.ok()) return Refuse("a malformed percent escape", path);
  std::string_view rest = *decoded;
  std::string name;
  std::size_t name_end;
  if (rest.starts_with('@')) {
    std::size_t slash = rest.find('/');
    if (slash == std::string_view::npos) return Refuse("a scope without a package name", path);
    name_end = rest.find('/', slash + 1);
  } else {
    name_end = rest.find('/');
  }
  name = std::string(rest.substr(0, name_end));
  auto key = core::MakePackageKey(core::Ecosystem::kNpm, name);
  if (!key.ok()) return Refuse(fmt::format("not an npm package name ({})", key.status().message()), path);
  request.key = *key;
  request.name = name;
  std::string encoded_name = name;
  if (std::size_t slash = encoded_name.find('/'); slash != std::string::npos)
    encoded_name.replace(slash, 1, "%2f");
  request.packument_path = encoded_name;
  if (name_end == std::string_view::npos || name_end + 1 == rest.size()) {
    request.upstream_path = encoded_name;
    return request;
  }
  // "<name>/-/<file>.tgz": the file is named after the unscoped name and the version.
  std::string_view tail = rest.substr(name_end + 1);
  if (!tail.starts_with("-/")) return Refuse("not a packument or tarball path", path);
  std::string_view file = tail.substr(2);
  std::string unscoped = name.substr(name.find('/') == std::string::npos ? 0 : name.find('/') + 1);
  if (!SafeSegment(file) || !file.ends_with(".tgz") || !file.starts_with(unscoped + "-") ||
      file.size() <= unscoped.size() + 1 + 4)
    return Refuse(fmt::format("not a tarball of {}", name), path);
  request.kind = NpmRequest::Kind::kTarball;
  request.version = std::string(file.substr(unscoped.size() + 1, file.size() - unscoped.size() - 1 - 4));
  // The version decides which advisories and publish time apply, so it must be one npm could
  // publish: "1.0.0.tgz?" or an escaped separator never reaches the upstream.
  if (!core::IsValidVersion(core::Ecosystem::kNpm, request.version))
    return Refuse(fmt::format("not a tarball of {} (no valid version in its name)", name), path);
  request.upstream_path = name + "/-/" + unscoped + "-" + request.version + ".tgz";
  return request;
}

core::Result<PypiRequest> ParsePypiRequest(std::string_view path) {
  PypiRequest request;
  auto decoded = core::PercentDecode(path);
  if (!decoded.ok()) return Refuse("a malformed percent escape", path);
  std::string_view rest = *decoded;
  if (rest.starts_with("simple/")) {
    std::string_view project = rest.substr(7);
    if (project.ends_with('/')) project.remove_suffix(1);
    if (!SafeSegment(project)) return Refuse("not a project page", path);
    auto key = core::MakePackageKey(core::Ecosystem::kPypi, project);
    if (!key.ok()) return Refuse(fmt::format("not a PyPI project name ({})", key.status().message()), path);
    request.key = *key;
    request.upstream_path = "simple/" + key->name + "/";
    return request;
  }
  if (!rest.starts_with("files/")) return Refuse("not a simple-index or file path", path);
  if (!path.starts_with("files/")) return Refuse("not a file path", path);
  // "files/<project>/<path on the file host>": the project names the index page that
  // publishes the file's hash and version.
  std::string_view encoded = path.substr(6);
  std::size_t project_end = encoded.find('/');
  if (project_end == std::string_view::npos) return Refuse("not a file path (no project)", path);
  std::string_view project = encoded.substr(0, project_end);
  if (!SafeSegment(project)) return Refuse("not a file path", path);
  auto key = core::MakePackageKey(core::Ecosystem::kPypi, project);
  if (!key.ok()) return Refuse(fmt::format("not a PyPI project name ({})", key.status().message()), path);
  request.key = *key;
  encoded.remove_prefix(project_end + 1);
  auto file_decoded = core::PercentDecode(encoded);
  if (!file_decoded.ok()) return Refuse("not a file path", path);
  std::string_view file_path = *file_decoded;
  // Every segment of the file's path is checked: the path is appended to the file host's URL.
  std::string_view walk = file_path;
  std::string_view last;
  while (true) {
    std::size_t slash = walk.find('/');
    std::string_view segment = walk.substr(0, slash);
    if (!SafeSegment(segment)) return Refuse("not a file path", path);
    last = segment;
    if (slash == std::string_view::npos) break;
    walk.remove_prefix(slash + 1);
  }
  request.kind = PypiRequest::Kind::kFile;
  request.upstream_path = std::string(encoded);  // as the client sent it, still encoded
  request.filename = std::string(last);
  if (request.filename.ends_with(".metadata")) {
    request.metadata = true;
    request.filename.resize(request.filename.size() - 9);
  }
  return request;
}

}  // namespace pkgtrust::gateway
