// uv.lock: one `[[package]]` table per locked package, its `source` an inline table that
// says where it comes from: `registry`, `git`, `url`, `path`, `directory`, or `editable` /
// `virtual` for the project's own members (the root project among them).
#include <fmt/format.h>

#include <map>
#include <set>
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
  if (const auto registry = (*source)["registry"].value<std::string_view>()) {
    if (IsPypiIndex(*registry)) return {};
    // Another index (a mirror, a company's own, a local folder of wheels): still a
    // registry package, and the note says which index.
    return {Origin::kRegistry, {}, fmt::format("index {}", *registry)};
  }
  if (const auto git = (*source)["git"].value<std::string_view>()) {
    return GitUrlSource(*git);  // "https://host/repo?rev=main#<commit>"
  }
  // The project itself (`virtual = "."` or `editable = "."`) and its workspace members.
  for (std::string_view key : {"editable", "virtual"})
    if (const auto path = (*source)[key].value<std::string_view>())
      return {Origin::kWorkspace, std::string(*path), {}};
  for (std::string_view key : {"directory", "path"})
    if (const auto path = (*source)[key].value<std::string_view>())
      return {Origin::kPath, std::string(*path), {}};
  if (const auto url = (*source)["url"].value<std::string_view>())
    return {Origin::kUrl, std::string(*url), {}};
  return {};
}

// The extras (`optional-dependencies`) and dependency groups (`dev-dependencies`) of the
// project's own packages, by the names they list. Only direct members are known: a
// package that only a dev tool needs is not marked "dev".
std::map<std::string, std::set<std::string>, std::less<>> GroupsByName(const toml::table& document) {
  std::map<std::string, std::set<std::string>, std::less<>> groups;
  const toml::array* packages = document["package"].as_array();
  if (packages == nullptr) return groups;
  for (const toml::node& node : *packages) {
    const toml::table* package = node.as_table();
    if (package == nullptr) continue;  // an error ReadPackageTables reports
    for (std::string_view section : {"optional-dependencies", "dev-dependencies"}) {
      const toml::table* table = (*package)[section].as_table();
      if (table == nullptr) continue;
      for (const auto& [group, members] : *table) {
        const toml::array* list = members.as_array();
        if (list == nullptr) continue;
        for (const toml::node& member : *list) {
          std::string_view name =
              member.as_table() ? StringOf(*member.as_table(), "name") : std::string_view();
          if (!name.empty()) groups[std::string(name)].insert(std::string(group.str()));
        }
      }
    }
  }
  return groups;
}

}  // namespace

Dependencies ParseUvLock(const LockfileInput& input) {
  core::Result<toml::table> document = ParseToml(input);
  if (!document.ok()) return document.status();
  auto groups = GroupsByName(*document);
  return ReadPackageTables(input, *document, {}, [&groups](const toml::table& package) {
    PackageSource source = ReadSource(package);
    std::string note;
    if (auto found = groups.find(StringOf(package, "name")); found != groups.end()) {
      for (const std::string& group : found->second) AppendNote(note, group);
    }
    AppendNote(note, source.note);
    source.note = std::move(note);
    return source;
  });
}

}  // namespace pkgtrust::lockfile
