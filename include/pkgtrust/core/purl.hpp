// Package URLs (https://github.com/package-url/purl-spec): parsing to components,
// canonical formatting, and the mapping to pkgtrust's PackageKey for the five
// ecosystems (npm, pypi, cargo, maven, golang).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "pkgtrust/core/ecosystem.hpp"
#include "pkgtrust/core/status.hpp"

namespace pkgtrust::core {

struct Purl {
  std::string type;                               // lower case
  std::string namespace_;                         // decoded, segments joined by '/'; empty when absent
  std::string name;                               // decoded
  std::string version;                            // decoded; empty when absent
  std::map<std::string, std::string> qualifiers;  // keys lower case, sorted
  std::string subpath;                            // decoded segments joined by '/'; empty when absent

  friend bool operator==(const Purl&, const Purl&) = default;
};

// Parses and applies the type-specific normalizations the spec defines for the types we
// know (pypi: lower case and '_' -> '-'; npm: lower-case namespace and name are not
// forced because npm has legacy mixed-case names).
Result<Purl> ParsePurl(std::string_view text);
// Canonical form: "pkg:type/ns/name@version?k=v&k2=v2#sub/path", components percent-encoded.
std::string FormatPurl(const Purl& purl);
// Checks the components a builder would get (type and name present and well-formed).
Status ValidatePurlComponents(const Purl& purl);

// "pkg:npm/%40babel/core" -> {npm, "@babel/core"}; errors for types we do not score.
Result<PackageKey> PackageKeyFromPurl(const Purl& purl);
Purl PurlFromPackageKey(const PackageKey& key, std::string_view version = {});

}  // namespace pkgtrust::core
