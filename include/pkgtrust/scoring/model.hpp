// The score model: a pure function from stored facts to a report (score 0-10, three
// components, flags and an explanation). It never fetches, so a new model re-scores every
// stored package without touching an upstream. docs/scoring.md documents it.
#pragma once

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <vector>

#include "pkgtrust/core/clock.hpp"
#include "pkgtrust/core/ecosystem.hpp"
#include "pkgtrust/core/status.hpp"
#include "pkgtrust/scoring/osv.hpp"

namespace pkgtrust::scoring {

class PopularPackages;

// pkgtrust-3: advisories evaluated per version (withdrawn ones ignored); precise typosquat
// rules; install scripts, young packages, new publishers, dependency confusion and
// repositories that belong to another package.
inline constexpr const char* kModelVersion = "pkgtrust-3";

// What the model reads (filled by the pipeline from the registry and repository facts).
struct Inputs {
  core::PackageKey key;
  std::string latest_version;
  struct Version {
    std::string version;
    core::Millis published = 0;
    bool yanked = false;
    bool attested = false;
    // npm: the install-time scripts of this version (preinstall, install, postinstall).
    std::vector<std::pair<std::string, std::string>> install_scripts;
    std::string publisher;  // npm: the account that published it (_npmUser), if known
  };
  std::vector<Version> versions;  // oldest first
  core::Millis created = 0;       // first published (0: unknown; then the oldest version's time)
  std::string deprecated;         // the latest version's deprecation message
  bool security_holder = false;
  // Malicious-package advisories in force that name the package (withdrawn ones are not given).
  struct Advisory {
    std::string id, summary;
    OsvAffected affected;
  };
  std::vector<Advisory> advisories;
  std::int64_t downloads_last_month = -1;
  std::int64_t downloads_last_90_days = -1;
  std::int64_t downloads_total = -1;
  bool has_repository = false;  // the package declares a source repository
  std::string repository_host, repository_owner, repository_name, repository_subdirectory;

  struct GitHub {
    bool found = true;  // false: the declared repository does not exist (or is blocked)
    bool moved = false, archived = false, disabled = false, fork = false;
    std::int64_t stars = 0, forks = 0, contributors = -1, commits_last_year = -1;
    core::Millis pushed = 0;
    // The package's manifest in the repository (package.json, Cargo.toml, ...).
    enum class Manifest { kNotRead, kDeclaresPackage, kDeclaresOther, kMissing, kUnreadable };
    Manifest manifest = Manifest::kNotRead;
    std::string manifest_path, manifest_name;  // where it is, the name it declares
    struct Tag {
      std::string name;
      core::Millis date = 0;
    };
    std::vector<Tag> tags;
  };
  std::optional<GitHub> github;  // absent: not read (no GitHub repository)
};

// Settings of the model beyond the facts (config `scoring:`), the same for every package.
struct ModelOptions {
  const PopularPackages* popular = nullptr;  // null: no typosquatting check
  // Names of the organisation's private packages ("@acme/*", "npm:acme-*", "pypi:acme-*"):
  // a public package so named is a dependency-confusion risk. `*` and `?` are wildcards.
  std::vector<std::string> internal_names;
  double young_package_days = 7;    // a package first published more recently counts against it
  double young_version_hours = 48;  // so does a newest version published more recently
};

struct Reason {
  std::string text;
  double effect = 0;   // points added to (or, negative, removed from) the score
  std::string signal;  // the signal behind it ("install_scripts", "typosquatting", ...); empty for components
};

struct Component {
  double value = 0;                // 0-10
  std::vector<std::string> facts;  // what drove it
};

// An advisory in force naming the package, and which of its known versions it names.
struct AdvisoryFinding {
  std::string id, summary;
  bool all_versions = false;
  std::vector<std::string> versions;  // the known versions named (all_versions: every one)
  OsvAffected affected;               // to judge any other version
};

struct Report {
  std::string model_version = kModelVersion;
  double score = 0;  // 0-10, one decimal
  Component activity, provenance, popularity;
  // The package as a whole is malicious: an advisory names every version or the latest.
  std::string malicious;  // that advisory's id; empty when not
  std::vector<AdvisoryFinding> advisories;
  std::vector<std::string> malicious_versions;  // known versions any advisory names, in version order
  std::string latest_clean_version;             // the newest version no advisory names, when some are
  std::string deprecated;                       // deprecation message; empty when not deprecated
  bool archived = false;
  std::string typosquat_of;  // the popular look-alike; empty when none
  std::string typosquat_rule;
  bool install_script_added = false;  // the newest version added install scripts
  std::string dependency_confusion;   // the internal-name pattern the name matches
  std::string repository_declares;    // the popular package whose repository this one declares
  std::vector<Reason> reasons;

  // The stored "score" fact (store::kScoreFact) and the report's score, flags, advisories
  // and explanation (docs/api.md). FromJson reads back every member ToJson writes
  // (tests/scoring/model_test.cpp round-trips a report with every member set).
  std::string ToJson() const;
  nlohmann::json ToJsonValue() const;
  static core::Result<Report> FromJson(std::string_view json);

  // The ids of the advisories that name `version`, judged on each advisory's versions and
  // ranges (so a version the registry no longer lists is judged too).
  std::vector<std::string> AdvisoriesNaming(core::Ecosystem ecosystem, std::string_view version) const;
};

Report Score(const Inputs& inputs, core::Millis now, const ModelOptions& options);
// With the typosquatting check on `popular` (may be null) and the other options' defaults.
Report Score(const Inputs& inputs, core::Millis now, const PopularPackages* popular = nullptr);

// Whether `name` matches an internal-name pattern ("[ecosystem:]glob", case-insensitive);
// the pattern matched, or empty.
// Historical provenance: a version "matches" a repository tag that names it (TagMatches)
// and was made within kTagWindowDays of its publish (either date unknown counts as near).
inline constexpr double kTagWindowDays = 7;
// The part of the package's name that monorepo tags carry ("core" of "@babel/core",
// "slf4j-api" of "org.slf4j:slf4j-api").
std::string TagShortName(const core::PackageKey& key);
// Tag names a release of `version` usually carries: "1.2.0", "v1.2.0", "core@1.2.0",
// "core-v1.2.0", "core-1.2.0", ".../v1.2.0", "...@1.2.0".
bool TagMatches(const std::string& tag, const std::string& version, const std::string& short_name);

std::string MatchInternalName(const core::PackageKey& key, const std::vector<std::string>& patterns);

}  // namespace pkgtrust::scoring
