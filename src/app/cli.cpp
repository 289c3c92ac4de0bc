#include "app/cli.hpp"

#include <fmt/format.h>
#include <signal.h>

#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include "app/config.hpp"
#include "app/service.hpp"

#ifndef PKGTRUST_VERSION
#define PKGTRUST_VERSION "0.0.0"
#endif

namespace pkgtrust::app {
namespace {

constexpr const char* kUsage = R"(pkgtrust - package supply-chain risk service

Usage:
  pkgtrust serve --config FILE      run the service with a config file (see config/pkgtrust.yaml)
  pkgtrust dev [--db PATH]          run with the embedded defaults, in-memory queues and
                                    a local SQLite file (default ./pkgtrust-dev.db), debug logs
  pkgtrust check-config --config FILE
                                    validate a config file and its topology, then exit
  pkgtrust --help                   this text
  pkgtrust --version                the version

Options for serve and dev:
  --log-level LEVEL                 debug, info, warn, error (overrides the config)
)";

int Usage(const std::string& problem) {
  std::fprintf(stderr, "pkgtrust: %s\n\n%s", problem.c_str(), kUsage);
  return 2;
}

// Blocks SIGINT/SIGTERM in every thread, then waits for one on the calling thread.
int WaitForShutdownSignal() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  int signal = 0;
  sigwait(&set, &signal);
  return signal;
}

void BlockShutdownSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

int RunService(Config config) {
  core::SetLogLevel(config.log_level);
  BlockShutdownSignals();  // before any thread starts, so only sigwait sees them
  Service service(std::move(config));
  service.Start();
  int signal = WaitForShutdownSignal();
  core::Log(core::LogLevel::kInfo, "service", "received {}, shutting down",
            signal == SIGTERM ? "SIGTERM" : "SIGINT");
  service.Stop();
  return 0;
}

}  // namespace

int RunCli(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty()) return Usage("no command given");
  const std::string command = args[0];
  if (command == "--help" || command == "-h" || command == "help") {
    std::fputs(kUsage, stdout);
    return 0;
  }
  if (command == "--version" || command == "version") {
    std::printf("pkgtrust %s\n", PKGTRUST_VERSION);
    return 0;
  }
  if (command != "serve" && command != "dev" && command != "check-config")
    return Usage(fmt::format("unknown command '{}'", command));

  std::string config_path, db_path, log_level;
  for (std::size_t i = 1; i < args.size(); ++i) {
    const std::string& arg = args[i];
    auto value = [&](std::string* out) {
      if (i + 1 >= args.size()) return false;
      *out = args[++i];
      return true;
    };
    bool ok = true;
    if (arg == "--config" && command != "dev")
      ok = value(&config_path);
    else if (arg == "--db" && command == "dev")
      ok = value(&db_path);
    else if (arg == "--log-level" && command != "check-config")
      ok = value(&log_level);
    else if (arg == "--help" || arg == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    } else
      return Usage(fmt::format("unknown option '{}' for '{}'", arg, command));
    if (!ok) return Usage(fmt::format("option '{}' needs a value", arg));
  }

  try {
    Config config;
    if (command == "dev") {
      config = DefaultConfig();
      config.database.path = db_path.empty() ? "pkgtrust-dev.db" : db_path;
      config.log_level = core::LogLevel::kDebug;
    } else {
      if (config_path.empty()) return Usage(fmt::format("'{}' needs --config FILE", command));
      config = LoadConfigFile(config_path);
    }
    if (!log_level.empty() && !core::ParseLogLevel(log_level, &config.log_level))
      return Usage(fmt::format("unknown log level '{}'", log_level));
    if (command == "check-config") {
      std::printf("%s: ok (topology %s: %zu queues, %zu topics)\n", config.source.c_str(),
                  config.topology_source.c_str(), config.topology.queues.size(),
                  config.topology.Topics().size());
      return 0;
    }
    return RunService(std::move(config));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "pkgtrust: %s\n", e.what());
    return 1;
  }
}

}  // namespace pkgtrust::app
