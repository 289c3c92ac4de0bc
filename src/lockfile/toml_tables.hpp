// What the TOML readers (Cargo.lock, poetry.lock, uv.lock, pdm.lock, pylock.toml) share:
// toml++ parsing as a Status, and the array of tables (`[[package]]`) that each of them
// locks its packages in, read into dependencies. Private to lockfile/.
#pragma once

#include <toml++/toml.h>

#include <functional>
#include <string>
#include <string_view>

#include "lockfile/format_parsers.hpp"
#include "pkgtrust/core/ecosystem.hpp"

namespace pkgtrust::lockfile {

// The document, or InvalidArgument "<path>:<line>: not valid TOML: <what>".
core::Result<toml::table> ParseToml(const LockfileInput& input);

// The string at `key`; empty when it is missing or not a string.
std::string_view StringOf(const toml::table& table, std::string_view key);

// A git source written as one URL, "<url>?<query>#<commit>" (Cargo after its "git+", uv):
// the query only names the ref asked for; the commit after '#' is what is locked, and the
// detail is "<url>#<commit>".
PackageSource GitUrlSource(std::string_view url);

// How a format lays out its packages. The defaults are the Python formats'; tests pin each
// format's line and messages, so Cargo keeps its own.
struct PackageArray {
  enum class Line { kName, kHeader };
  std::string_view key = "package";  // the array of tables, `[[package]]`
  core::Ecosystem ecosystem = core::Ecosystem::kPypi;
  Line line = Line::kName;  // where a package is reported: its `name =` or its header
  // The error for a table without a non-empty `name` string; empty for "expected a `name`
  // string in each `[[<key>]]` table".
  std::string_view missing_name;
};

// The packages of the array, one per table in file order, each with its `name` and
// `version` and what `read` says of its source. None when the document has no such array;
// fails with "expected `[[<key>]]` tables" when it is something else, and with the missing
// name's error (at the header) when a table has no name.
Dependencies ReadPackageTables(const LockfileInput& input, const toml::table& document,
                               const PackageArray& array,
                               const std::function<PackageSource(const toml::table& package)>& read);

}  // namespace pkgtrust::lockfile
