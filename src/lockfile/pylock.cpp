// pylock.toml (PEP 751): one `[[packages]]` table per package to install. Its `version` is
// optional; where it comes from is `index` (a registry), `vcs`, `directory` or `archive`,
// each a table of its own. Written by pip, PDM, uv and others.
#include <fmt/format.h>

#include <string>
#include <string_view>
#include <utility>

#include "lockfile/format_parsers.hpp"
#include "lockfile/toml_tables.hpp"

namespace pkgtrust::lockfile {

namespace {

PackageSource ReadSource(const toml::table& package) {
  if (const toml::table* vcs = package["vcs"].as_table()) {
    // `commit-id` is what is locked; the location is a `url` or a local `path`.
    std::string_view location = StringOf(*vcs, "url");
    if (location.empty()) location = StringOf(*vcs, "path");
    std::string_view commit = StringOf(*vcs, "commit-id");
    std::string detail = commit.empty() ? std::string(location) : fmt::format("{}#{}", location, commit);
    if (StringOf(*vcs, "type") == "git") return {Origin::kGit, std::move(detail), {}};
    return {Origin::kUrl, std::move(detail), std::string(StringOf(*vcs, "type"))};  // hg, svn, bzr
  }
  if (const toml::table* directory = package["directory"].as_table()) {
    // An editable folder, or the lock's own folder, is the project's own code.
    std::string_view path = StringOf(*directory, "path");
    bool own = (*directory)["editable"].value_or(false) || path == ".";
    return {own ? Origin::kWorkspace : Origin::kPath, std::string(path), {}};
  }
  if (const toml::table* archive = package["archive"].as_table()) {
    if (std::string_view url = StringOf(*archive, "url"); !url.empty())
      return {Origin::kUrl, std::string(url), {}};
    return {Origin::kPath, std::string(StringOf(*archive, "path")), {}};
  }
  std::string_view index = StringOf(package, "index");
  while (index.ends_with('/')) index.remove_suffix(1);  // the note names it without them
  // Another index (a mirror, a company's own) still serves registry packages.
  if (!index.empty() && !IsPypiIndex(index)) return {Origin::kRegistry, {}, fmt::format("index {}", index)};
  return {};
}

}  // namespace

Dependencies ParsePylock(const LockfileInput& input) {
  core::Result<toml::table> document = ParseToml(input);
  if (!document.ok()) return document.status();
  return ReadPackageTables(input, *document, {.key = "packages"}, ReadSource);
}

}  // namespace pkgtrust::lockfile
