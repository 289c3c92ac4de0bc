// OSV records of malicious packages (https://ossf.github.io/osv-schema/, as published by
// ossf/malicious-packages): what `pkgtrust import-osv` stores and scoring flags.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "pkgtrust/core/ecosystem.hpp"
#include "pkgtrust/core/status.hpp"

namespace pkgtrust::scoring {

struct MaliciousRecord {
  core::PackageKey key;
  std::string id;  // "MAL-2024-11848"
  std::string summary;
  std::string modified;
  std::vector<std::string> versions;  // empty: every version
};

// The affected packages of one OSV document. Only malicious-package records (ids
// "MAL-...") are accepted; affected entries of ecosystems we do not score are skipped and
// counted in `skipped`. Errors name what is wrong with the document.
core::Result<std::vector<MaliciousRecord>> ParseOsvRecord(std::string_view json, int* skipped = nullptr);

}  // namespace pkgtrust::scoring
