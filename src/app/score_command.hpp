// `pkgtrust score PURL | ECOSYSTEM NAME [--json]`: runs the pipeline once in-process for
// one package (unless its stored report is fresh) and prints the report.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "app/config.hpp"

namespace pkgtrust::app {

// `target` is {purl} or {ecosystem, name}. Returns the exit code: 0 scored, 3 the
// registry has no such package, 1 anything else (bad name, failure, timeout).
int RunScore(Config config, const std::vector<std::string>& target, bool json, std::chrono::seconds timeout);

}  // namespace pkgtrust::app
