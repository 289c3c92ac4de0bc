// OSV records of malicious packages (https://ossf.github.io/osv-schema/, as published by
// ossf/malicious-packages): what `pkgtrust import-osv` stores and scoring flags, and which
// versions of a package each record names (its `versions` and its SEMVER / ECOSYSTEM
// `ranges`, evaluated in the ecosystem's own version order, core/version.hpp).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "pkgtrust/core/ecosystem.hpp"
#include "pkgtrust/core/status.hpp"

namespace pkgtrust::scoring {

// One OSV range: its type and events in the order written ("introduced", "fixed",
// "last_affected", "limit" with a version each).
struct OsvRange {
  std::string type;  // SEMVER, ECOSYSTEM or GIT (GIT ranges name commits and are not evaluated)
  std::vector<std::pair<std::string, std::string>> events;
};

// The versions of one package a record names. Empty (no versions, no ranges) means every
// version, as the malicious-packages records that name none mean it.
struct OsvAffected {
  std::vector<std::string> versions;
  std::vector<OsvRange> ranges;

  // Every version: nothing listed, or a range introduced at "0" that is never fixed.
  bool AllVersions() const;
  // Whether `version` is named: listed exactly, or inside a SEMVER or ECOSYSTEM range as
  // the ecosystem orders versions. A version the ecosystem cannot order is inside no range.
  bool Affects(core::Ecosystem ecosystem, std::string_view version) const;

  // As stored: the OSV JSON arrays of `versions` and `ranges` (the store's two columns), or
  // one object {"versions": [...], "ranges": [...]} (a report's advisory).
  std::string VersionsJson() const;
  std::string RangesJson() const;
  std::string ToJson() const;
  static core::Result<OsvAffected> FromColumns(std::string_view versions_json, std::string_view ranges_json);
  static core::Result<OsvAffected> FromJson(std::string_view object_json);
};

struct MaliciousRecord {
  core::PackageKey key;
  std::string id;  // "MAL-2024-11848"
  std::string summary;
  std::string published, modified;
  std::string withdrawn;  // when the record was withdrawn (RFC 3339); empty: in force
  OsvAffected affected;
};

// The affected packages of one OSV document. Only malicious-package records (ids
// "MAL-...") are accepted; affected entries of ecosystems we do not score are skipped and
// counted in `skipped`. Errors name what is wrong with the document. Parsing is bounded in
// depth (simdjson), so a hostile file cannot exhaust the stack.
core::Result<std::vector<MaliciousRecord>> ParseOsvRecord(std::string_view json, int* skipped = nullptr);

}  // namespace pkgtrust::scoring
