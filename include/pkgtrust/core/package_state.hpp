// The package state machine of DESIGN.md: states, priorities and which transitions are
// legal. The store enforces them with conditional updates on (state, generation).
//
//   pending_registry -> pending_repository -> pending_score -> complete
//          |                   |                                  ^
//          +-> not_found       +----(no GitHub repository)---->---+ (via pending_score)
//   any pending_* -> failed (attempts exhausted); failed -> pending_registry (reconciler retry)
//   complete / not_found / failed -> pending_registry (new run, generation + 1)
#pragma once

#include <optional>
#include <string_view>

namespace pkgtrust::core {

enum class PackageState {
  kPendingRegistry,
  kPendingRepository,
  kPendingScore,
  kComplete,
  kNotFound,
  kFailed
};

inline constexpr PackageState kAllPackageStates[] = {
    PackageState::kPendingRegistry, PackageState::kPendingRepository, PackageState::kPendingScore,
    PackageState::kComplete,        PackageState::kNotFound,          PackageState::kFailed};

// "pending_registry", "pending_repository", "pending_score", "complete", "not_found", "failed".
std::string_view PackageStateName(PackageState state);
std::optional<PackageState> ParsePackageState(std::string_view text);

// pending_* states: a run is in progress and a stage message should exist for it.
bool IsInFlight(PackageState state);
// Whether a stage may move a package from `from` to `to` within one generation.
bool IsStageTransition(PackageState from, PackageState to);

// Message priority: "1" = a user is waiting, "2" = regular (feed, refresh).
enum class Priority { kPriority = 1, kRegular = 2 };
std::string_view PriorityAttribute(Priority priority);  // "1" or "2"
std::optional<Priority> ParsePriority(std::string_view text);

}  // namespace pkgtrust::core
