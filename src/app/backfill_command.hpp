// `pkgtrust backfill`: the popular-package backfill of `index:` (pipeline/backfill.hpp,
// docs/deploy.md) run once from the command line against a database, with a progress line.
#pragma once

#include <functional>
#include <string>
#include <vector>

namespace pkgtrust::app {

// backfill [--ecosystem E] [--top N] [--list FILE] [--config F | --db P] [--log-level L]
int RunBackfillCommand(const std::vector<std::string>& args,
                       const std::function<int(const std::string&)>& usage);

}  // namespace pkgtrust::app
