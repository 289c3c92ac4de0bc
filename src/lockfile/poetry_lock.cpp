// poetry.lock (lock-version 1.x and 2.x): one `[[package]]` table per locked package with
// its exact version; a `[package.source]` table when it does not come from PyPI. Groups
// say which installs need it: `category` in 1.x, `groups` in 2.x, plus `optional`.
#include <fmt/format.h>

#include <string>
#include <string_view>
#include <utility>

#include "lockfile/format_parsers.hpp"
#include "lockfile/toml_tables.hpp"

namespace pkgtrust::lockfile {

namespace {

PackageSource ReadSource(const toml::table& package) {
  const toml::table* source = package["source"].as_table();
  if (source == nullptr) return {};
  std::string_view type = StringOf(*source, "type");
  std::string_view url = StringOf(*source, "url");
  if (type == "git") {
    // `resolved_reference` is the commit installed; `reference` only the branch or tag asked for.
    std::string_view commit = StringOf(*source, "resolved_reference");
    if (commit.empty()) commit = StringOf(*source, "reference");
    return {Origin::kGit, commit.empty() ? std::string(url) : fmt::format("{}#{}", url, commit), {}};
  }
  if (type == "directory") {
    // `develop = true` is an editable install of the project's own code.
    return {package["develop"].value_or(false) ? Origin::kWorkspace : Origin::kPath, std::string(url), {}};
  }
  if (type == "file") return {Origin::kPath, std::string(url), {}};
  if (type == "url") return {Origin::kUrl, std::string(url), {}};
  // "legacy" (a PEP 503 index other than PyPI, such as a mirror or a company's own) and
  // the like still serve registry packages; the note says which index.
  if (!url.empty()) return {Origin::kRegistry, {}, fmt::format("index {}", url)};
  return {};
}

// "dev", "optional", group names: v1's `category`, v2's `groups` without the default
// "main", and `optional` (installed only with an extra).
std::string GroupNote(const toml::table& package) {
  std::string note;
  std::string_view category = StringOf(package, "category");
  if (category != "main") AppendNote(note, category);
  if (const toml::array* groups = package["groups"].as_array()) {
    for (const toml::node& group : *groups) {
      std::string_view name = group.value_or(std::string_view());
      if (name != "main") AppendNote(note, name);
    }
  }
  if (package["optional"].value_or(false)) AppendNote(note, "optional");
  return note;
}

}  // namespace

Dependencies ParsePoetryLock(const LockfileInput& input) {
  core::Result<toml::table> document = ParseToml(input);
  if (!document.ok()) return document.status();
  return ReadPackageTables(input, *document, {}, [](const toml::table& package) {
    PackageSource source = ReadSource(package);
    std::string note = GroupNote(package);
    AppendNote(note, source.note);
    source.note = std::move(note);
    return source;
  });
}

}  // namespace pkgtrust::lockfile
