// The score model: a pure function from stored facts to a report (score 0-10, three
// components, flags and an explanation). It never fetches, so a new model re-scores every
// stored package without touching an upstream. docs/scoring.md documents it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "pkgtrust/core/clock.hpp"
#include "pkgtrust/core/ecosystem.hpp"
#include "pkgtrust/core/status.hpp"

namespace pkgtrust::scoring {

// pkgtrust-2: the repository's manifest decides whether it is the package's; PyPI
// popularity from the rank in the popular-package list.
inline constexpr const char* kModelVersion = "pkgtrust-2";

// What the model reads (filled by the pipeline from the registry and repository facts).
struct Inputs {
  core::PackageKey key;
  std::string latest_version;
  struct Version {
    std::string version;
    core::Millis published = 0;
    bool yanked = false;
    bool attested = false;
  };
  std::vector<Version> versions;
  std::string deprecated;  // the latest version's deprecation message
  bool security_holder = false;
  std::string malicious_advisory;  // OSV id of a malicious-package advisory, if one names it
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

struct Reason {
  std::string text;
  double effect = 0;  // points added to (or, negative, removed from) the score
};

struct Component {
  double value = 0;                // 0-10
  std::vector<std::string> facts;  // what drove it
};

struct Report {
  std::string model_version = kModelVersion;
  double score = 0;  // 0-10, one decimal
  Component activity, provenance, popularity;
  std::string malicious;   // advisory id; empty when not known malicious
  std::string deprecated;  // deprecation message; empty when not deprecated
  bool archived = false;
  std::string typosquat_of;  // the popular look-alike; empty when none
  std::vector<Reason> reasons;

  std::string ToJson() const;
};

class PopularPackages;
// `popular` (may be null) enables the typosquatting check.
Report Score(const Inputs& inputs, core::Millis now, const PopularPackages* popular = nullptr);

}  // namespace pkgtrust::scoring
