// Shared by the gateway's fuzz targets (gateway_npm, gateway_pypi).
#pragma once

#include <string_view>

#include "pkgtrust/gateway/policy.hpp"

namespace pkgtrust::fuzz {

// The gateway targets' policy: refuses a version whose first byte is 0 modulo 3, warns on
// one whose first byte is 1 modulo 3, allows the rest.
inline gateway::Decision DecideByFirstByte(std::string_view version, core::Millis) {
  gateway::Decision d;
  if (!version.empty() && version[0] % 3 == 0) d = {gateway::Action::kBlock, "malicious", "refused", true};
  if (!version.empty() && version[0] % 3 == 1) d = {gateway::Action::kWarn, "typosquat", "warned", false};
  return d;
}

}  // namespace pkgtrust::fuzz
