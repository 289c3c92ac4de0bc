#include "app/cli.hpp"

#include <fmt/format.h>
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "app/adoption_commands.hpp"
#include "app/backfill_command.hpp"
#include "app/check_command.hpp"
#include "app/config.hpp"
#include "app/score_command.hpp"
#include "app/service.hpp"
#include "app/watch_command.hpp"
#include "pkgtrust/bus/sqs_topology.hpp"
#include "pkgtrust/core/percent_encoding.hpp"
#include "pkgtrust/net/sigv4.hpp"
#include "pkgtrust/pipeline/stage_handlers.hpp"
#include "pkgtrust/scoring/osv.hpp"
#include "pkgtrust/scoring/typosquat.hpp"
#include "pkgtrust/store/migrate_store.hpp"
#include "pkgtrust/store/store.hpp"

#ifndef PKGTRUST_VERSION
#define PKGTRUST_VERSION "0.0.0"
#endif

namespace pkgtrust::app {
namespace {

// Each command's help: `pkgtrust COMMAND --help` prints it whole; `pkgtrust --help` lists
// every command's synopsis and summary.
struct CommandHelp {
  const char* name;
  const char* synopsis;  // "pkgtrust NAME ..."
  const char* summary;   // one line for the command list
  const char* details;   // options and examples
};

constexpr CommandHelp kCommands[] = {
    {"serve", "pkgtrust serve --config FILE [--log-level LEVEL]",
     "run the service with a config file (see config/pkgtrust.yaml)",
     R"(Runs the REST API, the webhook and the pipeline as the config file says, until SIGTERM
or SIGINT (then /readyz answers 503, requests in flight finish, queued work is kept).

Options:
  --config FILE       the config file (required; config/pkgtrust.yaml documents every key)
  --log-level LEVEL   debug, info, warn or error (overrides log.level)

Example:
  pkgtrust serve --config /etc/pkgtrust/pkgtrust.yaml
)"},
    {"dev", "pkgtrust dev [--db PATH] [--log-level LEVEL]",
     "run with the embedded defaults, in-memory queues and a local SQLite file",
     R"(Runs the service with the defaults compiled into the binary (those of
config/pkgtrust.yaml): HTTP on 127.0.0.1:8080, in-memory queues, debug logs.

Options:
  --db PATH           the SQLite file (default ./pkgtrust-dev.db)
  --log-level LEVEL   debug (default), info, warn or error

Example:
  pkgtrust dev --db /tmp/pkgtrust.db
)"},
    {"check",
     "pkgtrust check [PATH...] [--url URL | --db PATH | --config FILE] [--wait SECONDS] [--json | "
     "--markdown] "
     "[--sarif FILE] [--policy FILE] [--fail-on LIST] [--min-score N] [--too-new-hours N] [--format NAME]",
     "check a repository's lockfiles, manifests and SBOMs against the policy",
     R"(Finds the lockfiles, manifests and SBOMs under each PATH (default: the current folder;
node_modules, .git, vendor and virtual environments are skipped) or reads the files named,
looks every locked package up at the locked version, and judges it against the policy:
.pkgtrust.yaml in the first folder named (or --policy), then the flags. Every dependency
is printed, worst first. docs/check.md lists the formats and the policy file.

Exit status: 0 passed, 1 the policy is violated, 2 a usage error or a file that could not
be read (the other files are still checked), 3 the server could not be reached or failed.

Options:
  --url URL            the pkgtrust server (default http://127.0.0.1:8080); POST /v1/packages:query
  --token TOKEN        sent as a bearer token (default: $PKGTRUST_TOKEN)
  --db PATH            no server: look up in this SQLite file, fetching in this process
  --config FILE        no server: the database and upstreams of this config file
  --wait SECONDS       how long to wait for packages without a report (0 to 3600, default 60);
                       those still waiting are `pending`
  --json               the verdicts as JSON;  --markdown: as Markdown for a pull request
  --sarif FILE         also write SARIF 2.1.0 (for GitHub code scanning) to FILE
  --policy FILE        the policy file instead of ./.pkgtrust.yaml
  --fail-on LIST       what fails, comma-separated: malicious, typosquat, yanked, deprecated,
                       too_new, low_score, pending, missing (default malicious,typosquat)
  --min-score N        a score below N is a low_score finding (0 to 10)
  --too-new-hours N    a version published less than N hours ago is too_new (default 24)
  --format NAME        the format of the files named: package-lock, yarn, pnpm, bun,
                       requirements, poetry, pipfile, uv, pdm, pylock, cargo, gomod, gosum,
                       pom, gradle, cyclonedx, spdx
  --color, --no-color  colours in the table (default: on a terminal, unless NO_COLOR is set)

Examples:
  pkgtrust check
  pkgtrust check --url http://pkgtrust.internal:8080 --sarif pkgtrust.sarif --fail-on malicious,typosquat,yanked
  pkgtrust check services/api/package-lock.json --json
  pkgtrust check --db pkgtrust.db --wait 120 requirements.txt
)"},
    {"check-config", "pkgtrust check-config --config FILE",
     "validate a config file and its topology, then exit",
     R"(Reads the config file and the topology it names and reports the first problem with
its file, line and key; exits 0 when both are valid, 1 otherwise.

Options:
  --config FILE       the config file (required)

Example:
  pkgtrust check-config --config config/pkgtrust.yaml
)"},
    {"import-osv", "pkgtrust import-osv PATH [--config FILE | --db PATH]",
     "store the malicious-package advisories of an OSV file or folder",
     R"(Reads every *.json under PATH (or the file PATH) as OSV records, stores the MAL-
records of scored ecosystems (a newer copy replaces an older one; withdrawn records are
kept as withdrawn and flag nothing), and re-scores the stored packages they change.

Options:
  --config FILE       the database of this config file
  --db PATH           this SQLite file (default ./pkgtrust-dev.db, the dev database)

Example:
  git clone https://github.com/ossf/malicious-packages
  pkgtrust import-osv malicious-packages/osv --config /etc/pkgtrust/pkgtrust.yaml
)"},
    {"import-access-log",
     "pkgtrust import-access-log FILE --format nginx-combined [--ecosystem npm|pypi] [--prefix PATH] "
     "[--config FILE | --db PATH]",
     "turn an nginx mirror's access log into adoption data",
     R"(Reads the access log of an nginx that fronts an npm or PyPI mirror (nginx's "combined"
format) and stores each request as the gateway would log it: the client's address is
replaced by its origin key while the line is read (docs/privacy.md), the User-Agent is
reduced to the client tool. Then the rows are processed into downloads, unique origins and
metadata counts, and packages seen for the first time are queued for scoring. Lines that are
not in the format are skipped and named with their line number. Importing the same lines
twice counts them twice: import each log file once.

Options:
  --format nginx-combined   the log's format (required)
  --ecosystem npm|pypi      what the mirror serves (default: by path; /simple/ and
                            /packages/ are PyPI)
  --prefix PATH             where the mirror's root is below the server's (default /)
  --config FILE             the database of this config file
  --db PATH                 this SQLite file (default ./pkgtrust-dev.db)

Example:
  pkgtrust import-access-log /var/log/nginx/npm-mirror.access.log --format nginx-combined \
    --ecosystem npm --config /etc/pkgtrust/pkgtrust.yaml
)"},
    {"backfill",
     "pkgtrust backfill [--ecosystem E] [--top N] [--list FILE] [--config FILE | --db PATH] [--log-level "
     "LEVEL]",
     "read the popular packages a database does not know yet, now",
     R"(Does once what index.popular does when the service starts (docs/deploy.md): the packages
of the popular lists (index.lists: the shipped npm and PyPI lists, or files) that the
database does not know are read, most popular first, at the pace the index: settings set
(work in flight, GitHub's budget). A progress line shows the names walked, enqueued,
finished and already known, whether it waits for GitHub's budget and the time left; a
summary follows. Ctrl-C stops it: what was enqueued stays in the database for a service
to finish.

Options:
  --ecosystem E       only this ecosystem's list
  --top N             the first N names of each list
  --list FILE         this list instead (name<TAB>downloads, or name<TAB>rank under a
                      header naming the column rank); needs --ecosystem
  --config FILE       the database and settings of this config file
  --db PATH           this SQLite file (default ./pkgtrust-dev.db)
  --log-level LEVEL   debug, info, warn (default) or error

Example:
  pkgtrust backfill --ecosystem npm --top 1000 --config /etc/pkgtrust/pkgtrust.yaml
)"},
    {"adoption",
     "pkgtrust adoption ECOSYSTEM NAME [--from YYYY-MM-DD] [--to YYYY-MM-DD] [--json] [--config FILE | --db "
     "PATH]",
     "print a package's downloads per version and the adoption of its major versions",
     R"(Prints, for the days from..to (default: the last 30 days), each version's downloads
through the gateway (or imported access logs), and for each major version its first
publish, the days it took to reach half of the downloads and its share of each day's
downloads as a small curve. --json prints what GET /v1/adoption/{ecosystem}/{name} answers.

Options:
  --from, --to DAY    the range (UTC days, inclusive)
  --json              the JSON report
  --config FILE       the database of this config file
  --db PATH           this SQLite file (default ./pkgtrust-dev.db)

Example:
  pkgtrust adoption npm react --from 2026-01-01 --config /etc/pkgtrust/pkgtrust.yaml
)"},
    {"migrate-store", "pkgtrust migrate-store --from sqlite:PATH --to postgres [--config FILE]",
     "copy a SQLite database into PostgreSQL",
     R"(Copies the packages, facts, advisories, repositories and change log of the SQLite
file PATH into the PostgreSQL database of the connection string in the environment
variable that database.postgres_url_env names (PKGTRUST_DATABASE_URL by default), applying
its migrations first. It copies a chunk of rows per transaction: run it again after an
interruption and it continues. At the end it compares the row counts of every table and
exits 1 naming the first that differs. Stop the services using the SQLite file first.

Options:
  --from sqlite:PATH  the SQLite database to copy
  --to postgres       the PostgreSQL database (the only target)
  --config FILE       read database.postgres_url_env from this config file

Example:
  PKGTRUST_DATABASE_URL=postgresql://pkgtrust@db.internal/pkgtrust \
    pkgtrust migrate-store --from sqlite:/var/lib/pkgtrust/pkgtrust.db --to postgres
)"},
    {"rescore", "pkgtrust rescore [--config FILE | --db PATH]",
     "re-score every complete package from its stored facts with the current model",
     R"(Scores every complete package again from the facts already stored (no upstream is
asked), e.g. after an upgrade that changes the model or the popular-package lists.

Options:
  --config FILE       the database of this config file
  --db PATH           this SQLite file (default ./pkgtrust-dev.db)

Example:
  pkgtrust rescore --config /etc/pkgtrust/pkgtrust.yaml
)"},
    {"score",
     "pkgtrust score PURL | ECOSYSTEM NAME [VERSION] [--json] [--timeout SECONDS] [--config FILE | --db "
     "PATH]",
     "fetch and score one package in-process and print its report",
     R"(Fetches and scores one package in this process (unless its stored report is fresh)
and prints the report, and what is known of the version a purl (@version) or VERSION
names. Exit status: 0 scored, 3 no such package, 1 failed or timed out, 2 bad arguments.

Options:
  --json              print the report as JSON (as GET /v1/packages/... answers)
  --timeout SECONDS   give up after this long (1 to 3600, default 60)
  --config FILE       the database and upstreams of this config file
  --db PATH           this SQLite file (default ./pkgtrust-dev.db)
  --log-level LEVEL   warn by default

Examples:
  pkgtrust score npm left-pad
  pkgtrust score pkg:npm/fsevents@1.2.9 --json
  pkgtrust score pypi requests 2.32.3
)"},
    {"topology", "pkgtrust topology plan|apply [--config FILE] [--prune] [--detailed-exitcode]",
     "compare the SNS/SQS topology with the account, and make them match",
     R"(For transport.kind: sqs. Compares the topology file with the SNS topics, SQS queues and
subscriptions of the account (transport.sqs settings, AWS_* credentials) and prints the
changes; apply makes them. Topics and queues with the name prefix that the file does not
name are listed and kept.

Options:
  --config FILE          the config file (its transport.sqs settings and topology)
  --prune                also delete what has the name prefix but is not in the file
  --detailed-exitcode    plan exits 2 when the account differs from the file in any way
                         (changes to make, or resources the file does not name), 0 when
                         it matches, 1 on an error

Example:
  AWS_REGION=eu-west-1 pkgtrust topology plan --config pkgtrust.yaml --detailed-exitcode
)"},
    {"watch",
     "pkgtrust watch [--url URL] [--ecosystem E] [--prefix P] [--score-below N] [--score-above N] "
     "[--flagged] [--from-offset N] [--json] [--max-events N]",
     "follow the change stream of a running service",
     R"(Follows GET /v1/changes of the service at URL: the state first, then each change as it
happens; after a disconnect it reconnects where it left off. Ctrl-C ends it (exit 0).

Options:
  --url URL           the service (default http://127.0.0.1:8080)
  --ecosystem E       only this ecosystem (npm, pypi, crates, maven, go)
  --prefix P          only names starting with P
  --score-below N     only scores below N;  --score-above N: above N
  --flagged           only packages with a flag set
  --from-offset N     skip the state; changes after offset N
  --json              print each event's JSON instead of one line per event
  --max-events N      exit after N events (0: no limit)

Example:
  pkgtrust watch --ecosystem npm --flagged
)"},
};

const CommandHelp* FindCommand(std::string_view name) {
  for (const CommandHelp& command : kCommands)
    if (command.name == name) return &command;
  return nullptr;
}

std::string GlobalUsage() {
  std::string out = "pkgtrust - package supply-chain risk service\n\nUsage: pkgtrust COMMAND [OPTIONS]\n\n";
  for (const CommandHelp& command : kCommands)
    out += fmt::format("  {}\n      {}\n", command.synopsis, command.summary);
  out +=
      "\n  pkgtrust COMMAND --help    a command's options and examples\n"
      "  pkgtrust --version         the version\n";
  return out;
}

std::string CommandUsage(const CommandHelp& command) {
  return fmt::format("Usage: {}\n\n{}", command.synopsis, command.details);
}

// A usage error: the problem, the command's synopsis (or the command list), exit 2.
int Usage(const std::string& problem, const CommandHelp* command = nullptr) {
  if (command)
    std::fprintf(stderr,
                 "pkgtrust %s: %s\nUsage: %s\nRun 'pkgtrust %s --help' for its options and examples.\n",
                 command->name, problem.c_str(), command->synopsis, command->name);
  else
    std::fprintf(stderr, "pkgtrust: %s\n\n%s", problem.c_str(), GlobalUsage().c_str());
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
  auto store = store::Store::Open(config.database, core::SystemClock::Instance());
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

int RunMigrateStore(const std::vector<std::string>& args,
                    const std::function<int(const std::string&)>& usage) {
  std::string from, to, config_path;
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string* out = args[i] == "--from"     ? &from
                       : args[i] == "--to"     ? &to
                       : args[i] == "--config" ? &config_path
                                               : nullptr;
    if (!out) return usage(fmt::format("unknown option '{}'", args[i]));
    if (i + 1 >= args.size()) return usage(fmt::format("option '{}' needs a value", args[i]));
    *out = args[++i];
  }
  if (!from.starts_with("sqlite:") || from.size() == 7) return usage("--from takes sqlite:PATH");
  if (to != "postgres") return usage("--to takes postgres (the database of database.postgres_url_env)");
  std::string path = from.substr(7);
  if (!std::filesystem::exists(path)) {
    std::fprintf(stderr, "pkgtrust migrate-store: no SQLite database at '%s'\n", path.c_str());
    return 1;
  }
  try {
    Config config = config_path.empty() ? DefaultConfig() : LoadConfigFile(config_path);
    const char* url = std::getenv(config.database_url_env.c_str());
    if (!url || !*url) {
      std::fprintf(
          stderr,
          "pkgtrust migrate-store: the environment variable %s (database.postgres_url_env) is not set; it "
          "holds the PostgreSQL connection string\n",
          config.database_url_env.c_str());
      return 1;
    }
    auto started = std::chrono::steady_clock::now();
    auto progress = [](const std::string& table, std::int64_t copied, std::int64_t total) {
      std::fprintf(stderr, "%s: %lld of %lld rows\n", table.c_str(), static_cast<long long>(copied),
                   static_cast<long long>(total));
    };
    auto copied = store::CopySqliteToPostgres(path, url, progress);
    if (!copied.ok()) {
      std::fprintf(stderr, "pkgtrust migrate-store: %s\n", copied.status().message().c_str());
      return 1;
    }
    for (const store::CopiedTable& table : *copied)
      std::printf("%-16s %10lld rows in SQLite, %10lld in PostgreSQL (%lld copied now)\n", table.name.c_str(),
                  static_cast<long long>(table.source_rows), static_cast<long long>(table.target_rows),
                  static_cast<long long>(table.copied));
    std::printf("verified: every table has the same number of rows (%.1f s)\n",
                std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
    return 0;
  } catch (const std::exception& e) {  // a broken config file
    std::fprintf(stderr, "pkgtrust migrate-store: %s\n", e.what());
    return 1;
  }
}

int RunRescore(const Config& config) {
  auto store = store::Store::Open(config.database, core::SystemClock::Instance());
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
  if (config.transport_kind != "sqs") {
    std::fprintf(
        stderr,
        "pkgtrust topology: %s uses the %s transport (transport.kind); there is no SNS/SQS topology to "
        "%s. Set transport.kind: sqs and transport.sqs to use one.\n",
        config.source.c_str(), config.transport_kind.c_str(), apply ? "apply" : "plan");
    return 1;
  }
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
  // Anything that differs counts, a resource the file does not name too: the account is
  // not what the file describes.
  if (!apply && detailed_exitcode && !plan->changes.empty()) return 2;
  return 0;
}

}  // namespace

int RunCli(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty()) return Usage("no command given");
  const std::string command = args[0];
  if (command == "--help" || command == "-h" || command == "help") {
    if (args.size() > 1) {  // pkgtrust help COMMAND
      const CommandHelp* help = FindCommand(args[1]);
      if (!help) return Usage(fmt::format("unknown command '{}'", args[1]));
      std::fputs(CommandUsage(*help).c_str(), stdout);
      return 0;
    }
    std::fputs(GlobalUsage().c_str(), stdout);
    return 0;
  }
  if (command == "--version" || command == "version") {
    std::printf("pkgtrust %s\n", PKGTRUST_VERSION);
    return 0;
  }
  const CommandHelp* help = FindCommand(command);
  if (!help) return Usage(fmt::format("unknown command '{}'", command));
  // --help anywhere among a command's arguments: its help, whatever else is wrong.
  for (std::size_t i = 1; i < args.size(); ++i)
    if (args[i] == "--help" || args[i] == "-h") {
      std::fputs(CommandUsage(*help).c_str(), stdout);
      return 0;
    }
  auto usage = [help](const std::string& problem) { return Usage(problem, help); };
  if (command == "migrate-store") return RunMigrateStore({args.begin() + 1, args.end()}, usage);
  if (command == "import-access-log") return RunImportAccessLog({args.begin() + 1, args.end()}, usage);
  if (command == "adoption") return RunAdoptionCommand({args.begin() + 1, args.end()}, usage);
  if (command == "backfill") return RunBackfillCommand({args.begin() + 1, args.end()}, usage);
  if (command == "check") {  // its own options (check_command.cpp)
    CheckOptions options;
    if (auto status = ParseCheckArguments({args.begin() + 1, args.end()}, &options); !status.ok())
      return usage(status.message());
    try {
      return RunCheck(options);
    } catch (const std::exception& e) {  // a broken config file or database (--config, --db)
      std::fprintf(stderr, "pkgtrust check: %s\n", e.what());
      return check::kExitInputError;
    }
  }
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
      if (ok && (v.empty() || *end != '\0' || offset < 0)) return usage("--from-offset takes a whole number");
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
    else
      return usage(fmt::format("unknown option '{}'", arg));
    if (!ok) return usage(fmt::format("option '{}' needs a value", arg));
  }

  try {
    Config config;
    if (command == "import-osv") {
      if (positional.empty()) return usage("needs the PATH of an OSV file or folder");
      config = config_path.empty() ? DefaultConfig() : LoadConfigFile(config_path);
      if (config_path.empty()) config.database.path = db_path.empty() ? "pkgtrust-dev.db" : db_path;
      return RunImportOsv(positional, config);
    }
    if (command == "score") {
      if (targets.empty()) return usage("needs a purl (pkg:npm/left-pad) or ECOSYSTEM NAME");
      char* end = nullptr;
      long timeout = std::strtol(timeout_text.c_str(), &end, 10);
      if (timeout_text.empty() || *end != '\0' || timeout < 1 || timeout > 3600)
        return usage("--timeout takes whole seconds from 1 to 3600");
      config = config_path.empty() ? DefaultConfig() : LoadConfigFile(config_path);
      if (config_path.empty()) config.database.path = db_path.empty() ? "pkgtrust-dev.db" : db_path;
      config.log_level = core::LogLevel::kWarn;
      if (!log_level.empty() && !core::ParseLogLevel(log_level, &config.log_level))
        return usage(fmt::format("unknown log level '{}'", log_level));
      return RunScore(std::move(config), targets, json_output, std::chrono::seconds(timeout));
    }
    if (command == "watch") {
      char* end = nullptr;
      long max = std::strtol(watch_max.c_str(), &end, 10);
      if (watch_max.empty() || *end != '\0' || max < 0 || max > 1'000'000'000)
        return usage("--max-events takes a whole number (0: no limit)");
      watch.max_events = static_cast<int>(max);
      return RunWatch(watch);
    }
    if (command == "topology") {
      if (topology_action != "plan" && topology_action != "apply") return usage("needs 'plan' or 'apply'");
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
      if (config_path.empty()) return usage("needs --config FILE");
      config = LoadConfigFile(config_path);
    }
    if (!log_level.empty() && !core::ParseLogLevel(log_level, &config.log_level))
      return usage(fmt::format("unknown log level '{}'", log_level));
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
