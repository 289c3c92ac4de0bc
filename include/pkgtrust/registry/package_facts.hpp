// What the registry stage learns about a package: the facts scoring needs, kept small
// (a multi-megabyte packument becomes a few kilobytes), stored as the "registry" fact.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "pkgtrust/core/clock.hpp"
#include "pkgtrust/core/ecosystem.hpp"
#include "pkgtrust/core/repository_url.hpp"
#include "pkgtrust/core/status.hpp"

namespace pkgtrust::registry {

struct VersionFacts {
  std::string version;
  core::Millis published = 0;    // 0: the registry gives no time for it
  bool yanked = false;           // yanked (PyPI, crates), retracted (Go)
  std::string deprecated;        // npm deprecation message; empty when not deprecated
  bool has_attestation = false;  // npm dist.attestations (registry provenance)
  std::string repository;        // repository as this version declared it (raw), if it did
  // npm: the scripts npm runs at install (preinstall, install, postinstall), name and command
  // (the command shortened to 200 bytes).
  std::vector<std::pair<std::string, std::string>> install_scripts;
  std::string publisher;  // npm: the account that published this version (_npmUser.name)
};

struct PackageFacts {
  core::PackageKey key;
  std::string display_name;  // as the registry spells it
  std::string description;
  std::string license;
  std::string homepage;
  std::string latest_version;
  std::vector<VersionFacts> versions;  // oldest first (by publish time when known)
  std::vector<std::string> maintainers;
  std::string repository_declared;  // raw, as the package declares it
  std::optional<core::RepositoryRef> repository;
  std::int64_t downloads_last_month = -1;  // -1: the registry does not say
  std::int64_t downloads_total = -1;
  std::int64_t downloads_last_90_days = -1;  // crates.io's "recent_downloads"
  core::Millis created = 0;
  core::Millis modified = 0;
  bool unpublished = false;      // npm: every version was unpublished
  std::string deprecated;        // the latest version's deprecation message
  bool security_holder = false;  // npm replaced a malicious package with a placeholder

  std::string ToJson() const;
  static core::Result<PackageFacts> FromJson(std::string_view json);
  const VersionFacts* FindVersion(std::string_view version) const;
  VersionFacts* FindVersion(std::string_view version);
};

// Sorts versions by publish time (unknown times keep their order, first), fills
// `repository` from `repository_declared`, and derives `deprecated` from the latest.
void Finish(PackageFacts& facts);

}  // namespace pkgtrust::registry
