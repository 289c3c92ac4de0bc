// Version order per ecosystem, as each ecosystem's own tools sort versions: Semantic
// Versioning 2.0 for npm and crates.io, PEP 440 for PyPI, Maven's ComparableVersion for
// Maven Central, Go's semver (with its `v`) for Go modules. OSV ranges, "the latest clean
// version" and lockfile checks all compare versions through here.
#pragma once

#include <optional>
#include <string_view>

#include "pkgtrust/core/ecosystem.hpp"

namespace pkgtrust::core {

// <0 when a sorts before b, 0 when they are the same version, >0 after; nullopt when either
// is not a version of that ecosystem (no order can be given). Maven accepts any text.
std::optional<int> CompareVersions(Ecosystem ecosystem, std::string_view a, std::string_view b);

// Whether `version` is a version of that ecosystem (CompareVersions can place it).
bool IsValidVersion(Ecosystem ecosystem, std::string_view version);

// Semantic Versioning 2.0 precedence (build metadata ignored). A leading `v` or `=` is
// accepted, as npm accepts it; Go's `v1` and `v1.2` shorthands only with `go_shorthands`.
std::optional<int> CompareSemver(std::string_view a, std::string_view b, bool go_shorthands = false);
// PEP 440 (epochs, pre-, post- and dev-releases, local versions; the spelling variants the
// PEP normalizes, such as `1.0-alpha.1` or `1.0-1`).
std::optional<int> ComparePep440(std::string_view a, std::string_view b);
// Maven's ComparableVersion (qualifiers alpha < beta < milestone < rc < snapshot < release < sp,
// unknown qualifiers after, `-` lists, trailing zeros insignificant).
int CompareMavenVersions(std::string_view a, std::string_view b);

}  // namespace pkgtrust::core
