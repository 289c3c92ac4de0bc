// Parsers from registry documents to PackageFacts: pure functions over the bytes the
// registries answer, so they are tested on recorded responses without a network.
// Errors name the document and what was wrong; nothing here throws.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "pkgtrust/registry/package_facts.hpp"

namespace pkgtrust::registry {

// npm packument (GET /<name>), read with a SAX parser: no DOM of the document is built,
// so a 20 MB packument costs its bytes plus the facts kept.
core::Result<PackageFacts> ParseNpmPackument(std::string_view body, const core::PackageKey& key);
// npm downloads API point answer: {"downloads": N, "package": ...}.
core::Result<std::int64_t> ParseNpmDownloads(std::string_view body);
// PyPI JSON API (GET /pypi/<name>/json).
core::Result<PackageFacts> ParsePypiProject(std::string_view body, const core::PackageKey& key);
// crates.io API (GET /api/v1/crates/<name>).
core::Result<PackageFacts> ParseCratesCrate(std::string_view body, const core::PackageKey& key);
// crates.io owners (GET /api/v1/crates/<name>/owners): the owners' logins.
core::Result<std::vector<std::string>> ParseCratesOwners(std::string_view body);

}  // namespace pkgtrust::registry
