#include "lockfile/toml_tables.hpp"

#include <fmt/format.h>

#include <utility>
#include <vector>

namespace pkgtrust::lockfile {

namespace {

int LineOf(const toml::node& node) { return static_cast<int>(node.source().begin.line); }

}  // namespace

// toml++ reports a syntax error by exception or by result, as TOML_EXCEPTIONS was set
// when the library was built (Debian builds it with exceptions).
core::Result<toml::table> ParseToml(const LockfileInput& input) {
#if TOML_EXCEPTIONS
  try {
    return toml::parse(input.text);
  } catch (const toml::parse_error& error) {
    return ParseError(input, static_cast<int>(error.source().begin.line),
                      fmt::format("not valid TOML: {}", error.description()));
  }
#else
  toml::parse_result result = toml::parse(input.text);
  if (!result) {
    return ParseError(input, static_cast<int>(result.error().source().begin.line),
                      fmt::format("not valid TOML: {}", result.error().description()));
  }
  return std::move(result).table();
#endif
}

std::string_view StringOf(const toml::table& table, std::string_view key) {
  return table[key].value_or(std::string_view());
}

PackageSource GitUrlSource(std::string_view url) {
  std::string_view commit;
  if (std::size_t hash = url.find('#'); hash != std::string_view::npos) {
    commit = url.substr(hash + 1);
    url = url.substr(0, hash);
  }
  url = url.substr(0, url.find('?'));
  return {Origin::kGit, commit.empty() ? std::string(url) : fmt::format("{}#{}", url, commit), {}};
}

Dependencies ReadPackageTables(const LockfileInput& input, const toml::table& document,
                               const PackageArray& array,
                               const std::function<PackageSource(const toml::table& package)>& read) {
  std::vector<LockedDependency> dependencies;
  const toml::node* packages = document.get(array.key);
  if (packages == nullptr) return dependencies;  // nothing locked (a workspace without dependencies)
  std::string not_tables = fmt::format("expected `[[{}]]` tables", array.key);
  std::string missing_name = array.missing_name.empty()
                                 ? fmt::format("expected a `name` string in each `[[{}]]` table", array.key)
                                 : std::string(array.missing_name);
  const toml::array* tables = packages->as_array();
  if (tables == nullptr) return ParseError(input, LineOf(*packages), not_tables);
  for (const toml::node& node : *tables) {
    const toml::table* package = node.as_table();
    if (package == nullptr) return ParseError(input, LineOf(node), not_tables);
    const toml::node* name = package->get("name");
    std::string_view name_text = name != nullptr ? name->value_or(std::string_view()) : std::string_view();
    if (name_text.empty()) return ParseError(input, LineOf(*package), missing_name);
    PackageSource source = read(*package);
    int line = array.line == PackageArray::Line::kHeader ? LineOf(*package) : LineOf(*name);
    LockedDependency dependency = Dependency(array.ecosystem, name_text, StringOf(*package, "version"), line,
                                             source.origin, source.detail);
    dependency.note = std::move(source.note);
    dependencies.push_back(std::move(dependency));
  }
  return dependencies;
}

}  // namespace pkgtrust::lockfile
