// Package name validation and normalization, per ecosystem:
//   npm    - "name" or "@scope/name", at most 214 characters, URL-safe; case kept (legacy
//            packages such as "JSONStream" are distinct from their lower-case look-alikes).
//   pypi   - PEP 508 names, normalized per PEP 503 (lower case, runs of "-", "_", "." -> "-").
//   crates - ASCII letter first, then letters, digits, "-" and "_", at most 64; crates.io
//            treats case and "-"/"_" as the same name, so both are folded ("Serde_JSON" -> "serde-json").
//   maven  - "groupId:artifactId" (also accepted: "groupId/artifactId"); canonical with ":".
//   go     - module path verbatim, checked like golang.org/x/mod's CheckPath.
#pragma once

#include <string>
#include <string_view>

#include "pkgtrust/core/ecosystem.hpp"
#include "pkgtrust/core/status.hpp"

namespace pkgtrust::core {

inline constexpr std::size_t kMaxPackageNameLength = 512;

// The normalized name, or InvalidArgument naming what is wrong with the input.
Result<std::string> NormalizePackageName(Ecosystem ecosystem, std::string_view name);

// Normalizes and builds the key in one step.
Result<PackageKey> MakePackageKey(Ecosystem ecosystem, std::string_view name);

}  // namespace pkgtrust::core
