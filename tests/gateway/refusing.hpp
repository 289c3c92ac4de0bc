// A policy decision for the gateway's filter tests: refuses the versions named (rule
// "malicious"), keeps the others.
#pragma once

#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

#include "pkgtrust/gateway/policy.hpp"

namespace pkgtrust::testing {

inline auto Refusing(std::vector<std::string> versions) {
  return [versions](std::string_view version, core::Millis) {
    gateway::Decision d;
    if (std::find(versions.begin(), versions.end(), version) != versions.end())
      d = {gateway::Action::kBlock, "malicious", std::string(version) + " is malicious", true};
    return d;
  };
}

}  // namespace pkgtrust::testing
