// What the SBOM readers (CycloneDX, SPDX) share: finding a member's line in the JSON text,
// which simdjson does not keep, and respelling the purls an SBOM names as the lockfile
// readers spell theirs. Private to lockfile/.
#pragma once

#include <cstddef>
#include <string_view>

#include "lockfile/format_parsers.hpp"
#include "pkgtrust/core/purl.hpp"

namespace pkgtrust::lockfile {

// The line of the next `"key": "value"` member at or after `*from`, which moves past it;
// 0 (and `*from` unchanged) when there is none. The value is compared decoded, as writers
// escape differently ("\/" from PHP, "\u0026" from Go). The SBOM readers walk the DOM in
// document order, so the search only moves forward.
int FindMemberLine(const LineIndex& lines, std::string_view text, std::string_view key,
                   std::string_view value, std::size_t* from);

// The five scored types spelled as every other reader spells them (through Dependency):
// npm's "%40scope%2Fname" becomes namespace "@scope" and name "name", pypi names are
// normalized; qualifiers and subpath stay. Other types (composer, deb, ...) are kept as
// written.
core::Purl Respelled(core::Purl purl);

}  // namespace pkgtrust::lockfile
