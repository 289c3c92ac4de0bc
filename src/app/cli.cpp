#include "app/cli.hpp"

#include <fmt/format.h>
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "app/config.hpp"
#include "app/score_command.hpp"
#include "app/service.hpp"
#include "app/watch_command.hpp"
#include "pkgtrust/core/percent_encoding.hpp"
#include "pkgtrust/bus/sqs_topology.hpp"
#include "pkgtrust/net/sigv4.hpp"
#include "pkgtrust/pipeline/ingest_handlers.hpp"
#include "pkgtrust/scoring/osv.hpp"
#include "pkgtrust/scoring/typosquat.hpp"
#include "pkgtrust/store/package_store.hpp"

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
  pkgtrust import-osv PATH [--config FILE | --db PATH]
                                    store the malicious-package advisories of an OSV file or
                                    folder (e.g. ossf/malicious-packages); matching packages
                                    score 0. Without --config: the dev database
  pkgtrust rescore [--config FILE | --db PATH]
                                    re-score every complete package from its stored facts
                                    with the current model (no upstream is asked)
  pkgtrust score PURL | ECOSYSTEM NAME [VERSION] [--json] [--timeout SECONDS] [--config FILE | --db PATH]
                                    fetch and score one package in-process (unless its stored
                                    report is fresh) and print the report, and what is known of
                                    the version a purl (@version) or VERSION names; exit 0 scored,
                                    3 no such package, 1 failed or timed out (default 60 s)
  pkgtrust topology plan|apply [--config FILE] [--prune] [--detailed-exitcode]
                                    compare the topology file with the SNS topics, SQS queues
                                    and subscriptions of the account (transport.sqs settings,
                                    AWS_* credentials) and print the changes; apply makes
                                    them. --prune also deletes what has the name prefix but
                                    is not in the file. --detailed-exitcode: plan exits 2
                                    when there are changes
  pkgtrust watch [--url URL] [--ecosystem E] [--prefix P] [--score-below N] [--score-above N]
                [--flagged] [--from-offset N] [--json] [--max-events N]
                                    follow the change stream (GET /v1/changes) of the service
                                    at URL (default http://127.0.0.1:8080): the state, then each
                                    change; reconnects after a disconnect where it left off
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

// Reads every *.json under `path` (or the file itself), stores the MAL- records (newer copies
// replace older ones, withdrawn ones are kept as withdrawn), and re-scores the stored packages
// whose advisories changed, so their reports and the change stream show it at once.
int RunImportOsv(const std::string& path, const Config& config) {
  namespace fs = std::filesystem;
  constexpr std::uintmax_t kMaxRecordBytes = 8u << 20;  // the largest real records are tens of KB
  auto started = std::chrono::steady_clock::now();
  std::error_code ec;
  if (!fs::exists(path, ec)) {
    std::fprintf(stderr, "pkgtrust: %s: no such file or folder\n", path.c_str());
    return 1;
  }
  std::vector<fs::path> files;
  if (fs::is_directory(path, ec)) {
    for (auto it = fs::recursive_directory_iterator(path, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec))
      if (it->is_regular_file() && it->path().extension() == ".json") files.push_back(it->path());
    std::sort(files.begin(), files.end());
  } else {
    files.push_back(path);
  }
  std::vector<store::Advisory> advisories;
  std::set<std::string> records, withdrawn;
  int skipped_files = 0, skipped_packages = 0;
  std::string text;
  for (const auto& file : files) {
    auto size = fs::file_size(file, ec);
    if (ec || size > kMaxRecordBytes) {
      std::fprintf(stderr, "skipped %s: %s\n", file.c_str(),
                   ec ? ec.message().c_str() : "larger than 8 MiB, not an OSV record");
      skipped_files++;
      continue;
    }
    std::ifstream in(file, std::ios::binary);
    text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    auto parsed = scoring::ParseOsvRecord(text, &skipped_packages);
    if (!parsed.ok()) {
      std::fprintf(stderr, "skipped %s: %s\n", file.c_str(), parsed.status().message().c_str());
      skipped_files++;
      continue;
    }
    for (auto& r : *parsed) {
      records.insert(r.id);
      if (!r.withdrawn.empty()) withdrawn.insert(r.id);
      advisories.push_back({r.key, r.id, r.summary, r.affected.VersionsJson(), r.modified, r.affected.RangesJson(),
                            r.withdrawn, r.published});
    }
  }
  auto store = store::PackageStore::Open(config.database, core::SystemClock::Instance());
  if (!store.ok()) {
    std::fprintf(stderr, "pkgtrust: %s\n", store.status().message().c_str());
    return 1;
  }
  std::size_t rows = advisories.size();
  auto imported = (*store)->ImportAdvisoriesSync(std::move(advisories));
  if (!imported.ok()) {
    std::fprintf(stderr, "pkgtrust: storing advisories: %s\n", imported.status().message().c_str());
    return 1;
  }
  // Only stored packages are re-scored (the lists load only when there are some).
  std::vector<core::PackageKey> stored;
  for (const core::PackageKey& key : imported->changed_packages)
    if (auto record = (*store)->Get(key); record.ok() && *record) stored.push_back(key);
  scoring::PopularPackages popular;
  scoring::ModelOptions options;
  if (auto s = stored.empty() ? core::Status::Ok() : LoadModelOptions(config.scoring, &popular, &options); !s.ok()) {
    std::fprintf(stderr, "pkgtrust: %s\n", s.message().c_str());
    return 1;
  }
  auto rescored = pipeline::RescorePackages(**store, stored, options, core::SystemClock::Instance());
  if (!rescored.ok()) {
    std::fprintf(stderr, "pkgtrust: re-scoring: %s\n", rescored.status().message().c_str());
    return 1;
  }
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::printf(
      "imported %zu records (%zu withdrawn) naming %zu packages from %zu files into %s in %.2f s: %lld new, "
      "%lld updated, %lld unchanged; %lld stored packages re-scored, %lld reports changed (%d files skipped, "
      "%d packages of unscored ecosystems)\n",
      records.size(), withdrawn.size(), rows, files.size() - skipped_files, config.database.path.c_str(), seconds,
      static_cast<long long>(imported->records_new), static_cast<long long>(imported->records_updated),
      static_cast<long long>(imported->records_unchanged), static_cast<long long>(rescored->scored),
      static_cast<long long>(rescored->changed), skipped_files, skipped_packages);
  return 0;
}

int RunRescore(const Config& config) {
  auto store = store::PackageStore::Open(config.database, core::SystemClock::Instance());
  if (!store.ok()) {
    std::fprintf(stderr, "pkgtrust: %s\n", store.status().message().c_str());
    return 1;
  }
  scoring::PopularPackages popular;
  scoring::ModelOptions options;
  if (auto s = LoadModelOptions(config.scoring, &popular, &options); !s.ok()) {
    std::fprintf(stderr, "pkgtrust: %s\n", s.message().c_str());
    return 1;
  }
  auto counts = pipeline::RescoreAll(**store, options, core::SystemClock::Instance());
  if (!counts.ok()) {
    std::fprintf(stderr, "pkgtrust: rescore: %s\n", counts.status().message().c_str());
    return 1;
  }
  std::printf("rescored %lld complete packages in %s with model %s: %lld reports changed, %lld skipped\n",
              static_cast<long long>(counts->scored), config.database.path.c_str(), scoring::kModelVersion,
              static_cast<long long>(counts->changed), static_cast<long long>(counts->skipped));
  return 0;
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

// `pkgtrust topology plan|apply`: exit 0 done (or nothing to do), 1 an error, 2 (plan
// with --detailed-exitcode) changes to make.
int RunTopology(const Config& config, bool apply, bool prune, bool detailed_exitcode) {
  auto credentials = net::AwsCredentialsFromEnvironment();
  if (!credentials.ok()) {
    std::fprintf(stderr, "pkgtrust topology: %s\n", credentials.status().message().c_str());
    return 1;
  }
  auto plan = apply ? bus::ApplySqsTopology(config.topology, config.sqs_transport, *credentials, prune)
                    : bus::PlanSqsTopology(config.topology, config.sqs_transport, *credentials, prune);
  if (!plan.ok()) {
    std::fprintf(stderr, "pkgtrust topology %s: %s\n", apply ? "apply" : "plan", plan.status().message().c_str());
    return 1;
  }
  std::printf("%s (%s)\n%s", config.topology_source.c_str(), apply ? "applied" : "plan", plan->Format().c_str());
  if (!apply && detailed_exitcode && !plan->NothingToDo()) return 2;
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
  if (command != "serve" && command != "dev" && command != "check-config" && command != "import-osv" &&
      command != "rescore" && command != "score" && command != "topology" && command != "watch")
    return Usage(fmt::format("unknown command '{}'", command));
  std::string topology_action;  // topology: plan | apply
  WatchOptions watch;
  std::string watch_max = "0";
  auto add_filter = [&watch](const char* name, const std::string& value) {
    watch.query += fmt::format("{}{}={}", watch.query.empty() ? "" : "&", name, core::PercentEncode(value));
  };
  bool prune = false, detailed_exitcode = false;
  std::string positional;
  std::vector<std::string> targets;  // score: PURL, or ECOSYSTEM NAME
  bool json_output = false;
  std::string timeout_text = "60";

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
    else if (command == "watch" && arg == "--url")
      ok = value(&watch.url);
    else if (command == "watch" && (arg == "--ecosystem" || arg == "--prefix" || arg == "--score-below" ||
                                    arg == "--score-above")) {
      std::string v;
      ok = value(&v);
      std::string name = arg.substr(2);
      std::replace(name.begin(), name.end(), '-', '_');
      if (ok) add_filter(name.c_str(), v);
    } else if (command == "watch" && arg == "--flagged")
      add_filter("flagged", "true");
    else if (command == "watch" && arg == "--from-offset") {
      std::string v;
      ok = value(&v);
      char* end = nullptr;
      long long offset = ok ? std::strtoll(v.c_str(), &end, 10) : 0;
      if (ok && (v.empty() || *end != '\0' || offset < 0)) return Usage("--from-offset takes a whole number");
      watch.from_offset = offset;
    } else if (command == "watch" && arg == "--json")
      watch.json = true;
    else if (command == "watch" && arg == "--max-events")
      ok = value(&watch_max);
    else if (command == "topology" && topology_action.empty() && !arg.starts_with("-"))
      topology_action = arg;
    else if (command == "topology" && arg == "--prune")
      prune = true;
    else if (command == "topology" && arg == "--detailed-exitcode")
      detailed_exitcode = true;
    else if (command == "import-osv" && positional.empty() && !arg.starts_with("-"))
      positional = arg;
    else if (command == "score" && targets.size() < 3 && !arg.starts_with("-"))
      targets.push_back(arg);
    else if (command == "score" && arg == "--json")
      json_output = true;
    else if (command == "score" && arg == "--timeout")
      ok = value(&timeout_text);
    else if (arg == "--db" &&
             (command == "dev" || command == "import-osv" || command == "rescore" || command == "score"))
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
    if (command == "import-osv") {
      if (positional.empty()) return Usage("'import-osv' needs the PATH of an OSV file or folder");
      config = config_path.empty() ? DefaultConfig() : LoadConfigFile(config_path);
      if (config_path.empty()) config.database.path = db_path.empty() ? "pkgtrust-dev.db" : db_path;
      return RunImportOsv(positional, config);
    }
    if (command == "score") {
      if (targets.empty()) return Usage("'score' needs a purl (pkg:npm/left-pad) or ECOSYSTEM NAME");
      char* end = nullptr;
      long timeout = std::strtol(timeout_text.c_str(), &end, 10);
      if (timeout_text.empty() || *end != '\0' || timeout < 1 || timeout > 3600)
        return Usage("--timeout takes whole seconds from 1 to 3600");
      config = config_path.empty() ? DefaultConfig() : LoadConfigFile(config_path);
      if (config_path.empty()) config.database.path = db_path.empty() ? "pkgtrust-dev.db" : db_path;
      config.log_level = core::LogLevel::kWarn;
      if (!log_level.empty() && !core::ParseLogLevel(log_level, &config.log_level))
        return Usage(fmt::format("unknown log level '{}'", log_level));
      return RunScore(std::move(config), targets, json_output, std::chrono::seconds(timeout));
    }
    if (command == "watch") {
      char* end = nullptr;
      long max = std::strtol(watch_max.c_str(), &end, 10);
      if (watch_max.empty() || *end != '\0' || max < 0 || max > 1'000'000'000)
        return Usage("--max-events takes a whole number (0: no limit)");
      watch.max_events = static_cast<int>(max);
      return RunWatch(watch);
    }
    if (command == "topology") {
      if (topology_action != "plan" && topology_action != "apply")
        return Usage("'topology' needs 'plan' or 'apply'");
      config = config_path.empty() ? DefaultConfig() : LoadConfigFile(config_path);
      return RunTopology(config, topology_action == "apply", prune, detailed_exitcode);
    }
    if (command == "rescore") {
      config = config_path.empty() ? DefaultConfig() : LoadConfigFile(config_path);
      if (config_path.empty()) config.database.path = db_path.empty() ? "pkgtrust-dev.db" : db_path;
      return RunRescore(config);
    }
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
