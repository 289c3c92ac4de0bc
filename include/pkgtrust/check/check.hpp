// The verdicts of a lockfile check: each locked package's report, judged for the version
// that is locked, against a policy (what fails, the minimum score, what is ignored until
// when). `pkgtrust check` and POST /v1/check judge through here; fetching the reports is
// theirs. docs/check.md is the user's description.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pkgtrust/core/clock.hpp"
#include "pkgtrust/core/ecosystem.hpp"
#include "pkgtrust/core/status.hpp"
#include "pkgtrust/lockfile/lockfile.hpp"

namespace pkgtrust::check {

// What a finding is about, worst first: the order of the table and of --fail-on's names.
enum class Concern {
  kMalicious,   // an advisory in force names the locked version (or every version)
  kTyposquat,   // the name imitates a popular package
  kYanked,      // the registry withdrew the locked version
  kDeprecated,  // the locked version (or the whole package) is deprecated
  kTooNew,      // the locked version was published less than `too_new_hours` ago
  kLowScore,    // the score is below `min_score`
  kPending,     // no report in time (unknown, still running, or its runs failed)
  kMissing,     // the registry does not list the locked version, or not the package at all
};
inline constexpr Concern kAllConcerns[] = {Concern::kMalicious,  Concern::kTyposquat, Concern::kYanked,
                                           Concern::kDeprecated, Concern::kTooNew,    Concern::kLowScore,
                                           Concern::kPending,    Concern::kMissing};
// "malicious", "typosquat", "yanked", "deprecated", "too_new", "low_score", "pending", "missing".
std::string_view ConcernName(Concern concern);
std::optional<Concern> ConcernFromName(std::string_view name);
// "malicious, typosquat, ..., missing": for messages that list the names.
std::string ConcernNames();
// A comma-separated list of names ("malicious,typosquat"; "none" or "" for none), as
// --fail-on and POST /v1/check's fail_on take it; InvalidArgument names the unknown one.
core::Result<std::vector<Concern>> ParseConcernList(std::string_view text);

// The purl a package's ignore entries and verdicts are compared by: for the scored types
// the registry's name as pkgtrust normalizes it (PEP 503 for PyPI, crates' `-`/`_`), with
// the version when `with_version`; qualifiers and subpath dropped.
std::string CanonicalPurl(const core::Purl& purl, bool with_version);

// An entry of the ignore list. `package` is a purl without a version (every version) or
// with one (that version only).
struct IgnoreEntry {
  std::string package;
  std::vector<Concern> concerns;  // empty: every concern
  std::string reason;
  std::string expires;  // YYYY-MM-DD, the last day it applies (UTC)
  int line = 0;         // in the policy file
};

struct Policy {
  std::vector<Concern> fail_on = {Concern::kMalicious, Concern::kTyposquat};
  std::optional<double> min_score;  // a score below it is a kLowScore finding
  int too_new_hours = 24;           // a version younger than this is a kTooNew finding
  std::vector<IgnoreEntry> ignore;
  std::string source;  // the file it came from, or "defaults"

  bool Fails(Concern concern) const;
};

// One setting given as text, as --fail-on, --min-score and --too-new-hours and POST
// /v1/check's parameters give it: `name` is "fail_on" (a concern list, "none" for none),
// "min_score" (0 to 10) or "too_new_hours" (0 to 8760). InvalidArgument names the setting
// as `spelled` ("--min-score", "min_score") and what it takes.
core::Status SetPolicyOption(Policy& policy, std::string_view name, std::string_view value,
                             std::string_view spelled);

// Reads a .pkgtrust.yaml (keys fail_on, min_score, too_new_hours, ignore). An unknown key,
// a wrong type, an unknown concern or an ignore entry without reason or expiry date is
// InvalidArgument naming the file, the line and the key.
core::Result<Policy> ParsePolicy(std::string_view yaml, std::string_view path);

struct Finding {
  Concern concern;
  std::string message;  // "version 1.2.9 is named by advisory MAL-2024-1: ..."
  bool fails = false;   // the policy fails on it and no ignore entry in force covers it
  std::string ignored;  // why it does not fail: the ignore entry's reason and expiry
  std::string expired;  // an ignore entry that covered it has expired: which, since when
};

// How far a dependency got.
enum class Outcome {
  kJudged,       // its report was read
  kPending,      // no report in time
  kNotFound,     // its registry does not have the package
  kNotRegistry,  // git, path, URL or workspace: not looked up
  kUnscored,     // a purl type pkgtrust does not score (from an SBOM): not looked up
  kInvalid,      // the name or version cannot be a package of its ecosystem
};
std::string_view OutcomeName(Outcome outcome);  // "judged", "pending", "not_found", ...

struct DependencyVerdict {
  lockfile::LockedDependency dependency;
  std::string purl;  // with the version
  Outcome outcome = Outcome::kJudged;
  std::optional<double> score;  // the locked version's, else the package's
  std::vector<Finding> findings;
  nlohmann::json explanation = nlohmann::json::array();  // the report's score explanation
  std::string detail;                                    // pending: the run's state; invalid: why

  bool Fails() const;
  // The worst concern among its findings (failing ones first), for ordering.
  int Severity() const;
};

// A report from GET /v1/packages/...?version= or POST /v1/packages:query: `report` is the
// entry (a complete report, or {"status": "pending_..."|"failed"|"not_found"|"invalid"}).
DependencyVerdict Judge(const lockfile::LockedDependency& dependency, const nlohmann::json& report,
                        const Policy& policy, core::Millis now);
// The verdict of a dependency that is not looked up (kNotRegistry, kUnscored, kInvalid).
DependencyVerdict NotLookedUp(const lockfile::LockedDependency& dependency, Outcome outcome,
                              std::string detail = {});
// Whether `dependency` is one pkgtrust looks up: from a registry of a scored ecosystem.
// On false, `*outcome` says why not.
bool ShouldLookUp(const lockfile::LockedDependency& dependency, Outcome* outcome, std::string* detail);

// Failing first, then the worst concern, the lowest score, the purl.
void SortWorstFirst(std::vector<DependencyVerdict>& verdicts);

// One package to look up at one version. `purl` (the dependency's purl as formatted) is the
// key of its report in JudgeAll's `reports`.
struct Lookup {
  std::string purl;
  core::PackageKey key;
  std::string version;
};
// What to look up for `dependencies`: each purl once, in first-seen order.
std::vector<Lookup> LookupsFor(const std::vector<lockfile::LockedDependency>& dependencies);
// Every dependency's verdict, worst first: judged on its entry in `reports` (a Lookup's
// purl to its report or status entry, as POST /v1/packages:query answers; a missing one
// counts as pending), or not looked up.
std::vector<DependencyVerdict> JudgeAll(const std::vector<lockfile::LockedDependency>& dependencies,
                                        const std::map<std::string, nlohmann::json>& reports,
                                        const Policy& policy, core::Millis now);

// A file that could not be read: it does not stop the others.
struct InputError {
  std::string file;
  std::string message;
};

struct CheckResult {
  std::vector<DependencyVerdict> verdicts;
  std::vector<InputError> errors;
  std::vector<std::string> files;  // the files read
  Policy policy;
};

// Exit codes (docs/check.md).
inline constexpr int kExitPassed = 0;
inline constexpr int kExitPolicyViolated = 1;
inline constexpr int kExitInputError = 2;
inline constexpr int kExitUnreachable = 3;
// 2 when a file could not be read, else 1 when a verdict fails, else 0.
int ExitCodeOf(const CheckResult& result);

}  // namespace pkgtrust::check
