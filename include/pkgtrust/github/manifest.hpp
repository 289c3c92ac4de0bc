// Package manifests in a repository (package.json, pyproject.toml, setup.cfg, setup.py,
// Cargo.toml, pom.xml, go.mod): where the repository stage looks for the package's
// manifest and which package name a manifest declares. A repository whose manifest
// declares the package's name really is the package's source, not merely a repository
// with a similar name.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "pkgtrust/core/ecosystem.hpp"
#include "pkgtrust/core/status.hpp"

namespace pkgtrust::github {

// The paths to try, in order, for `package` in a repository whose declared subdirectory
// (npm's repository.directory, a Go module's path below the repository, a monorepo URL's
// /tree/<branch>/<dir>) is `subdirectory`. At most three, the likeliest first.
std::vector<std::string> ManifestPaths(const core::PackageKey& package, std::string_view subdirectory);

// The package name `text` (the file at `path`) declares: package.json's "name",
// pyproject's [project] or [tool.poetry] name, setup.cfg's [metadata] name, a literal
// name= in setup.py, Cargo.toml's [package] name, a POM's groupId:artifactId (the groupId
// may come from <parent>), go.mod's module path. Empty when the file declares none that
// can be read without running it (a name from a variable, a workspace-only Cargo.toml, a
// POM with no artifactId).
std::string DeclaredPackageName(std::string_view path, std::string_view text);

// True when `declared` names `package` once normalized as the ecosystem does (PEP 503 for
// PyPI, case and -/_ for crates, ...).
bool DeclaresPackage(const core::PackageKey& package, std::string_view declared);

// The text of one file from a GitHub contents API answer (JSON with base64 `content`), or
// why it cannot be read: not a file, over the API's 1 MB (no content), bad base64.
core::Result<std::string> ContentsFileText(std::string_view body);

}  // namespace pkgtrust::github
