// bun.lock, bun's text lockfile: JSON with trailing commas (JSONC). Its `packages` object
// maps an install path ("chalk", "chalk/supports-color", an alias) to an array whose first
// element is "name@version" or "name@<source>" (github:, git+, file:, link:, workspace:, a
// URL). The project itself is a `workspaces` entry, not a package, so it is not listed;
// the other workspace members are packages "name@workspace:path", listed as kWorkspace.
#include <string>
#include <string_view>

#include "core/json_document.hpp"
#include "lockfile/format_parsers.hpp"

namespace pkgtrust::lockfile {

namespace {

// The text as strict JSON: comments and trailing commas outside strings become spaces, so
// every byte keeps its offset (and its line).
std::string StrictJson(std::string_view text) {
  std::string out(text);
  std::size_t pending_comma = std::string::npos;
  bool in_string = false;
  for (std::size_t i = 0; i < out.size(); ++i) {
    char c = out[i];
    if (in_string) {
      if (c == '\\')
        ++i;
      else if (c == '"')
        in_string = false;
      continue;
    }
    if (c == '/' && i + 1 < out.size() && out[i + 1] == '/') {
      for (; i < out.size() && out[i] != '\n'; ++i) out[i] = ' ';
      continue;
    }
    if (c == '/' && i + 1 < out.size() && out[i + 1] == '*') {
      std::size_t end = out.find("*/", i + 2);
      end = end == std::string::npos ? out.size() : end + 2;
      for (; i < end; ++i)
        if (out[i] != '\n') out[i] = ' ';
      --i;
      continue;
    }
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') continue;
    if ((c == '}' || c == ']') && pending_comma != std::string::npos) out[pending_comma] = ' ';
    pending_comma = c == ',' ? i : std::string::npos;
    if (c == '"') in_string = true;
  }
  return out;
}

// "chalk/supports-color" -> "supports-color"; "a/@scope/name" -> "@scope/name".
std::string_view InstalledName(std::string_view path) {
  std::size_t slash = path.rfind('/');
  if (slash == std::string_view::npos) return path;
  std::size_t before = slash == 0 ? std::string_view::npos : path.rfind('/', slash - 1);
  std::string_view previous = path.substr(before == std::string_view::npos ? 0 : before + 1);
  return previous.starts_with('@') ? previous : path.substr(slash + 1);
}

}  // namespace

Dependencies ParseBunLock(const LockfileInput& input) {
  if (Trim(input.text).empty()) return std::vector<LockedDependency>();
  std::string json = StrictJson(input.text);
  core::JsonDocument document(json);
  if (!document.ok()) {
    return InvalidJson(input, json, document.error());
  }
  simdjson::dom::object root, packages;
  if (!core::AsObject(document.root(), root)) return ParseError(input, 1, "expected a JSON object");
  if (root["packages"].error() == simdjson::NO_SUCH_FIELD) return std::vector<LockedDependency>();
  if (!core::AsObject(root["packages"], packages))
    return ParseError(input, 0, "expected a `packages` object");

  // Each entry's value is an array, so a dependency named like a later package (a string
  // value) is passed over.
  LineIndex lines(json);
  std::size_t cursor = 0;
  lines.FindMember("packages", '{', &cursor);
  std::vector<LockedDependency> out;
  for (auto [path, entry] : packages) {
    int line = lines.FindMember(path, '[', &cursor);
    simdjson::dom::array tuple;
    std::string_view spec;
    if (!core::AsArray(entry, tuple) || tuple.size() == 0 || tuple.at(0).get(spec) != simdjson::SUCCESS)
      return ParseError(input, line,
                        "expected `" + std::string(path) + "` to be an array starting with \"name@version\"");
    auto [name, version] = SplitAtVersion(spec);
    if (name.size() == spec.size())  // no '@' after the name
      return ParseError(input, line, "expected \"name@version\", got \"" + std::string(spec) + "\"");
    if (version.starts_with("root:")) continue;  // the project itself
    // Registry packages are [spec, tarball, info, integrity]; the tarball is "" for the
    // default registry's. Other sources have no version of their own (bun does not record one).
    Origin origin = Origin::kRegistry;
    std::string detail;
    std::string_view locked_version;  // empty for sources other than a registry
    std::string_view tarball;
    if (version.starts_with("workspace:")) {
      origin = Origin::kWorkspace;
      detail = version.substr(10);
    } else if (version.starts_with("file:") || version.starts_with("link:")) {
      origin = Origin::kPath;
      detail = version.substr(5);
    } else if (IsGitSpec(version)) {
      origin = Origin::kGit;
      detail = version;
    } else if (version.starts_with("http://") || version.starts_with("https://")) {
      origin = Origin::kUrl;
      detail = version;
    } else {
      locked_version = version;
      if (tuple.size() > 1 && tuple.at(1).get(tarball) == simdjson::SUCCESS && !tarball.empty() &&
          !IsNpmRegistryTarball(tarball, name)) {
        origin = Origin::kUrl;
        detail = tarball;
      }
    }
    LockedDependency dependency =
        Dependency(core::Ecosystem::kNpm, name, locked_version, line, origin, detail);
    std::string_view installed_as = InstalledName(path);
    if (installed_as != name) dependency.note = "alias " + std::string(installed_as);
    out.push_back(std::move(dependency));
  }
  return out;
}

}  // namespace pkgtrust::lockfile
