// pnpm-lock.yaml, lockfileVersion 5.x, 6.x and 9.0. Every locked package is a key of
// `packages`: "/name/1.0.0_peer@2.0.0" (5.x), "/name@1.0.0(peer@2.0.0)" (6.x),
// "name@1.0.0" (9.0), with "file:", git and tarball sources spelled in the key or in its
// `resolution`. The project and its workspace members are `importers`, not packages, so
// they are not listed. Peer-dependency variants of one package share its name and version.
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cstdlib>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "lockfile/format_parsers.hpp"

namespace pkgtrust::lockfile {

namespace {

bool TrueAt(const YAML::Node& map, const char* key) { return ScalarAt(map, key) == "true"; }

// "1.0.0(peer@2.0.0)(other@3)" and "1.0.0_peer@2.0.0" -> "1.0.0".
std::string_view WithoutPeers(std::string_view version) {
  return version.substr(0, std::min(version.find('('), version.find('_')));
}

bool IsVersion(std::string_view version) {
  return !version.empty() && version[0] >= '0' && version[0] <= '9';
}

struct Key {
  enum Kind { kRegistry, kLocal, kGitHost, kSpec, kInvalid } kind = kInvalid;
  std::string name;
  std::string version;  // or, for kSpec, what follows the name ("https://...", "file:...")
};

// "name/1.0.0", "@scope/name/1.0.0_peer" (5.x) and "name@1.0.0(peer)" (6.x), after the
// leading "/" or registry host.
Key ReadRegistryPath(std::string_view path, Key::Kind kind) {
  Key key;
  std::string_view base = path.substr(0, path.find('('));
  auto [name, version] = SplitAtVersion(base);
  if (version.empty() ||
      name.find('/', name.starts_with('@') ? name.find('/') + 1 : 0) != std::string_view::npos) {
    // 5.x: the version is the path segment after the name.
    std::size_t name_end = path.find('/', path.starts_with('@') ? path.find('/') + 1 : 0);
    if (name_end == std::string_view::npos) return key;
    name = path.substr(0, name_end);
    version = path.substr(name_end + 1);
  }
  key.kind = kind;
  key.name = std::string(name);
  key.version = std::string(WithoutPeers(version));
  return key;
}

Key ReadKey(std::string_view text, double lockfile_version) {
  if (text.starts_with("file:") || text.starts_with("link:"))
    return {Key::kLocal, {}, std::string(text.substr(5))};
  if (text.starts_with('/')) return ReadRegistryPath(text.substr(1), Key::kRegistry);
  if (lockfile_version >= 9) {
    auto [name, spec] = SplitAtVersion(text.substr(0, text.find('(')));
    if (name.empty() || spec.empty()) return {};
    if (IsVersion(spec)) return {Key::kRegistry, std::string(name), std::string(spec)};
    return {Key::kSpec, std::string(name), std::string(spec)};
  }
  // 5.x and 6.x: "<host>/<path>", a package of a registry other than the default one (whose
  // tarball the resolution may name) or of a git host.
  std::size_t slash = text.find('/');
  if (slash == std::string_view::npos) return {};
  std::string_view host = text.substr(0, slash);
  if (host == "github.com" || host == "gitlab.com" || host == "bitbucket.org" || host.starts_with("git@"))
    return {Key::kGitHost, {}, {}};
  return ReadRegistryPath(text.substr(slash + 1), Key::kRegistry);
}

// The `resolution` says where the package `name` was fetched from; a registry package's has
// only an integrity, and a tarball when it is not where the registry's layout puts it.
PackageSource SourceOf(const Key& key, std::string_view name, std::string_view text,
                       const YAML::Node& resolution) {
  std::string type = ScalarAt(resolution, "type");
  std::string repo = ScalarAt(resolution, "repo");
  std::string commit = ScalarAt(resolution, "commit");
  std::string directory = ScalarAt(resolution, "directory");
  std::string tarball = ScalarAt(resolution, "tarball");
  if (type == "git" || !repo.empty()) return {Origin::kGit, commit.empty() ? repo : repo + "#" + commit};
  if (type == "directory" || !directory.empty()) return {Origin::kPath, directory};
  if (tarball.starts_with("file:")) return {Origin::kPath, tarball.substr(5)};
  if (tarball.starts_with("https://codeload.github.com/"))
    return {Origin::kGit, RepositoryOfCodeload(tarball).value_or(tarball)};
  switch (key.kind) {
    case Key::kRegistry:
      if (tarball.empty() || IsNpmRegistryTarball(tarball, name)) return {};
      return {Origin::kUrl, tarball};
    case Key::kLocal:
      return {Origin::kPath, key.version};
    case Key::kGitHost:
      return {Origin::kGit, std::string(text)};
    case Key::kSpec:
      if (key.version.starts_with("link:") || key.version.starts_with("file:"))
        return {Origin::kPath, key.version.substr(5)};
      if (key.version.starts_with("git")) return {Origin::kGit, key.version};  // git+, github:, gitlab:
      return {Origin::kUrl, tarball.empty() ? key.version : tarball};
    case Key::kInvalid:
      break;
  }
  return {Origin::kUrl, tarball.empty() ? std::string(text) : tarball};
}

// 9.0 moved `optional` to `snapshots`, one per peer variant: a package is optional when
// every variant is.
std::set<std::string> OptionalIn9(const YAML::Node& snapshots) {
  std::set<std::string> optional, required;
  if (!snapshots.IsDefined() || !snapshots.IsMap()) return optional;
  for (const auto& member : snapshots) {
    if (!member.first.IsScalar()) continue;
    std::string_view key = member.first.Scalar();
    std::string base(key.substr(0, key.find('(')));
    (TrueAt(member.second, "optional") ? optional : required).insert(base);
  }
  for (const std::string& base : required) optional.erase(base);
  return optional;
}

// The snapshot key a dependency map's entry points to: "name@1.0.0(peer@2)", or for an
// alias ("real@1.0.0" under the alias's name) the value itself.
std::string SnapshotKey(std::string_view name, std::string_view version) {
  if (version.find('@', version.starts_with('@') ? 1 : 0) != std::string_view::npos)
    return std::string(version);
  return std::string(name) + "@" + std::string(version);
}

// Snapshots by key: yaml-cpp looks a key up by scanning the whole mapping.
using SnapshotIndex = std::unordered_map<std::string, YAML::Node>;

// Adds to `reached` every snapshot the members of `dependencies` lead to, and their own.
void Reach(const SnapshotIndex& snapshots, const YAML::Node& dependencies, std::set<std::string>& reached) {
  std::vector<std::string> pending;
  auto add_all = [&](const YAML::Node& map, bool importer) {
    if (!map.IsDefined() || !map.IsMap()) return;
    for (const auto& member : map) {
      if (!member.first.IsScalar()) continue;
      // Importers write {specifier, version}; snapshots write the version alone.
      std::string version = importer ? ScalarAt(member.second, "version")
                                     : (member.second.IsScalar() ? member.second.Scalar() : std::string());
      if (version.empty() || version.starts_with("link:")) continue;
      std::string key = SnapshotKey(member.first.Scalar(), version);
      if (reached.insert(key).second) pending.push_back(std::move(key));
    }
  };
  add_all(dependencies, true);
  while (!pending.empty()) {
    std::string key = std::move(pending.back());
    pending.pop_back();
    auto snapshot = snapshots.find(key);
    if (snapshot == snapshots.end() || !snapshot->second.IsMap()) continue;
    add_all(snapshot->second["dependencies"], false);
    add_all(snapshot->second["optionalDependencies"], false);
  }
}

// 9.0 no longer marks packages `dev`: a package is dev-only when the importers'
// devDependencies lead to it and their dependencies and optionalDependencies do not.
// Returns the package keys ("name@1.0.0") that are dev-only.
std::set<std::string> DevOnlyIn9(const YAML::Node& importers, const YAML::Node& snapshots) {
  std::set<std::string> production, development, dev_only;
  if (!importers.IsDefined() || !importers.IsMap() || !snapshots.IsDefined() || !snapshots.IsMap())
    return dev_only;
  SnapshotIndex index;
  for (const auto& snapshot : snapshots)
    if (snapshot.first.IsScalar()) index.emplace(snapshot.first.Scalar(), snapshot.second);
  for (const auto& importer : importers) {
    if (!importer.second.IsMap()) continue;
    Reach(index, importer.second["dependencies"], production);
    Reach(index, importer.second["optionalDependencies"], production);
    Reach(index, importer.second["devDependencies"], development);
  }
  auto base = [](const std::string& key) { return key.substr(0, key.find('(')); };
  std::set<std::string> production_bases;
  for (const std::string& key : production) production_bases.insert(base(key));
  for (const std::string& key : development)
    if (!production_bases.contains(base(key))) dev_only.insert(base(key));
  return dev_only;
}

Dependencies ReadPackages(const LockfileInput& input, const YAML::Node& root) {
  const YAML::Node version_node = root["lockfileVersion"];
  if (!version_node.IsDefined() || !version_node.IsScalar())
    return ParseError(input, 1, "expected a `lockfileVersion`");
  double lockfile_version = std::strtod(version_node.Scalar().c_str(), nullptr);
  const YAML::Node packages = root["packages"];
  if (!packages.IsDefined() || packages.IsNull()) return std::vector<LockedDependency>();
  if (!packages.IsMap()) return ParseError(input, packages.Mark().line + 1, "expected a `packages` mapping");
  std::set<std::string> optional_in_9, dev_in_9;
  if (lockfile_version >= 9) {
    optional_in_9 = OptionalIn9(root["snapshots"]);
    dev_in_9 = DevOnlyIn9(root["importers"], root["snapshots"]);
  }

  std::vector<LockedDependency> out;
  for (const auto& member : packages) {
    const YAML::Node& key_node = member.first;
    const YAML::Node& entry = member.second;
    int line = key_node.Mark().line + 1;
    if (!key_node.IsScalar()) return ParseError(input, line, "expected a package path as key");
    std::string_view text = key_node.Scalar();
    Key key = ReadKey(text, lockfile_version);
    if (key.kind == Key::kInvalid)
      return ParseError(
          input, line,
          "expected a package path like `/name/1.0.0` or `name@1.0.0`, got `" + std::string(text) + "`");
    // `name` and `version` are written when the key does not hold them (git, files).
    std::string name = ScalarAt(entry, "name");
    if (name.empty()) name = key.kind == Key::kLocal ? std::string() : key.name;
    std::string version = ScalarAt(entry, "version");
    if (version.empty() && key.kind != Key::kSpec && key.kind != Key::kLocal) version = key.version;
    // Nameless entries (a bare "github.com/a/b" key) and registry paths whose version is
    // not a version ("/foo/bar") are not something pnpm writes; they name no package.
    if (name.empty()) continue;
    if (key.kind == Key::kRegistry && !IsVersion(version)) continue;
    PackageSource source = SourceOf(key, name, text, entry.IsMap() ? entry["resolution"] : YAML::Node());
    LockedDependency dependency =
        Dependency(core::Ecosystem::kNpm, name, version, line, source.origin, source.detail);
    std::string base(text.substr(0, text.find('(')));
    bool dev = TrueAt(entry, "dev") || dev_in_9.contains(base);
    bool optional = TrueAt(entry, "optional") || optional_in_9.contains(base);
    if (dev) AppendNote(dependency.note, "dev");
    if (optional) AppendNote(dependency.note, "optional");
    out.push_back(std::move(dependency));
  }
  return out;
}

}  // namespace

Dependencies ParsePnpmLock(const LockfileInput& input) {
  try {
    YAML::Node root = YAML::Load(input.text);
    if (root.IsNull()) return std::vector<LockedDependency>();  // empty, or only comments
    if (!root.IsMap())
      return ParseError(input, 1, "expected a mapping with `lockfileVersion` and `packages`");
    return ReadPackages(input, root);
  } catch (const YAML::Exception& error) {
    return ParseError(input, error.mark.is_null() ? 0 : error.mark.line + 1, "not valid YAML: " + error.msg);
  }
}

}  // namespace pkgtrust::lockfile
