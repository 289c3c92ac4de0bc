#include "pkgtrust/core/package_state.hpp"

namespace pkgtrust::core {

std::string_view PackageStateName(PackageState state) {
  switch (state) {
    case PackageState::kPendingRegistry:
      return "pending_registry";
    case PackageState::kPendingRepository:
      return "pending_repository";
    case PackageState::kPendingScore:
      return "pending_score";
    case PackageState::kComplete:
      return "complete";
    case PackageState::kNotFound:
      return "not_found";
    case PackageState::kFailed:
      return "failed";
  }
  return "unknown";
}

std::optional<PackageState> ParsePackageState(std::string_view text) {
  for (PackageState state : kAllPackageStates)
    if (PackageStateName(state) == text) return state;
  return std::nullopt;
}

bool IsInFlight(PackageState state) {
  return state == PackageState::kPendingRegistry || state == PackageState::kPendingRepository ||
         state == PackageState::kPendingScore;
}

bool IsStageTransition(PackageState from, PackageState to) {
  using S = PackageState;
  if (to == S::kFailed) return IsInFlight(from);
  switch (from) {
    case S::kPendingRegistry:
      return to == S::kPendingRepository || to == S::kPendingScore || to == S::kNotFound;
    case S::kPendingRepository:
      return to == S::kPendingScore;
    case S::kPendingScore:
      return to == S::kComplete;
    default:
      return false;
  }
}

std::string_view PriorityAttribute(Priority priority) { return priority == Priority::kPriority ? "1" : "2"; }

std::optional<Priority> ParsePriority(std::string_view text) {
  if (text == "1") return Priority::kPriority;
  if (text == "2") return Priority::kRegular;
  return std::nullopt;
}

}  // namespace pkgtrust::core
