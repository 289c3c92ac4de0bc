#include "app/check_command.hpp"

#include <fmt/format.h>
#include <unistd.h>

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

constexpr std::size_t kBatch = 1000;  // POST /v1/packages:query's limit
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
        if (format && it->is_regular_file(error))
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
  if (options.fail_on) policy.fail_on = *options.fail_on;
  if (options.min_score) policy.min_score = options.min_score;
  if (options.too_new_hours) policy.too_new_hours = *options.too_new_hours;
  return policy;
}

// "scored 812 of 1,034, 222 waiting" on stderr, rewritten in place; only on a terminal.
class Progress {
 public:
  Progress() : shown_(isatty(STDERR_FILENO) == 1) {}
  ~Progress() { Clear(); }
  void Show(std::size_t done, std::size_t total) {
    if (!shown_) return;
    std::fprintf(stderr, "\r\033[Kscored %zu of %zu, %zu waiting", done, total, total - done);
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

bool Settled(const json& entry) {
  if (entry.is_object() && entry.contains("score")) return true;
  std::string status = entry.is_object() ? entry.value("status", "") : "";
  return status == "not_found" || status == "invalid";
}

// The reports from a server: batches of 1,000 purls to POST /v1/packages:query, again for
// those still pending until the wait runs out. A server that cannot be reached (or
// answers 5xx) is an error: exit 3.
core::Result<std::map<std::string, json>> QueryServer(const CheckOptions& options,
                                                      const std::vector<std::string>& purls) {
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
  std::vector<std::string> waiting = purls;
  Progress progress;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(options.wait_seconds);
  while (!waiting.empty()) {
    auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    // Each round asks the server to wait at most 10 s, so that progress shows and a server
    // with a smaller max_wait does not refuse the query.
    double round_wait = std::clamp(left.count() / 1000.0, 0.0, 10.0);
    std::vector<std::string> still;
    for (std::size_t start = 0; start < waiting.size(); start += kBatch) {
      std::vector<std::string> batch(waiting.begin() + start,
                                     waiting.begin() + std::min(waiting.size(), start + kBatch));
      net::HttpRequest request;
      request.method = "POST";
      request.url = endpoint;
      request.headers = {{"Content-Type", "application/json"}};
      if (!options.token.empty()) request.headers.emplace_back("Authorization", "Bearer " + options.token);
      request.body = json{{"packages", batch}, {"wait", round_wait}}.dump();
      request.timeout = std::chrono::milliseconds(static_cast<long>(round_wait * 1000) + 30'000);
      request.max_attempts = 2;
      request.max_body_bytes = 512u << 20;
      std::promise<core::Result<net::HttpResponse>> answered;
      client.Fetch(std::move(request),
                   [&answered](core::Result<net::HttpResponse> r) { answered.set_value(std::move(r)); });
      core::Result<net::HttpResponse> response = answered.get_future().get();
      if (!response.ok())
        return core::Status::Unavailable(
            fmt::format("cannot reach the pkgtrust server: {}", response.status().message()));
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
    }
    waiting = std::move(still);
    progress.Show(purls.size() - waiting.size(), purls.size());
    if (std::chrono::steady_clock::now() >= deadline) break;
  }
  return reports;
}

// The reports from this process's pipeline and database, as `pkgtrust score` gets them.
core::Result<std::map<std::string, json>> LookUpInProcess(const CheckOptions& options,
                                                          const std::vector<std::string>& purls) {
  Config config = options.config_path.empty() ? DefaultConfig() : LoadConfigFile(options.config_path);
  if (options.config_path.empty() || !options.db_path.empty())
    config.database.path = options.db_path.empty() ? "pkgtrust-dev.db" : options.db_path;
  config.log_level = core::LogLevel::kWarn;
  core::SetLogLevel(config.log_level);
  Service service(std::move(config));
  service.Start(/*serve_http=*/false);
  std::vector<pipeline::LookupRequest> requests;
  for (const std::string& text : purls) {
    auto purl = core::ParsePurl(text);
    auto key = purl.ok() ? core::PackageKeyFromPurl(*purl) : core::Result<core::PackageKey>(purl.status());
    if (key.ok()) requests.push_back({*key, purl->version});
  }
  std::promise<core::Result<std::vector<pipeline::LookupAnswer>>> answered;
  service.lookup().LookupMany(requests, std::chrono::seconds(options.wait_seconds), "cli-check",
                              [&answered](auto answers) { answered.set_value(std::move(answers)); });
  auto answers = answered.get_future().get();
  if (!answers.ok()) return answers.status();
  std::map<std::string, json> reports;
  using Kind = pipeline::LookupAnswer::Kind;
  for (std::size_t i = 0; i < answers->size() && i < requests.size(); ++i) {
    const pipeline::LookupAnswer& answer = (*answers)[i];
    std::string purl = core::FormatPurl(core::PurlFromPackageKey(requests[i].key, requests[i].version));
    json entry;
    if (answer.kind == Kind::kReport && answer.report)
      entry = json::parse(*answer.report, nullptr, false);
    else if (answer.kind == Kind::kNotFound)
      entry = {{"status", "not_found"}};
    else if (answer.kind == Kind::kPending)
      entry = {
          {"status", answer.record ? std::string(core::PackageStateName(answer.record->state)) : "pending"}};
    else
      entry = {{"status", "error: " + answer.error.message()}};
    reports[purl] = std::move(entry);
  }
  return reports;
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
    } else if (arg == "--fail-on") {
      std::vector<check::Concern> concerns;
      std::stringstream list(value);
      for (std::string name; std::getline(list, name, ',');) {
        if (name.empty() || name == "none") continue;
        auto concern = check::ConcernFromName(name);
        if (!concern)
          return core::Status::InvalidArgument(
              fmt::format("--fail-on: '{}' is not one of malicious, typosquat, yanked, deprecated, too_new, "
                          "low_score, pending, "
                          "missing",
                          name));
        concerns.push_back(*concern);
      }
      options->fail_on = concerns;
    } else if (arg == "--min-score") {
      char* end = nullptr;
      double score = std::strtod(value.c_str(), &end);
      if (value.empty() || *end != '\0' || !(score >= 0 && score <= 10))
        return core::Status::InvalidArgument("--min-score takes a number from 0 to 10");
      options->min_score = score;
    } else if (arg == "--too-new-hours") {
      auto hours = WholeNumber("--too-new-hours", value, 0, 8760);
      if (!hours.ok()) return hours.status();
      options->too_new_hours = *hours;
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

  std::vector<std::string> purls = check::PurlsToLookUp(dependencies);
  core::Result<std::map<std::string, json>> reports = std::map<std::string, json>{};
  if (!purls.empty())
    reports = options.in_process ? LookUpInProcess(options, purls) : QueryServer(options, purls);
  if (!reports.ok()) {
    std::fprintf(stderr, "pkgtrust check: %s\n", reports.status().message().c_str());
    return reports.status().code() == core::StatusCode::kPermissionDenied ? check::kExitInputError
                                                                          : check::kExitUnreachable;
  }
  result.verdicts =
      check::JudgeAll(dependencies, *reports, result.policy, core::SystemClock::Instance().NowMillis());

  if (!options.sarif_path.empty()) {
    std::ofstream sarif(options.sarif_path, std::ios::binary | std::ios::trunc);
    sarif << check::RenderSarif(result, PKGTRUST_VERSION, ".").dump(2) << "\n";
    if (!sarif.good()) {
      std::fprintf(stderr, "pkgtrust check: cannot write %s\n", options.sarif_path.c_str());
      return check::kExitInputError;
    }
  }
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
