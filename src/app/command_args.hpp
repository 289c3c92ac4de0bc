// Arguments of the commands that take positional arguments and --name value pairs
// (import-access-log, adoption, backfill), and the config they run with.
#pragma once

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "app/config.hpp"

namespace pkgtrust::app {

// Positional arguments and --name value pairs (`known` lists the names).
struct Parsed {
  std::vector<std::string> positional;
  std::map<std::string, std::string> options;
  bool json = false;
};

inline bool Parse(const std::vector<std::string>& args, const std::vector<std::string>& known, Parsed* out,
                  std::string* problem) {
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--json") {
      out->json = true;
      continue;
    }
    if (!arg.starts_with("--")) {
      out->positional.push_back(arg);
      continue;
    }
    if (std::find(known.begin(), known.end(), arg) == known.end()) {
      *problem = fmt::format("unknown option '{}'", arg);
      return false;
    }
    if (i + 1 >= args.size()) {
      *problem = fmt::format("option '{}' needs a value", arg);
      return false;
    }
    out->options[arg] = args[++i];
  }
  return true;
}

inline Config LoadFor(const Parsed& parsed) {
  auto config_path = parsed.options.find("--config");
  Config config = config_path == parsed.options.end() ? DefaultConfig() : LoadConfigFile(config_path->second);
  if (config_path == parsed.options.end()) {
    auto db = parsed.options.find("--db");
    config.database.path = db == parsed.options.end() ? "pkgtrust-dev.db" : db->second;
  }
  return config;
}

}  // namespace pkgtrust::app
