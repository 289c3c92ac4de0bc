// What the repository stage learns about a GitHub repository, stored as the
// "repository" fact (with the ETags that make the next refresh cost no quota).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "pkgtrust/core/clock.hpp"
#include "pkgtrust/core/repository_url.hpp"
#include "pkgtrust/core/status.hpp"

namespace pkgtrust::github {

struct Tag {
  std::string name;
  core::Millis date = 0;  // tagger date of an annotated tag, else the commit date; 0: unknown
};

struct Release {
  std::string tag;
  std::string name;
  core::Millis published = 0;
  bool prerelease = false;
};

enum class RepositoryStatus { kFound, kNotFound, kUnavailable /* 451 or disabled */ };

// The package's manifest in the repository (see manifest.hpp).
enum class ManifestStatus {
  kNotRead,     // not asked for (no package given, an older fact)
  kFound,       // `path` holds a manifest; `declared_name` is the name it declares (may be empty)
  kMissing,     // none of the paths tried exists
  kUnreadable,  // too large, not a file, not decodable, or the request failed
};

struct Manifest {
  ManifestStatus status = ManifestStatus::kNotRead;
  std::string path;           // in the repository, e.g. "packages/core/package.json"
  std::string declared_name;  // as written in the file
  std::string error;          // why it is unreadable
};

struct RepositoryFacts {
  core::RepositoryRef requested;
  RepositoryStatus status = RepositoryStatus::kFound;
  std::string full_name;  // as GitHub answers: differs from `requested` when the repository moved
  bool moved = false;
  std::int64_t stars = 0, forks = 0, open_issues = 0, watchers = 0;
  bool archived = false, disabled = false, is_fork = false;
  std::string fork_parent;  // "owner/name" of the parent when is_fork
  core::Millis created = 0, pushed = 0, updated = 0;
  std::string default_branch;
  std::string license;              // SPDX id; empty when none or unrecognized
  std::int64_t contributors = -1;   // -1: unknown
  std::vector<Tag> tags;            // newest first (first 100); dates need a token (GraphQL)
  std::vector<Release> releases;    // newest first (first 100)
  std::vector<int> weekly_commits;  // last 52 weeks, oldest first; empty while GitHub computes them
  std::int64_t commits_last_year = -1;
  Manifest manifest;
  std::map<std::string, std::string> etags;  // endpoint -> ETag of the stored answer
  core::Millis read_at = 0;                  // when the repository (not the manifest) was read from GitHub

  std::string ToJson() const;
  static core::Result<RepositoryFacts> FromJson(std::string_view json);
};

// The names the stored facts and the report give them: "found", "not_found", "unavailable";
// "not_read", "found", "missing", "unreadable".
std::string_view RepositoryStatusName(RepositoryStatus status);
std::string_view ManifestStatusName(ManifestStatus status);

}  // namespace pkgtrust::github
