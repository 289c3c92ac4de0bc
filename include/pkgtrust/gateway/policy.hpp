// The gateway's policy (config `gateway.policy`): what it decides for one version of a
// package that a client is about to install, from what the service knows of the package.
// The decision never waits for the repository stage: advisories, the typosquat check and
// the publish time are known from the registry answer alone; the score is used when a
// report exists.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pkgtrust/core/clock.hpp"
#include "pkgtrust/core/ecosystem.hpp"
#include "pkgtrust/core/status.hpp"
#include "pkgtrust/scoring/osv.hpp"

namespace pkgtrust::gateway {

// What a rule does when it applies: nothing, a warning (logged, counted, sent to the client
// in a response header), or a block (the version disappears from the metadata and its
// files are refused).
enum class Action { kOff, kWarn, kBlock };
std::optional<Action> ParseAction(std::string_view text);  // "off", "warn", "block"
std::string_view ActionName(Action action);

// An allow or deny list entry: a name pattern as `scoring.internal_names` spells them
// ("left-pad", "@acme/*", "npm:acme-*", `*` and `?` wildcards) or a purl
// ("pkg:npm/left-pad", "pkg:npm/%40acme/*", "pkg:pypi/requests@2.0.0" for one version).
struct ListEntry {
  std::string pattern;  // "[ecosystem:]glob"
  std::string version;  // empty: every version
  std::string reason;
  std::string written;  // as configured, for messages
};
core::Result<ListEntry> ParseListEntry(std::string_view pattern, std::string reason);

struct Policy {
  bool monitor = false;  // mode `monitor`: every decision is logged and counted, nothing is blocked
  Action malicious = Action::kBlock;
  Action typosquat = Action::kWarn;
  std::optional<double> min_score;  // a package scoring lower gets `below_min_score`
  Action below_min_score = Action::kBlock;
  double min_release_age_hours = 0;  // younger versions are hidden and their files refused
  std::vector<ListEntry> allow, deny;
  bool deny_unscored = false;  // `unscored: deny`: refuse what nothing is known of yet
};

// What is known of a package when a client asks for it.
struct PackageKnowledge {
  core::PackageKey key;
  // The package has a report: the pipeline has checked it (policy `unscored: deny` refuses
  // it until then). Advisories and the typosquat check apply either way.
  bool checked = false;
  struct Advisory {
    std::string id, summary;
    scoring::OsvAffected affected;  // which versions it names (every one when empty)
  };
  std::vector<Advisory> advisories;  // in force (withdrawn ones are not given)
  std::string looks_like;            // the popular package this name imitates; empty when none
  std::optional<double> score;       // the stored report's score, when there is one
};

struct Decision {
  Action action = Action::kOff;  // kOff: allowed with nothing to say
  std::string rule;    // "allow_list", "deny_list", "malicious", "min_release_age", "min_score", "typosquat",
                       // "unscored"
  std::string reason;  // one line that npm and pip print
  // Whether the client is refused: a block outside monitor mode.
  bool refused = false;
};

// The decision for `version` (published at `published`, 0 when the registry gives no time)
// at `now`. Rules in order: the allow list (allowed, nothing else asked), the deny list,
// malicious advisories, the release age, the minimum score, the typosquat check, and
// unscored packages. The first rule that blocks decides; otherwise the first warning.
Decision Decide(const Policy& policy, const PackageKnowledge& package, std::string_view version,
                core::Millis published, core::Millis now);

}  // namespace pkgtrust::gateway
