#include "app/check_command.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>

#include "app/config.hpp"
#include "app/service.hpp"
#include "pkgtrust/check/render.hpp"
#include "pkgtrust/core/clock.hpp"
#include "pkgtrust/core/log.hpp"
#include "pkgtrust/core/package_name.hpp"
#include "pkgtrust/core/purl.hpp"
#include "pkgtrust/net/http_client.hpp"
#include "pkgtrust/net/url.hpp"
#include "pkgtrust/pipeline/package_lookup.hpp"

namespace pkgtrust::app {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

constexpr std::uintmax_t kMaxFileBytes = 256u << 20;

// Folders a walk does not enter: installed packages, version control, vendored code and
// virtual environments hold other projects' files, not this repository's locks.
bool SkippedFolder(const fs::path& folder) {
  static const std::set<std::string> kNames = {"node_modules", ".git",          ".hg",         ".svn",
                                               "vendor",       ".venv",         "venv",        ".tox",
                                               "__pycache__",  "site-packages", ".pnpm-store", ".yarn"};
  if (kNames.contains(folder.filename().string())) return true;
  std::error_code error;
  return fs::exists(folder / "pyvenv.cfg", error);  // any virtual environment, whatever its name
}

struct Input {
  std::string path;
  lockfile::Format format;
};

// The files to read: named ones (their format from --format or the name), and the known
// names below named folders. A go.sum beside a go.mod is left out: go.mod says which
// versions the build selects, go.sum lists every version ever downloaded.
std::vector<Input> FindInputs(const CheckOptions& options, std::vector<check::InputError>& errors) {
  std::vector<Input> inputs;
  for (const std::string& path : options.paths) {
    std::error_code error;
    if (fs::is_directory(path, error)) {
      std::vector<Input> found;
      fs::recursive_directory_iterator it(path, fs::directory_options::skip_permission_denied, error), end;
      for (; !error && it != end; it.increment(error)) {
        if (it->is_directory(error)) {
          if (it->is_symlink(error) || SkippedFolder(it->path())) it.disable_recursion_pending();
          continue;
        }
        auto format = lockfile::DetectFormat(it->path().string());
        if (format && !it->is_symlink(error) && it->is_regular_file(error))
          found.push_back({it->path().lexically_normal().string(), *format});
      }
      if (error)
        errors.push_back({path, fmt::format("{}: cannot read the folder: {}", path, error.message())});
      std::sort(found.begin(), found.end(), [](const Input& a, const Input& b) { return a.path < b.path; });
      for (const Input& input : found) {
        if (input.format == lockfile::Format::kGoSum &&
            fs::exists(fs::path(input.path).parent_path() / "go.mod", error))
          continue;
        inputs.push_back(input);
      }
      continue;
    }
    if (!fs::exists(path, error)) {
      errors.push_back({path, fmt::format("{}: no such file or folder", path)});
      continue;
    }
    auto format = options.format ? options.format : lockfile::DetectFormat(path);
    if (!format) {
      errors.push_back(
          {path, fmt::format("{}: cannot tell the format from the file name; name it with --format", path)});
      continue;
    }
    inputs.push_back({path, *format});
  }
  return inputs;
}

core::Result<std::string> ReadFile(const fs::path& path) {
  std::error_code error;
  auto size = fs::file_size(path, error);
  if (error) return core::Status::NotFound(fmt::format("{}: {}", path.string(), error.message()));
  if (size > kMaxFileBytes)
    return core::Status::InvalidArgument(
        fmt::format("{}: {} bytes; files over {} MB are not read", path.string(), size, kMaxFileBytes >> 20));
  std::ifstream in(path, std::ios::binary);
  if (!in) return core::Status::NotFound(fmt::format("{}: cannot open", path.string()));
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// Reads and parses every input; a file that fails is an error of its own.
std::vector<lockfile::LockedDependency> ReadInputs(const std::vector<Input>& inputs,
                                                   check::CheckResult& result) {
  std::vector<lockfile::LockedDependency> dependencies;
  for (const Input& input : inputs) {
    result.files.push_back(input.path);
    auto text = ReadFile(input.path);
    if (!text.ok()) {
      result.errors.push_back({input.path, text.status().message()});
      continue;
    }
    lockfile::LockfileInput file{input.path, std::move(*text), nullptr};
    fs::path folder = fs::path(input.path).parent_path();
    file.read_relative = [folder](const std::string& relative) { return ReadFile(folder / relative); };
    auto parsed = lockfile::ParseLockfile(input.format, file);
    if (!parsed.ok()) {
      result.errors.push_back({input.path, parsed.status().message()});
      continue;
    }
    for (auto& dependency : *parsed) dependencies.push_back(std::move(dependency));
  }
  return dependencies;
}

// The policy file, then the flags over it.
core::Result<check::Policy> LoadPolicy(const CheckOptions& options) {
  check::Policy policy;
  policy.source = "defaults";
  std::string path = options.policy_path;
  if (path.empty()) {
    std::string root = ".";
    std::error_code error;
    if (!options.paths.empty() && fs::is_directory(options.paths[0], error)) root = options.paths[0];
    if (fs::exists(fs::path(root) / ".pkgtrust.yaml", error))
      path = (fs::path(root) / ".pkgtrust.yaml").string();
  }
  if (!path.empty()) {
    auto text = ReadFile(path);
    if (!text.ok()) return text.status();
    auto parsed = check::ParsePolicy(*text, path);
    if (!parsed.ok()) return parsed.status();
    policy = std::move(*parsed);
  }
  for (const auto& [name, value] : options.policy_overrides)
    if (auto set = check::SetPolicyOption(policy, name, value, name); !set.ok()) return set;
  return policy;
}

// "scored 812 of 1,034, 222 waiting" on stderr, rewritten in place; only on a terminal.
class Progress {
 public:
  Progress() : shown_(isatty(STDERR_FILENO) == 1) {}
  ~Progress() { Clear(); }
  void Show(std::size_t done, std::size_t total) {
    if (!shown_) return;
    std::fprintf(stderr, "\r\033[Kscored %s of %s, %s waiting", check::Thousands(done).c_str(),
                 check::Thousands(total).c_str(), check::Thousands(total - done).c_str());
    std::fflush(stderr);
    drawn_ = true;
  }
  void Clear() {
    if (drawn_) std::fprintf(stderr, "\r\033[K");
    drawn_ = false;
  }

 private:
  bool shown_;
  bool drawn_ = false;
};

// An entry that waiting longer will not change: a report, or an answer that is final for
// this check (not in the registry, refused as invalid, or the server could not read it).
bool Settled(const json& entry) {
  if (entry.is_object() && entry.contains("score")) return true;
  std::string status = entry.is_object() ? entry.value("status", "") : "";
  return status == "not_found" || status == "invalid" || status == "error";
}

using Steady = std::chrono::steady_clock;

// The reports from a server: batches of up to 1,000 purls to POST /v1/packages:query (fewer
// when the server says 413), asked again for those still pending until the wait runs out.
// A server that cannot be reached (or answers 5xx) is Unavailable: exit 3.
core::Result<std::map<std::string, json>> QueryServer(const CheckOptions& options,
                                                      const std::vector<check::Lookup>& lookups) {
  auto base = net::ParseUrl(options.url);
  if (!base.ok())
    return core::Status::InvalidArgument(fmt::format("--url {}: {}", options.url, base.status().message()));
  net::HttpClientConfig client_config;
  client_config.trusted_hosts = {base->host};
  net::BeastHttpClient client(client_config);
  std::string endpoint = options.url;
  while (endpoint.ends_with("/")) endpoint.pop_back();
  endpoint += "/v1/packages:query";

  std::map<std::string, json> reports;
  std::vector<std::string> waiting;
  for (const check::Lookup& lookup : lookups) waiting.push_back(lookup.purl);
  std::size_t batch_size = 1000;  // POST /v1/packages:query's default limit
  Progress progress;
  auto deadline = Steady::now() + std::chrono::seconds(options.wait_seconds);
  while (!waiting.empty()) {
    auto round_start = Steady::now();
    std::vector<std::string> still;
    for (std::size_t start = 0; start < waiting.size();) {
      std::size_t count = std::min(batch_size, waiting.size() - start);
      std::vector<std::string> batch(waiting.begin() + start, waiting.begin() + start + count);
      // Each batch waits at most what is left of --wait (and 10 s, so that progress shows and
      // a server with a smaller api.max_wait_seconds takes the query).
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Steady::now());
      double batch_wait = std::clamp(left.count() / 1000.0, 0.0, 10.0);
      net::HttpRequest request;
      request.method = "POST";
      request.url = endpoint;
      request.headers = {{"Content-Type", "application/json"}};
      if (!options.token.empty()) request.headers.emplace_back("Authorization", "Bearer " + options.token);
      request.body = json{{"packages", batch}, {"wait", batch_wait}}.dump();
      request.timeout = std::chrono::milliseconds(static_cast<long>(batch_wait * 1000) + 30'000);
      request.max_attempts = 2;
      request.max_body_bytes = 512u << 20;
      std::promise<core::Result<net::HttpResponse>> answered;
      client.Fetch(std::move(request),
                   [&answered](core::Result<net::HttpResponse> r) { answered.set_value(std::move(r)); });
      core::Result<net::HttpResponse> response = answered.get_future().get();
      if (!response.ok())
        return core::Status::Unavailable(
            fmt::format("cannot reach the pkgtrust server: {}", response.status().message()));
      if (response->status == 413 && batch_size > 1) {  // a server configured for smaller queries
        batch_size = std::max<std::size_t>(1, batch_size / 2);
        continue;
      }
      json body = json::parse(response->body, nullptr, false);
      if (response->status == 401 || response->status == 403)
        return core::Status::PermissionDenied(
            fmt::format("the server at {} refused the query ({}): give --token or set PKGTRUST_TOKEN",
                        options.url, response->status));
      if (response->status != 200 || !body.is_object() || !body.contains("results") ||
          !body["results"].is_array() || body["results"].size() != batch.size()) {
        std::string message = body.is_object() && body.contains("error") && body["error"].is_object()
                                  ? body["error"].value("message", "")
                                  : response->body.substr(0, 200);
        return core::Status::Unavailable(
            fmt::format("the pkgtrust server at {} answered {}: {}", options.url, response->status, message));
      }
      for (std::size_t i = 0; i < batch.size(); ++i) {
        json& entry = body["results"][i];
        if (!Settled(entry)) still.push_back(batch[i]);
        reports[batch[i]] = std::move(entry);
      }
      start += count;
    }
    waiting = std::move(still);
    progress.Show(lookups.size() - waiting.size(), lookups.size());
    if (waiting.empty() || Steady::now() >= deadline) break;
    // Answered early with work still pending (runs that failed and wait for the
    // reconciler): ask again in a second, not in a tight loop.
    auto next = std::min(deadline, round_start + std::chrono::seconds(1));
    if (next > Steady::now()) std::this_thread::sleep_until(next);
  }
  return reports;
}

// The reports from this process's pipeline and database, as `pkgtrust score` gets them.
core::Result<std::map<std::string, json>> LookUpInProcess(const CheckOptions& options,
                                                          const std::vector<check::Lookup>& lookups) {
  Config config = options.config_path.empty() ? DefaultConfig() : LoadConfigFile(options.config_path);
  if (options.config_path.empty() || !options.db_path.empty())
    config.database.path = options.db_path.empty() ? "pkgtrust-dev.db" : options.db_path;
  config.log_level = core::LogLevel::kWarn;
  core::SetLogLevel(config.log_level);
  Service service(std::move(config));
  service.Start(/*serve_http=*/false);
  std::vector<pipeline::LookupRequest> requests;
  for (const check::Lookup& lookup : lookups) requests.push_back({lookup.key, lookup.version});
  std::promise<core::Result<std::vector<pipeline::LookupAnswer>>> answered;
  service.lookup().LookupMany(std::move(requests), std::chrono::seconds(options.wait_seconds), "cli-check",
                              [&answered](auto answers) { answered.set_value(std::move(answers)); });
  auto answers = answered.get_future().get();
  if (!answers.ok()) return answers.status();
  std::map<std::string, json> reports;
  using Kind = pipeline::LookupAnswer::Kind;
  // The answers come in the order asked: each is filed under its lookup's purl.
  for (std::size_t i = 0; i < answers->size() && i < lookups.size(); ++i) {
    const pipeline::LookupAnswer& answer = (*answers)[i];
    json entry;
    if (answer.kind == Kind::kReport && answer.report)
      entry = json::parse(*answer.report, nullptr, false);
    else if (answer.kind == Kind::kNotFound)
      entry = {{"status", "not_found"}};
    else if (answer.kind == Kind::kPending)
      entry = {
          {"status", answer.record ? std::string(core::PackageStateName(answer.record->state)) : "pending"}};
    else
      entry = {{"status", "error"}, {"error", {{"message", answer.error.message()}}}};
    reports[lookups[i].purl] = std::move(entry);
  }
  return reports;
}

// Package data may hold any bytes: invalid UTF-8 is replaced, never an exception.
bool WriteSarif(const std::string& path, const json& sarif) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << sarif.dump(2, ' ', false, json::error_handler_t::replace) << "\n";
  if (out.good()) return true;
  std::fprintf(stderr, "pkgtrust check: cannot write %s\n", path.c_str());
  return false;
}

bool UseColor(const CheckOptions& options) {
  if (options.color) return *options.color;
  const char* no_color = std::getenv("NO_COLOR");
  if (no_color && *no_color) return false;
  return isatty(STDOUT_FILENO) == 1;
}

core::Result<int> WholeNumber(const std::string& flag, const std::string& text, int min, int max) {
  char* end = nullptr;
  long value = std::strtol(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || value < min || value > max)
    return core::Status::InvalidArgument(
        fmt::format("{} takes a whole number from {} to {}", flag, min, max));
  return static_cast<int>(value);
}

}  // namespace

core::Status ParseCheckArguments(const std::vector<std::string>& args, CheckOptions* options) {
  if (const char* token = std::getenv("PKGTRUST_TOKEN")) options->token = token;
  bool json_output = false, markdown = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    std::string value;
    auto take = [&]() -> core::Status {
      if (i + 1 >= args.size())
        return core::Status::InvalidArgument(fmt::format("option '{}' needs a value", arg));
      value = args[++i];
      return core::Status::Ok();
    };
    bool takes_value = arg == "--format" || arg == "--url" || arg == "--token" || arg == "--db" ||
                       arg == "--config" || arg == "--wait" || arg == "--sarif" || arg == "--policy" ||
                       arg == "--fail-on" || arg == "--min-score" || arg == "--too-new-hours";
    if (takes_value)
      if (auto s = take(); !s.ok()) return s;
    if (!arg.starts_with("-")) {
      options->paths.push_back(arg);
    } else if (arg == "--format") {
      options->format = lockfile::FormatFromName(value);
      if (!options->format) {
        std::vector<std::string_view> names;
        for (lockfile::Format format : lockfile::kAllFormats) names.push_back(lockfile::FormatName(format));
        return core::Status::InvalidArgument(
            fmt::format("unknown --format '{}' (known: {})", value, fmt::join(names, ", ")));
      }
    } else if (arg == "--url") {
      auto url = net::ParseUrl(value);
      if (!url.ok())
        return core::Status::InvalidArgument(fmt::format("--url {}: {}", value, url.status().message()));
      options->url = value;
    } else if (arg == "--token") {
      options->token = value;
    } else if (arg == "--db") {
      options->db_path = value;
      options->in_process = true;
    } else if (arg == "--config") {
      options->config_path = value;
      options->in_process = true;
    } else if (arg == "--wait") {
      auto seconds = WholeNumber("--wait", value, 0, 3600);
      if (!seconds.ok()) return seconds.status();
      options->wait_seconds = *seconds;
    } else if (arg == "--json") {
      json_output = true;
    } else if (arg == "--markdown") {
      markdown = true;
    } else if (arg == "--sarif") {
      options->sarif_path = value;
    } else if (arg == "--policy") {
      options->policy_path = value;
    } else if (arg == "--fail-on" || arg == "--min-score" || arg == "--too-new-hours") {
      // Checked now, so that a bad value is a usage error; applied over the policy file.
      std::string name = arg.substr(2);
      std::replace(name.begin(), name.end(), '-', '_');
      check::Policy scratch;
      if (auto set = check::SetPolicyOption(scratch, name, value, arg); !set.ok()) return set;
      options->policy_overrides.emplace_back(name, value);
    } else if (arg == "--color") {
      options->color = true;
    } else if (arg == "--no-color") {
      options->color = false;
    } else {
      return core::Status::InvalidArgument(fmt::format("unknown option '{}'", arg));
    }
  }
  if (json_output && markdown)
    return core::Status::InvalidArgument("--json and --markdown cannot be combined");
  if (json_output) options->output = CheckOptions::Output::kJson;
  if (markdown) options->output = CheckOptions::Output::kMarkdown;
  if (options->paths.empty()) options->paths.push_back(".");
  return core::Status::Ok();
}

int RunCheck(const CheckOptions& options) {
  auto policy = LoadPolicy(options);
  if (!policy.ok()) {
    std::fprintf(stderr, "pkgtrust check: %s\n", policy.status().message().c_str());
    return check::kExitInputError;
  }
  check::CheckResult result;
  result.policy = std::move(*policy);
  std::vector<Input> inputs = FindInputs(options, result.errors);
  std::vector<lockfile::LockedDependency> dependencies = ReadInputs(inputs, result);
  if (inputs.empty() && result.errors.empty()) {
    std::fprintf(stderr, "pkgtrust check: no lockfile, manifest or SBOM found in %s\n",
                 fmt::format("{}", fmt::join(options.paths, ", ")).c_str());
    return check::kExitInputError;
  }

  std::vector<check::Lookup> lookups = check::LookupsFor(dependencies);
  core::Result<std::map<std::string, json>> reports = std::map<std::string, json>{};
  if (!lookups.empty())
    reports = options.in_process ? LookUpInProcess(options, lookups) : QueryServer(options, lookups);
  if (!reports.ok()) {
    // No verdicts: say why, and what else went wrong, and leave a SARIF file that says the
    // run failed (a CI step uploading it must not fail on a missing file instead).
    for (const check::InputError& error : result.errors)
      std::fprintf(stderr, "pkgtrust check: %s\n", error.message.c_str());
    std::fprintf(stderr, "pkgtrust check: %s\n", reports.status().message().c_str());
    if (!options.sarif_path.empty())
      WriteSarif(options.sarif_path,
                 check::RenderSarifFailure(result, PKGTRUST_VERSION, ".", reports.status().message()));
    return reports.status().code() == core::StatusCode::kPermissionDenied ? check::kExitInputError
                                                                          : check::kExitUnreachable;
  }
  result.verdicts =
      check::JudgeAll(dependencies, *reports, result.policy, core::SystemClock::Instance().NowMillis());

  if (!options.sarif_path.empty() &&
      !WriteSarif(options.sarif_path, check::RenderSarif(result, PKGTRUST_VERSION, ".")))
    return check::kExitInputError;
  std::string out;
  switch (options.output) {
    case CheckOptions::Output::kJson:
      out = check::RenderJson(result).dump(2, ' ', false, json::error_handler_t::replace) + "\n";
      break;
    case CheckOptions::Output::kMarkdown:
      out = check::RenderMarkdown(result);
      break;
    case CheckOptions::Output::kTable:
      out = check::RenderTable(result, UseColor(options));
      break;
  }
  std::fwrite(out.data(), 1, out.size(), stdout);
  std::fflush(stdout);
  return check::ExitCodeOf(result);
}

}  // namespace pkgtrust::app
