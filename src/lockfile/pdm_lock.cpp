// pdm.lock: one `[[package]]` table per locked package with its exact version. Since
// lock_version 4.4 each package lists the `groups` that need it ("default", "dev", an
// optional group); `git`/`revision`, `path` and `url` mark packages not from an index.
#include <fmt/format.h>

#include <string>
#include <string_view>

#include "lockfile/format_parsers.hpp"
#include "lockfile/toml_tables.hpp"

namespace pkgtrust::lockfile {

namespace {

PackageSource ReadSource(const toml::table& package) {
  if (std::string_view git = StringOf(package, "git"); !git.empty()) {
    // `revision` is the commit locked; `ref` only the branch or tag asked for.
    std::string_view commit = StringOf(package, "revision");
    if (commit.empty()) commit = StringOf(package, "ref");
    return {Origin::kGit, commit.empty() ? std::string(git) : fmt::format("{}#{}", git, commit)};
  }
  if (std::string_view path = StringOf(package, "path"); !path.empty()) {
    // An editable local package is the project's own code.
    return {package["editable"].value_or(false) ? Origin::kWorkspace : Origin::kPath, std::string(path)};
  }
  if (std::string_view url = StringOf(package, "url"); !url.empty()) return {Origin::kUrl, std::string(url)};
  return {};
}

// The groups other than "default" that need the package ("dev", an optional group).
std::string GroupNote(const toml::table& package) {
  std::string note;
  if (const toml::array* groups = package["groups"].as_array()) {
    for (const toml::node& group : *groups) {
      std::string_view name = group.value_or(std::string_view());
      if (name != "default") AppendNote(note, name);
    }
  }
  return note;
}

}  // namespace

Dependencies ParsePdmLock(const LockfileInput& input) {
  core::Result<toml::table> document = ParseToml(input);
  if (!document.ok()) return document.status();
  return ReadPackageTables(input, *document, {}, [](const toml::table& package) {
    PackageSource source = ReadSource(package);
    source.note = GroupNote(package);
    return source;
  });
}

}  // namespace pkgtrust::lockfile
