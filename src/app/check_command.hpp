// `pkgtrust check [PATH...]`: finds a repository's lockfiles, manifests and SBOMs, looks
// their packages up (on a server with POST /v1/packages:query, or in this process with
// --db), judges the locked versions against the policy and prints the verdicts. Exit codes
// are check::kExit* (docs/check.md).
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "pkgtrust/check/check.hpp"
#include "pkgtrust/core/status.hpp"
#include "pkgtrust/lockfile/lockfile.hpp"

namespace pkgtrust::app {

struct CheckOptions {
  std::vector<std::string> paths;          // files and folders; none: the current folder
  std::optional<lockfile::Format> format;  // --format: every named file is of this format
  std::string url = "http://127.0.0.1:8080";
  std::string token;        // --token, else $PKGTRUST_TOKEN
  bool in_process = false;  // --db or --config: no server
  std::string db_path, config_path;
  int wait_seconds = 60;  // for packages without a report
  enum class Output { kTable, kJson, kMarkdown } output = Output::kTable;
  std::string sarif_path;
  std::string policy_path;  // --policy, else .pkgtrust.yaml in the first folder named (or .)
  // --fail-on, --min-score, --too-new-hours: (setting, value) over the policy file's.
  std::vector<std::pair<std::string, std::string>> policy_overrides;
  std::optional<bool> color;  // --color / --no-color; else a terminal without NO_COLOR
};

// The arguments after `check`. InvalidArgument names the problem (a usage error, exit 2).
core::Status ParseCheckArguments(const std::vector<std::string>& args, CheckOptions* options);

int RunCheck(const CheckOptions& options);

}  // namespace pkgtrust::app
