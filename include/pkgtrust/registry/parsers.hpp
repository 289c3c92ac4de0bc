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

namespace pkgtrust::registry {

// maven-metadata.xml: every version, the latest/release, and lastUpdated.
struct MavenMetadata {
  std::vector<std::string> versions;
  std::string latest;  // <release>, else <latest>, else the last <version>
  core::Millis last_updated = 0;
};
core::Result<MavenMetadata> ParseMavenMetadata(std::string_view xml);

// The parts of a POM the registry stage needs; a child inherits what it lacks from its
// parent chain (walked by the adapter).
struct MavenPom {
  std::string group_id, artifact_id, version;
  std::string name, description, url;
  std::string scm;  // <scm><url>, else <connection>, else <developerConnection>
  std::vector<std::string> licenses;
  std::vector<std::string> developers;
  std::string parent_group_id, parent_artifact_id, parent_version;  // empty: no parent
};
core::Result<MavenPom> ParseMavenPom(std::string_view xml);

// Go module proxy answers.
std::vector<std::string> ParseGoVersionList(std::string_view text);  // @v/list
struct GoVersionInfo {
  std::string version;
  core::Millis time = 0;
};
core::Result<GoVersionInfo> ParseGoInfo(std::string_view json);  // @latest, @v/<v>.info
struct GoMod {
  std::string module;
  // Retracted versions and [low, high] ranges, as written.
  std::vector<std::pair<std::string, std::string>> retracted;
};
GoMod ParseGoMod(std::string_view text);
// Go's semantic-version order ("v1.10.0" > "v1.9.0"; pre-releases sort before releases).
int CompareGoVersions(std::string_view a, std::string_view b);
bool IsRetracted(const GoMod& mod, std::string_view version);

}  // namespace pkgtrust::registry
