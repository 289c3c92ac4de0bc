// A client's User-Agent, reduced to what adoption reports need: the tool and its version,
// the runtime, the OS family and whether it ran in CI. Nothing else of the header is kept
// (it can carry host names, paths and user names). Each field is at most 32 characters of
// [A-Za-z0-9._+-]; anything else becomes "other" (tool) or empty.
//
//   npm  "npm/10.2.4 node/v20.10.0 linux x64 workspaces/false ci/github-actions"
//        (pnpm, yarn and bun write the same shape; `ci/<name>` only in CI)
//   pip  "pip/23.0.1 {"ci":true,"implementation":{"name":"CPython","version":"3.11.2"},
//        "system":{"name":"Linux",...},...}" (uv writes the same shape)
#pragma once

#include <string>
#include <string_view>

namespace pkgtrust::adoption {

struct ClientInfo {
  std::string tool;  // "npm", "pip", "pnpm", "yarn", "uv", "curl", ... or "other"; "" without a header
  std::string tool_version;  // "10.2.4"
  std::string runtime;       // "node/20.10.0", "cpython/3.11.2"
  std::string os;            // "linux", "darwin", "windows", "freebsd", ...
  bool ci = false;
};

ClientInfo ReduceUserAgent(std::string_view user_agent);

}  // namespace pkgtrust::adoption
