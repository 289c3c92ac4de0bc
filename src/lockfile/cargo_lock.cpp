// Cargo.lock (versions 1 to 4): one `[[package]]` table per locked crate, with its name,
// exact version and `source`. The source says where the crate comes from: crates.io (the
// registry we score), another registry, a git repository, or nothing at all for the
// workspace's own members and path dependencies.
#include <string>
#include <string_view>

#include "lockfile/format_parsers.hpp"
#include "lockfile/toml_tables.hpp"

namespace pkgtrust::lockfile {

namespace {

// crates.io, as the git index (Cargo before 1.70) or the sparse index names it.
constexpr std::string_view kCratesIoSources[] = {
    "registry+https://github.com/rust-lang/crates.io-index",
    "sparse+https://index.crates.io/",
};

PackageSource ReadSource(std::string_view source) {
  if (source.empty()) {
    // No source: a workspace member or a path dependency (Cargo.lock does not tell them
    // apart). The root package itself is among them, so it is listed as kWorkspace and
    // never looked up.
    return {Origin::kWorkspace, {}, {}};
  }
  for (std::string_view crates_io : kCratesIoSources)
    if (source == crates_io) return {Origin::kRegistry, {}, {}};
  if (source.starts_with("git+")) {
    return GitUrlSource(source.substr(4));  // "git+https://host/repo?branch=main#<commit>"
  }
  if (source.starts_with("path+")) return {Origin::kPath, std::string(source.substr(5)), {}};
  if (source.starts_with("registry+") || source.starts_with("sparse+")) {
    // Another registry (a company's own, a mirror): a crate of the same name on crates.io
    // is not this crate, so it is not looked up there.
    return {Origin::kUrl, std::string(source.substr(source.find('+') + 1)), "alternative registry"};
  }
  return {Origin::kUrl, std::string(source), {}};
}

}  // namespace

Dependencies ParseCargoLock(const LockfileInput& input) {
  core::Result<toml::table> document = ParseToml(input);
  if (!document.ok()) return document.status();
  // A crate is reported at its `[[package]]` header line (the Python formats at `name =`).
  PackageArray crates{.ecosystem = core::Ecosystem::kCrates,
                      .line = PackageArray::Line::kHeader,
                      .missing_name = "expected a `name` in the `[[package]]` table"};
  return ReadPackageTables(input, *document, crates, [](const toml::table& package) {
    return ReadSource(StringOf(package, "source"));
  });
}

}  // namespace pkgtrust::lockfile
