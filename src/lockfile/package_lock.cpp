// npm's package-lock.json and npm-shrinkwrap.json. lockfileVersion 2 and 3 list every
// installed folder under "packages" ("node_modules/a/node_modules/b"); version 1 nests
// "dependencies" objects. A version 2 file has both: "packages" is read, as npm reads it.
#include <string>

#include "core/json_document.hpp"
#include "lockfile/format_parsers.hpp"

namespace pkgtrust::lockfile {

namespace {

// Where `resolved` (or a version 1 `version` that is not a version) says the package
// `name` came from. No `resolved` at all (a bundled package, an old file) is the registry's.
Origin OriginOf(std::string_view name, std::string_view version, std::string_view resolved) {
  if (version.starts_with("file:") || resolved.starts_with("file:")) return Origin::kPath;
  if (IsGitSpec(version) || IsGitSpec(resolved)) return Origin::kGit;
  if (resolved.starts_with("http") && !IsNpmRegistryTarball(resolved, name)) return Origin::kUrl;
  return Origin::kRegistry;
}

std::string NoteOf(simdjson::dom::element entry) {
  std::string note;
  if (core::BoolAt(entry, "dev")) AppendNote(note, "dev");
  if (core::BoolAt(entry, "devOptional")) AppendNote(note, "dev, optional");
  if (core::BoolAt(entry, "optional")) AppendNote(note, "optional");
  if (core::BoolAt(entry, "inBundle") || core::BoolAt(entry, "bundled")) AppendNote(note, "bundled");
  return note;
}

class Reader {
 public:
  explicit Reader(std::string_view text) : lines_(text) {}

  // The line of the object member `"key": {`, searched forward from the last one found:
  // the DOM is walked in the order of the text. Requirement maps hold strings, never
  // objects, so they do not match.
  int LineOfEntry(std::string_view key) { return lines_.FindMember(key, '{', &cursor_); }

  // lockfileVersion 2 and 3.
  void ReadPackages(simdjson::dom::object packages, std::vector<LockedDependency>& out) {
    for (auto [path, entry] : packages) {
      int line = LineOfEntry(path);
      if (path.empty() || !entry.is_object()) continue;  // "": the project itself
      if (core::BoolAt(entry, "link")) continue;         // its target folder is an entry of its own
      std::size_t folder_end = path.rfind("node_modules/");
      std::string version = core::StringAt(entry, "version");
      std::string resolved = core::StringAt(entry, "resolved");
      std::string name = core::StringAt(entry, "name");
      LockedDependency dependency;
      if (folder_end == std::string_view::npos) {
        // A folder of the repository (a workspace member or a file: dependency).
        if (name.empty()) name = std::string(path.substr(path.rfind('/') + 1));
        dependency = Dependency(core::Ecosystem::kNpm, name, version, line, Origin::kWorkspace, path);
      } else {
        std::string installed_as(path.substr(folder_end + 13));
        if (name.empty()) name = installed_as;
        Origin origin = OriginOf(name, version, resolved);
        dependency = Dependency(core::Ecosystem::kNpm, name, version, line, origin,
                                origin == Origin::kRegistry ? "" : resolved);
        if (name != installed_as) dependency.note = "alias " + installed_as;
      }
      AppendNote(dependency.note, NoteOf(entry));
      out.push_back(std::move(dependency));
    }
  }

  // lockfileVersion 1: {"name": {"version": ..., "dependencies": {nested}}}.
  void ReadDependencies(simdjson::dom::object dependencies, std::vector<LockedDependency>& out, int depth) {
    if (depth > 64) return;  // npm nests a folder per conflict; deeper is not a real lockfile
    for (auto [key, entry] : dependencies) {
      int line = LineOfEntry(key);
      if (!entry.is_object()) continue;
      std::string version = core::StringAt(entry, "version");
      std::string resolved = core::StringAt(entry, "resolved");
      std::string name(key);
      std::string note;
      if (version.starts_with("npm:")) {  // "npm:@babel/code-frame@7.0.0": installed as `key`
        std::string_view aliased = std::string_view(version).substr(4);
        std::size_t at = aliased.rfind('@');
        if (at != std::string_view::npos && at > 0) {
          name = std::string(aliased.substr(0, at));
          version = std::string(aliased.substr(at + 1));
          note = "alias " + std::string(key);
        }
      }
      Origin origin = OriginOf(name, version, resolved);
      LockedDependency dependency;
      if (origin == Origin::kRegistry) {
        dependency = Dependency(core::Ecosystem::kNpm, name, version, line);
      } else {
        // The version field holds the source ("file:deps/x", "github:a/b#commit").
        std::string detail = (origin == Origin::kUrl || version.empty()) ? resolved : version;
        dependency = Dependency(core::Ecosystem::kNpm, name, "", line, origin, detail);
      }
      dependency.note = note;
      AppendNote(dependency.note, NoteOf(entry));
      out.push_back(std::move(dependency));
      simdjson::dom::object nested;
      if (core::AsObject(entry["dependencies"], nested)) ReadDependencies(nested, out, depth + 1);
    }
  }

 private:
  LineIndex lines_;
  std::size_t cursor_ = 0;
};

}  // namespace

Dependencies ParsePackageLock(const LockfileInput& input) {
  core::JsonDocument document(input.text);
  if (!document.ok()) {
    return InvalidJson(input, input.text, document.error());
  }
  simdjson::dom::object root;
  if (!core::AsObject(document.root(), root))
    return ParseError(input, 1, "expected a JSON object with \"packages\" or \"dependencies\"");
  std::vector<LockedDependency> out;
  Reader reader(input.text);
  simdjson::dom::object packages, dependencies;
  if (core::AsObject(root["packages"], packages)) {
    reader.ReadPackages(packages, out);
  } else if (core::AsObject(root["dependencies"], dependencies)) {
    reader.ReadDependencies(dependencies, out, 0);
  } else if (!root["packages"].error() || !root["dependencies"].error()) {
    return ParseError(input, 0, "expected \"packages\" and \"dependencies\" to be JSON objects");
  } else if (core::IntAt(document.root(), "lockfileVersion", 0) == 0) {
    return ParseError(input, 1, "expected a JSON object with \"packages\" or \"dependencies\"");
  }
  return out;
}

}  // namespace pkgtrust::lockfile
