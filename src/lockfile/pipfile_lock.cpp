// Pipfile.lock (pipenv, pipfile-spec 6): JSON with a `default` and a `develop` object,
// each mapping a package name to its pin ("version": "==1.2.3") or, for packages not from
// an index, to a `git`, `path` or `file` location. Lines are found by searching the key
// text forward through the file, since the JSON reader does not keep positions.
#include <fmt/format.h>

#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/json_document.hpp"
#include "lockfile/format_parsers.hpp"

namespace pkgtrust::lockfile {

namespace {

constexpr std::string_view kSections[] = {"default", "develop"};

// Index names (`"index": "pypi"`) to their URLs, from `_meta.sources`.
std::map<std::string, std::string, std::less<>> IndexUrls(simdjson::dom::object root) {
  std::map<std::string, std::string, std::less<>> urls;
  simdjson::dom::array sources;
  if (!core::AsArray(root["_meta"]["sources"], sources)) return urls;
  for (simdjson::dom::element source : sources)
    urls[core::StringAt(source, "name")] = core::StringAt(source, "url");
  return urls;
}

PackageSource ReadSource(simdjson::dom::element entry,
                         const std::map<std::string, std::string, std::less<>>& index_urls) {
  if (std::string git = core::StringAt(entry, "git"); !git.empty()) {
    std::string ref = core::StringAt(entry, "ref");
    return {Origin::kGit, ref.empty() ? git : fmt::format("{}#{}", git, ref), {}};
  }
  if (std::string path = core::StringAt(entry, "path"); !path.empty()) {
    // An editable folder, or the project's own (`.`), is the project's own code.
    bool own = core::BoolAt(entry, "editable") || path == ".";
    return {own ? Origin::kWorkspace : Origin::kPath, path, {}};
  }
  if (std::string file = core::StringAt(entry, "file"); !file.empty()) return {Origin::kUrl, file, {}};
  std::string index = core::StringAt(entry, "index");
  if (index.empty()) return {};
  auto url = index_urls.find(index);
  std::string_view location = url != index_urls.end() && !url->second.empty() ? url->second : index;
  if (IsPypiIndex(location) || location == "pypi") return {};
  // Another index (a mirror, a company's own) still serves registry packages.
  return {Origin::kRegistry, {}, fmt::format("index {}", location)};
}

}  // namespace

Dependencies ParsePipfileLock(const LockfileInput& input) {
  std::vector<LockedDependency> dependencies;
  // An empty file locks nothing (as osv-scalibr reads it too), though it is not JSON.
  if (Trim(input.text).empty()) return dependencies;
  core::JsonDocument document(input.text);
  if (!document.ok()) {
    return InvalidJson(input, input.text, document.error());
  }
  simdjson::dom::object root;
  if (!core::AsObject(document.root(), root))
    return ParseError(input, 0, "expected a JSON object with `default` and `develop` sections");
  auto index_urls = IndexUrls(root);
  LineIndex lines(input.text);
  for (std::string_view section : kSections) {
    core::JsonValue value = root[section];
    if (value.error() == simdjson::NO_SUCH_FIELD) continue;
    std::size_t from = 0;
    int section_line = lines.FindMember(section, 0, &from);
    simdjson::dom::object packages;
    if (!core::AsObject(value, packages))
      return ParseError(input, section_line,
                        fmt::format("expected `{}` to be an object of packages", section));
    for (auto [key, entry] : packages) {
      int line = lines.FindMember(key, 0, &from);
      if (entry.type() != simdjson::dom::element_type::OBJECT)
        return ParseError(input, line, fmt::format("expected an object for the package `{}`", key));
      PackageSource source = ReadSource(entry, index_urls);
      // "==1.2.3" is the pin; anything else ("*", ">=1") pins nothing a check can judge.
      std::string version = core::StringAt(entry, "version");
      std::string note;
      if (version.starts_with("===")) {
        version.erase(0, 3);
      } else if (version.starts_with("==")) {
        version.erase(0, 2);
      } else if (!version.empty()) {
        version.clear();
        AppendNote(note, "not pinned");
      }
      LockedDependency dependency =
          Dependency(core::Ecosystem::kPypi, key, version, line, source.origin, source.detail);
      if (section == "develop") AppendNote(note, "develop");
      AppendNote(note, source.note);
      dependency.note = std::move(note);
      dependencies.push_back(std::move(dependency));
    }
  }
  return dependencies;
}

}  // namespace pkgtrust::lockfile
