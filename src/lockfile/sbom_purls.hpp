// What the SBOM readers (CycloneDX, SPDX) share: respelling the purls an SBOM names as the
// lockfile readers spell theirs. Private to lockfile/.
#pragma once

#include "lockfile/format_parsers.hpp"
#include "pkgtrust/core/purl.hpp"

namespace pkgtrust::lockfile {

// The five scored types spelled as every other reader spells them (through Dependency):
// npm's "%40scope%2Fname" becomes namespace "@scope" and name "name", pypi names are
// normalized; qualifiers and subpath stay. Other types (composer, deb, ...) are kept as
// written.
core::Purl Respelled(core::Purl purl);

}  // namespace pkgtrust::lockfile
