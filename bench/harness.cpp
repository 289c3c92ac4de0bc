// pkgtrust_harness: the load harness of bench/README.md. It starts `pkgtrust serve` as a
// child process on loopback against a simulated upstream (the replay server generating
// real recorded documents renamed per package, with log-normal latency, 5xx errors,
// timeouts and a GitHub-style rate limit), drives package-feeds events through the
// webhook and on-demand and known-package queries through the API at the same time, and
// prints throughput, latency, CPU, memory and database figures (and JSON with --json).
#include <fcntl.h>
#include <fmt/format.h>
#include <openssl/evp.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "pkgtrust/core/percent_encoding.hpp"
#include "pkgtrust/net/http_client.hpp"
#include "support/fauxqs_emulator.hpp"
#include "support/loopback_socket.hpp"
#include "support/postgres_admin.hpp"
#include "support/replay_server.hpp"

namespace fs = std::filesystem;
using namespace pkgtrust;
using json = nlohmann::json;
using Steady = std::chrono::steady_clock;

namespace {

struct Options {
  int packages = 20'000;
  double feed_per_minute = 0;  // 0: as fast as the webhook takes them
  double ondemand_per_second = 2;
  double known_per_second = 50;
  int latency_median_ms = 80;
  int latency_p99_ms = 400;
  double error_rate = 0.02;
  double timeout_rate = 0.01;
  int github_limit_per_hour = 0;  // 0: no limit
  int max_minutes = 30;
  int preload = 0;    // complete packages in the database before the measured run
  bool keep = false;  // keep the database, config and log (the folder is printed)
  bool chaos = false;           // the soak: SIGKILL and restart the service while feeding
  bool backfill = false;        // no feed: the service's index.popular backfill of the shipped npm list
  int chaos_kill_seconds = 20;  // mean time between kills (uniform from half to one and a half)
  int github_window_seconds = 3600;
  std::string binary;
  bool json = false;
  // GitHub: each package's repository drawn from a pool of this many (Zipf: a few
  // monorepos hold many packages); 0: one repository per package.
  int repo_pool = 0;
  bool github_token = true;  // the service gets a GITHUB_TOKEN (GraphQL batches); false: REST only
  int graphql_batch = -1;    // github.graphql_batch for the service; -1: its default
  // Scale-out: the store on PostgreSQL (a libpq connection string of a server; the harness
  // makes a database on it and drops it after), `processes` serve processes sharing the
  // work through SNS/SQS (the fauxqs emulator, started here), and each stage's work in
  // flight per process.
  std::string postgres;
  int processes = 1;
  bool sqs = false;
  int concurrency = 1024;
  int read_connections = 4;  // database.read_connections of each process
};

// GitHub's hourly budget of a token (REST requests or GraphQL points).
constexpr double kGitHubPointsPerHour = 5000;

double Seconds(Steady::time_point since) {
  return std::chrono::duration<double>(Steady::now() - since).count();
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::string Fill(std::string text, const std::vector<std::pair<std::string, std::string>>& values) {
  for (const auto& [placeholder, value] : values)
    for (std::size_t at = text.find(placeholder); at != std::string::npos;
         at = text.find(placeholder, at + value.size()))
      text.replace(at, placeholder.size(), value);
  return text;
}

// A name without the characters a repository name cannot hold.
std::string Flatten(std::string name) {
  for (char& c : name)
    if (c == '@' || c == '/' || c == ':') c = '-';
  return name;
}

// Ranks 0..n-1 drawn with probability proportional to 1/(rank+1) (Zipf, s = 1), chosen
// by a hash so that a package always gets the same one.
class ZipfPool {
 public:
  explicit ZipfPool(int n) {
    double sum = 0;
    for (int k = 1; k <= n; ++k) cdf_.push_back(sum += 1.0 / k);
    for (double& c : cdf_) c /= sum;
  }
  int RankOf(const std::string& key) const {
    double u = static_cast<double>(std::hash<std::string>{}(key) % 1'000'000'007) / 1'000'000'007.0;
    return static_cast<int>(std::lower_bound(cdf_.begin(), cdf_.end(), u) - cdf_.begin());
  }

 private:
  std::vector<double> cdf_;
};

double Percentile(std::vector<double> values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  return values[std::min(values.size() - 1,
                         static_cast<std::size_t>(p * static_cast<double>(values.size())))];
}

// The simulated upstream: documents made per package from recorded ones, with a latency
// that is a pure function of the request target (so the harness knows what each package's
// own requests cost).
class Upstream {
 public:
  explicit Upstream(const Options& options)
      : options_(options), pool_(std::max(options.repo_pool, 1)), server_(2) {
    std::string fixtures = std::string(PKGTRUST_SOURCE_DIR) + "/tests/fixtures/";
    json npm = json::parse(ReadFile(fixtures + "registry/npm/left-pad.json"));
    npm["name"] = "@@NAME@@";
    npm["repository"] = {{"type", "git"}, {"url", "git+https://github.com/bench-org/@@REPO@@.git"}};
    if (options.repo_pool > 0) npm["repository"]["directory"] = "packages/@@DIR@@";  // a monorepo's layout
    npm_ = npm.dump();
    json pypi = json::parse(ReadFile(fixtures + "registry/pypi/flask.json"));
    pypi["info"]["name"] = "@@NAME@@";
    pypi["info"]["project_urls"]["Source"] = "https://github.com/bench-org/@@REPO@@";
    pypi_ = pypi.dump();
    json repo = json::parse(ReadFile(fixtures + "github/repo-chalk.json"));
    repo["full_name"] = "bench-org/@@REPO@@";
    repo["name"] = "@@REPO@@";
    repo["archived"] = false;
    repo_ = repo.dump();
    contributors_ = ReadFile(fixtures + "github/contributors-pygithub.json");
    tags_ = ReadFile(fixtures + "github/tags-pygithub.json");
    releases_ = ReadFile(fixtures + "github/releases-repotest.json");
    commit_activity_ = ReadFile(fixtures + "github/commit-activity.json");
    json tags = json::parse(tags_);
    json nodes = json::array();
    for (const json& tag : tags)
      nodes.push_back(
          {{"name", tag.value("name", "")}, {"target", {{"committedDate", "2026-06-01T00:00:00Z"}}}});
    tags_graphql_ = json{{"data", {{"repository", {{"refs", {{"nodes", nodes}}}}}}}}.dump();
    // The same repository as GraphQL describes it (graphql_batch.hpp), for the batches.
    json releases = json::array();
    for (const json& rel : json::parse(releases_))
      releases.push_back({{"tagName", rel.value("tag_name", "")},
                          {"name", rel.value("name", "")},
                          {"publishedAt", rel.value("published_at", "")},
                          {"isPrerelease", false},
                          {"isDraft", false}});
    repo_graphql_ =
        json{{"nameWithOwner", "bench-org/@@REPO@@"},
             {"stargazerCount", repo.value("stargazers_count", 0)},
             {"forkCount", repo.value("forks_count", 0)},
             {"openIssues", {{"totalCount", repo.value("open_issues_count", 0)}}},
             {"openPullRequests", {{"totalCount", 0}}},
             {"watchers", {{"totalCount", repo.value("subscribers_count", 0)}}},
             {"isArchived", false},
             {"isDisabled", false},
             {"isFork", false},
             {"parent", nullptr},
             {"createdAt", repo.value("created_at", "")},
             {"pushedAt", repo.value("pushed_at", "")},
             {"updatedAt", repo.value("updated_at", "")},
             {"defaultBranchRef", {{"name", "main"}, {"target", {{"history", {{"totalCount", 120}}}}}}},
             {"licenseInfo", {{"spdxId", "MIT"}}},
             {"releases", {{"nodes", releases}}},
             {"refs", {{"nodes", nodes}}}}
            .dump();
    server_.SetBodyGenerator([this](const std::string& method, const std::string& target,
                                    const std::string& body) { return Make(target, body); });
    testing::ReplayFaults faults;
    faults.error_rate = options.error_rate;
    faults.timeout_rate = options.timeout_rate;
    faults.rate_limit = options.github_limit_per_hour;
    faults.rate_window = std::chrono::seconds(options.github_window_seconds);
    faults.rate_limit_prefix = "/repos/";
    server_.SetFaults(faults);
  }

  std::string BaseUrl() const { return server_.BaseUrl(); }
  int Requests() const { return server_.TotalRequests(); }
  // GitHub's charge for what it was asked: a REST request is 1 point; the tags query
  // (one connection of 100) is 1 point by GitHub's GraphQL formula.
  std::int64_t GitHubPoints() const { return github_points_.load(); }

  // The repository a generated package declares: github.com/bench-org/<this>.
  std::string RepoName(const std::string& name) const {
    return options_.repo_pool > 0 ? fmt::format("pool-{}", pool_.RankOf(name)) : Flatten(name);
  }

  // Latency of one request target: log-normal with the configured median and p99.
  std::chrono::milliseconds Delay(const std::string& target) const {
    if (options_.latency_median_ms <= 0) return std::chrono::milliseconds(0);
    std::uint64_t h = std::hash<std::string>{}(target);
    double u1 = (static_cast<double>(h & 0xffffffff) + 1) / 4294967297.0;
    double u2 = (static_cast<double>(h >> 32) + 1) / 4294967297.0;
    double normal = std::sqrt(-2 * std::log(u1)) * std::cos(2 * M_PI * u2);
    double median = options_.latency_median_ms;
    double sigma = std::log(std::max(median, static_cast<double>(options_.latency_p99_ms)) / median) / 2.326;
    return std::chrono::milliseconds(static_cast<std::int64_t>(median * std::exp(sigma * normal)));
  }

  // What an npm package's own requests cost end to end: the registry stage's two
  // parallel requests, then the repository, then its four sections in parallel.
  double NpmUpstreamSeconds(const std::string& name) const {
    std::string repo = "/repos/bench-org/" + RepoName(name);
    auto ms = [&](const std::string& t) { return static_cast<double>(Delay(t).count()); };
    double registry = std::max(ms("/" + core::PercentEncode(name, "@")),
                               ms("/npm-downloads/downloads/point/last-month/" + name));
    double sections =
        std::max({ms(repo + "/contributors?per_page=1&anon=true"), ms(repo + "/tags?per_page=100"),
                  ms(repo + "/releases?per_page=100"), ms(repo + "/stats/commit_activity")});
    double manifest =
        ms(repo + (options_.repo_pool > 0 ? "/contents/packages/" + Flatten(name) + "/package.json"
                                          : "/contents/package.json"));
    sections = std::max(sections, manifest);
    return (registry + ms(repo) + sections) / 1000;
  }

 private:
  std::optional<testing::ReplayResponse> Make(const std::string& target, const std::string& body) const {
    testing::ReplayResponse r;
    r.delay = Delay(target);
    r.headers = {{"content-type", "application/json"}};
    std::string path = target.substr(0, target.find('?'));
    auto answer = [&](std::string body, const std::string& name) {
      r.body = std::move(body);
      r.no_faults = name.starts_with("ondemand-");  // the on-demand figure is about our overhead
      return std::optional<testing::ReplayResponse>(std::move(r));
    };
    constexpr std::string_view kDownloads = "/npm-downloads/downloads/point/last-month/";
    constexpr std::string_view kRepos = "/repos/bench-org/";
    if (path.starts_with(kRepos)) github_points_++;
    if (path == "/graphql") {
      // One answer for many packages, the on-demand ones among them: like their REST
      // requests, it gets latency but no injected faults (the on-demand figure is about the
      // service's overhead; the REST path's faults are measured on the feed).
      r.body = GraphQL(body);
      r.no_faults = true;
      return std::optional<testing::ReplayResponse>(std::move(r));
    }
    if (path.starts_with(kDownloads)) {
      std::string name = path.substr(kDownloads.size());
      return answer(
          fmt::format(R"({{"downloads":{},"package":"{}"}})", std::hash<std::string>{}(name) % 500'000, name),
          name);
    }
    if (path.starts_with("/pypi/") && path.ends_with("/json")) {
      std::string name = path.substr(6, path.size() - 11);
      Remember(RepoName(name), "", name);
      return answer(Fill(pypi_, {{"@@NAME@@", name}, {"@@REPO@@", RepoName(name)}}), name);
    }
    if (path.starts_with(kRepos)) {
      std::string rest = path.substr(kRepos.size());
      std::size_t slash = rest.find('/');
      std::string repo = rest.substr(0, slash);
      std::string section = slash == std::string::npos ? "" : rest.substr(slash);
      std::string exempt = OnDemandRepository(repo) ? "ondemand-" + repo : repo;  // see answer()
      if (section.empty()) return answer(Fill(repo_, {{"@@REPO@@", repo}}), exempt);
      if (section == "/contributors") return answer(contributors_, exempt);
      if (section == "/tags") return answer(tags_, exempt);
      if (section == "/releases") return answer(releases_, exempt);
      if (section == "/stats/commit_activity") return answer(commit_activity_, exempt);
      // The package's manifest, declaring the package whose packument named this repository
      // (in a pool, the one in that folder of the monorepo).
      constexpr std::string_view kPackages = "/contents/packages/";
      if (section.starts_with(kPackages) && section.ends_with("/package.json")) {
        std::string folder = section.substr(kPackages.size(), section.size() - kPackages.size() - 13);
        std::string owner = PackageOf(repo, folder);
        if (owner.empty()) return std::nullopt;
        return answer(ContentsAnswer(section.substr(10), json{{"name", owner}, {"version", "1.3.0"}}.dump()),
                      owner);
      }
      std::string name = PackageOf(repo, "");
      if (section == "/contents/package.json" && !name.empty())
        return answer(ContentsAnswer(section.substr(10), json{{"name", name}, {"version", "1.3.0"}}.dump()),
                      exempt);
      if (section == "/contents/pyproject.toml" && !name.empty())
        return answer(ContentsAnswer(section.substr(10), "[project]\nname = \"" + name + "\"\n"), exempt);
      return std::nullopt;
    }
    if (path.size() > 1 && path.find('/', 1) == std::string::npos) {
      auto name = core::PercentDecode(path.substr(1));
      if (!name.ok()) return std::nullopt;
      Remember(RepoName(*name), options_.repo_pool > 0 ? Flatten(*name) : "", *name);
      return answer(
          Fill(npm_, {{"@@NAME@@", *name}, {"@@REPO@@", RepoName(*name)}, {"@@DIR@@", Flatten(*name)}}),
          *name);
    }
    return std::nullopt;
  }

  // A GraphQL answer: the tags query of the REST path (1 point), or a batch of aliased
  // repositories (graphql_batch.hpp) charged by GitHub's formula: one request per
  // connection per repository (issues, pull requests, watchers, history, releases, refs:
  // six for one whose facts are asked, none for files alone), divided by 100, rounded,
  // at least 1. Files come from the manifests the packages were given.
  std::string GraphQL(const std::string& body) const {
    json request = json::parse(body, nullptr, false);
    const json& variables = request.is_object() ? request["variables"] : json();
    if (!variables.is_object() || !variables.contains("o0")) {
      github_points_++;
      return tags_graphql_;
    }
    std::string query = request.value("query", "");
    json data = json::object();
    int connections = 0;
    for (int i = 0; variables.contains(fmt::format("o{}", i)); ++i) {
      std::string repo = variables.value(fmt::format("n{}", i), "");
      bool facts =
          query.find(fmt::format("r{0}:repository(owner:$o{0},name:$n{0}){{...R", i)) != std::string::npos;
      json r = facts ? json::parse(Fill(repo_graphql_, {{"@@REPO@@", repo}}))
                     : json{{"nameWithOwner", "bench-org/" + repo}};
      if (facts) connections += 6;
      for (int k = 0; variables.contains(fmt::format("e{}_{}", i, k)); ++k) {
        std::string path = variables.value(fmt::format("e{}_{}", i, k), "").substr(5);  // after "HEAD:"
        std::string text = FileText(repo, path);
        r[fmt::format("f{}", k)] =
            text.empty() ? json(nullptr) : json{{"text", text}, {"isBinary", false}, {"isTruncated", false}};
      }
      data[fmt::format("r{}", i)] = std::move(r);
    }
    std::int64_t cost = std::max<std::int64_t>(1, (connections + 50) / 100);
    github_points_ += cost;
    data["rateLimit"] = {{"cost", cost}, {"remaining", 4000}, {"resetAt", "2099-01-01T00:00:00Z"}};
    return json{{"data", data}}.dump();
  }
  // The text of a manifest in a generated repository, or "" when there is none.
  std::string FileText(const std::string& repo, const std::string& path) const {
    constexpr std::string_view kPackages = "packages/";
    if (path.starts_with(kPackages) && path.ends_with("/package.json")) {
      std::string owner = PackageOf(repo, path.substr(kPackages.size(), path.size() - kPackages.size() - 13));
      return owner.empty() ? "" : json{{"name", owner}, {"version", "1.3.0"}}.dump();
    }
    std::string name = PackageOf(repo, "");
    if (name.empty()) return "";
    if (path == "package.json") return json{{"name", name}, {"version", "1.3.0"}}.dump();
    if (path == "pyproject.toml") return "[project]\nname = \"" + name + "\"\n";
    return "";
  }

  // A contents API answer for one file (the shape GitHub sends: base64 content).
  static std::string ContentsAnswer(const std::string& path, const std::string& text) {
    std::string encoded(4 * ((text.size() + 2) / 3) + 1, '\0');
    int n =
        EVP_EncodeBlock(reinterpret_cast<unsigned char*>(encoded.data()),
                        reinterpret_cast<const unsigned char*>(text.data()), static_cast<int>(text.size()));
    encoded.resize(static_cast<std::size_t>(n));
    return json{
        {"type", "file"}, {"encoding", "base64"}, {"path", path}, {"size", text.size()}, {"content", encoded}}
        .dump();
  }
  // Which package's manifest a repository holds at the root ("") or in packages/<folder>.
  void Remember(const std::string& repo, const std::string& folder, const std::string& name) const {
    std::lock_guard lock(names_mu_);
    package_of_repo_.emplace(repo + "|" + folder, name);
    package_of_repo_.emplace(repo + "|", name);  // the root declares the first package seen
    if (name.starts_with("ondemand-")) ondemand_repos_.insert(repo);
  }
  // A repository an on-demand package declares: its requests are the on-demand package's
  // own (in a pool, feed packages share them), so they get no injected faults.
  bool OnDemandRepository(const std::string& repo) const {
    std::lock_guard lock(names_mu_);
    return ondemand_repos_.contains(repo);
  }
  std::string PackageOf(const std::string& repo, const std::string& folder) const {
    std::lock_guard lock(names_mu_);
    auto it = package_of_repo_.find(repo + "|" + folder);
    return it == package_of_repo_.end() ? std::string() : it->second;
  }

  const Options& options_;
  ZipfPool pool_;
  mutable std::atomic<std::int64_t> github_points_{0};
  mutable std::mutex names_mu_;
  mutable std::unordered_map<std::string, std::string> package_of_repo_;  // repository -> package name
  mutable std::unordered_set<std::string> ondemand_repos_;
  testing::ReplayServer server_;
  std::string npm_, pypi_, repo_, contributors_, tags_, releases_, commit_activity_, tags_graphql_,
      repo_graphql_;
};

// Blocking and asynchronous calls to the service under test.
class Client {
 public:
  explicit Client(std::string base) : base_(std::move(base)), http_(Config()) {}
  void Async(const std::string& method, const std::string& path, std::string body,
             std::function<void(int status, std::string body)> done) {
    net::HttpRequest request;
    request.method = method;
    request.url = base_ + path;
    request.body = std::move(body);
    request.max_attempts = 1;
    request.timeout = std::chrono::seconds(60);
    request.urgent = true;
    http_.Fetch(std::move(request), [done = std::move(done)](core::Result<net::HttpResponse> r) {
      if (r.ok())
        done(r->status, std::move(r->body));
      else
        done(0, r.status().message());
    });
  }
  std::pair<int, std::string> Call(const std::string& method, const std::string& path,
                                   std::string body = {}) {
    std::promise<std::pair<int, std::string>> promise;
    Async(method, path, std::move(body), [&](int s, std::string b) { promise.set_value({s, std::move(b)}); });
    return promise.get_future().get();
  }

 private:
  static net::HttpClientConfig Config() {
    net::HttpClientConfig config;
    config.max_connections_per_host = 512;
    return config;
  }
  std::string base_;
  net::BeastHttpClient http_;
};

// `binary serve --config config_path`, its stderr appended to log_path; returns once
// /readyz answers 200, or -1 (the child killed, its log printed) after 60 s.
pid_t StartServe(const std::string& binary, const std::string& config_path, const std::string& log_path,
                 Client& client) {
  int log_fd = open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  pid_t child = fork();
  if (child == 0) {
    dup2(log_fd, STDERR_FILENO);
    execl(binary.c_str(), binary.c_str(), "serve", "--config", config_path.c_str(),
          static_cast<char*>(nullptr));
    _exit(127);
  }
  close(log_fd);
  for (auto started = Steady::now(); client.Call("GET", "/readyz").first != 200;) {
    if (Seconds(started) > 60) {
      fmt::print(stderr, "harness: pkgtrust serve did not become ready:\n{}", ReadFile(log_path));
      kill(child, SIGKILL);
      return -1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return child;
}

// The sum of the samples whose line starts with `selector` in Prometheus text.
double Metric(const std::string& text, const std::string& selector) {
  double sum = 0;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);)
    if (line.starts_with(selector)) sum += std::strtod(line.substr(line.rfind(' ') + 1).c_str(), nullptr);
  return sum;
}

struct ProcessStats {
  double cpu_seconds = 0;
  double peak_rss_mb = 0;
};

ProcessStats ReadProcess(pid_t pid) {
  ProcessStats out;
  std::istringstream stat(ReadFile(fmt::format("/proc/{}/stat", pid)));
  std::string field;
  std::vector<std::string> fields;
  while (stat >> field) fields.push_back(field);
  long ticks = sysconf(_SC_CLK_TCK);
  if (fields.size() > 15)
    out.cpu_seconds = (std::stod(fields[13]) + std::stod(fields[14])) / static_cast<double>(ticks);
  std::istringstream status(ReadFile(fmt::format("/proc/{}/status", pid)));
  for (std::string line; std::getline(status, line);)
    if (line.starts_with("VmHWM:")) out.peak_rss_mb = std::stod(line.substr(6)) / 1024;
  return out;
}

std::string FeedEvent(const std::pair<std::string, std::string>& n) {
  return json{{"name", n.second}, {"version", "1.0.0"}, {"created_date", "2026-11-23T00:00:00Z"},
              {"type", n.first},  {"artifact_id", ""},  {"schema_ver", "1.1"}}
      .dump();
}

// Copies the complete packages of the database (with their facts) under new names until
// it holds `total`; returns the "ecosystem/name" of every complete package. Run with the
// service stopped.
std::optional<std::vector<std::string>> ClonePackages(const std::string& path, int total) {
  sqlite3* db = nullptr;
  auto fail = [&](const char* what) {
    fmt::print(stderr, "harness: preload: {}: {}\n", what, db ? sqlite3_errmsg(db) : "cannot open");
    sqlite3_close(db);
    return std::nullopt;
  };
  if (sqlite3_open(path.c_str(), &db) != SQLITE_OK) return fail("open");
  struct Template {
    std::string ecosystem, name;
    std::vector<std::pair<std::string, std::string>> facts;
  };
  std::vector<Template> templates;
  sqlite3_stmt* read = nullptr;
  if (sqlite3_prepare_v2(db,
                         "SELECT p.ecosystem, p.name, f.kind, f.data FROM packages p JOIN package_facts f ON "
                         "f.package_id = p.id WHERE p.state = 'complete' ORDER BY p.id",
                         -1, &read, nullptr) != SQLITE_OK)
    return fail("read");
  while (sqlite3_step(read) == SQLITE_ROW) {
    std::string eco = reinterpret_cast<const char*>(sqlite3_column_text(read, 0));
    std::string name = reinterpret_cast<const char*>(sqlite3_column_text(read, 1));
    if (templates.empty() || templates.back().name != name || templates.back().ecosystem != eco)
      templates.push_back({eco, name, {}});
    templates.back().facts.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(read, 2)),
                                        reinterpret_cast<const char*>(sqlite3_column_text(read, 3)));
  }
  sqlite3_finalize(read);
  if (templates.empty()) return fail("no complete package to copy");
  std::vector<std::string> names;
  for (const auto& t : templates) names.push_back(t.ecosystem + "/" + t.name);
  sqlite3_stmt* package = nullptr;
  sqlite3_stmt* fact = nullptr;
  if (sqlite3_prepare_v2(db,
                         "INSERT INTO packages (ecosystem, name, state, generation, priority, attempts, "
                         "state_since, created_at, score, flags) VALUES (?1, ?2, 'complete', 1, 2, 0, ?3, ?4, "
                         "json_extract(?5, '$.score'), json_extract(?5, '$.flags')) RETURNING id",
                         -1, &package, nullptr) != SQLITE_OK ||
      sqlite3_prepare_v2(db,
                         "INSERT INTO package_facts (package_id, kind, generation, data, updated_at) VALUES "
                         "(?, ?, 1, ?, ?)",
                         -1, &fact, nullptr) != SQLITE_OK)
    return fail("prepare");
  std::int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
  sqlite3_exec(db, "BEGIN", nullptr, nullptr, nullptr);
  for (int copy = 1; static_cast<int>(names.size()) < total; ++copy) {
    for (const auto& t : templates) {
      if (static_cast<int>(names.size()) >= total) break;
      std::string name = fmt::format("{}-p{}", t.name, copy);
      sqlite3_bind_text(package, 1, t.ecosystem.c_str(), -1, SQLITE_TRANSIENT);
      sqlite3_bind_text(package, 2, name.c_str(), -1, SQLITE_TRANSIENT);
      sqlite3_bind_int64(package, 3, now);
      sqlite3_bind_int64(package, 4, now);
      sqlite3_bind_null(package, 5);
      for (const auto& [kind, data] : t.facts)  // the compacted state's score and flags (schema 4)
        if (kind == "score") sqlite3_bind_text(package, 5, data.c_str(), static_cast<int>(data.size()), SQLITE_STATIC);
      if (sqlite3_step(package) != SQLITE_ROW) return fail("insert package");
      std::int64_t id = sqlite3_column_int64(package, 0);
      sqlite3_reset(package);
      for (const auto& [kind, data] : t.facts) {
        sqlite3_bind_int64(fact, 1, id);
        sqlite3_bind_text(fact, 2, kind.c_str(), -1, SQLITE_STATIC);
        sqlite3_bind_text(fact, 3, data.c_str(), static_cast<int>(data.size()), SQLITE_STATIC);
        sqlite3_bind_int64(fact, 4, now);
        if (sqlite3_step(fact) != SQLITE_DONE) return fail("insert fact");
        sqlite3_reset(fact);
      }
      names.push_back(t.ecosystem + "/" + name);
      if (names.size() % 50'000 == 0) {
        sqlite3_exec(db, "COMMIT; BEGIN", nullptr, nullptr, nullptr);
        fmt::print(stderr, "\rharness: preloading {:>8} / {}", names.size(), total);
      }
    }
  }
  sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr);
  sqlite3_finalize(package);
  sqlite3_finalize(fact);
  sqlite3_exec(db, "PRAGMA wal_checkpoint(TRUNCATE)", nullptr, nullptr, nullptr);
  sqlite3_close(db);
  fmt::print(stderr, "\n");
  return names;
}

std::vector<std::pair<std::string, std::string>> FeedNames(int count) {
  // Real names (npm and PyPI, 9:1), repeated with a suffix when more are wanted.
  std::vector<std::string> npm, pypi;
  std::istringstream npm_in(ReadFile(std::string(PKGTRUST_SOURCE_DIR) + "/bench/data/names/npm-sample-20000.txt"));
  for (std::string line; std::getline(npm_in, line);)
    if (!line.empty()) npm.push_back(line);
  std::istringstream pypi_in(
      ReadFile(std::string(PKGTRUST_SOURCE_DIR) + "/bench/data/names/pypi-sample-20000.txt"));
  for (std::string line; std::getline(pypi_in, line);)
    if (!line.empty()) pypi.push_back(line);
  if (npm.empty() || pypi.empty()) {
    for (int i = 0; i < 20'000; ++i) npm.push_back(fmt::format("feed-package-{}", i));
    pypi = npm;
  }
  std::vector<std::pair<std::string, std::string>> names;
  for (int i = 0; i < count; ++i) {
    bool is_pypi = i % 10 == 9;
    const auto& list = is_pypi ? pypi : npm;
    std::size_t index = static_cast<std::size_t>(i) % list.size();
    int round = i / static_cast<int>(list.size());
    std::string name = list[index];
    if (round > 0) name += fmt::format("-r{}", round);
    names.emplace_back(is_pypi ? "pypi" : "npm", name);
  }
  return names;
}

// The service reads its GitHub token from the environment it inherits.
void SetServiceToken(const Options& options) {
  if (options.github_token)
    setenv("GITHUB_TOKEN", "harness-token", 1);
  else
    unsetenv("GITHUB_TOKEN");
}

// The service's config for a run: every upstream is the simulated one. `sqs` holds the
// transport section when the processes share SNS/SQS.
std::string ServeConfig(const Options& options, const std::string& upstream_url, int port, const fs::path& db,
                        const std::string& sqs = "") {
  std::string yaml = fmt::format(
      R"(server:
  listen: "127.0.0.1:{port}"
database:
  path: {db}
  read_connections: {readers}
{postgres}workers:
  threads: 2
  http_connections_per_host: 4096
stages:
  registry: {{concurrency: {concurrency}}}
  repository: {{concurrency: {concurrency}}}
  scoring: {{concurrency: 8}}
reconciler:
  interval_seconds: 30
  stuck_after_seconds: 120
scoring:
  popular:
    npm: shipped
    pypi: shipped
log:
  level: warn
upstreams:
)",
      fmt::arg("port", port), fmt::arg("db", db.string()), fmt::arg("concurrency", options.concurrency),
      fmt::arg("readers", options.read_connections),
      fmt::arg("postgres", options.postgres.empty() ? ""
                                                    : "  kind: postgres\n  postgres_url_env: "
                                                      "PKGTRUST_DATABASE_URL\n"));
  for (const char* name : {"npm", "pypi", "crates", "maven", "go", "github"})
    yaml += fmt::format("  {}: \"{}\"\n", name, upstream_url);
  yaml += fmt::format("  npm_downloads: \"{}/npm-downloads\"\n", upstream_url);
  yaml += sqs;
  yaml += fmt::format("gateway:\n  cache_folder: {}-cache-{}\n", db.string(), port);
  if (options.graphql_batch >= 0)
    yaml += fmt::format("github:\n  graphql_batch: {}\n", options.graphql_batch);
  if (options.backfill)
    yaml += fmt::format(
        "index:\n  popular: true\n  lists:\n    npm: shipped\n    pypi: off\n  top: {}\n  interval_ms: 200\n",
        options.packages);
  return yaml;
}

// Preload: a seed ingested for real, then cloned in the database up to the wanted size
// (the service stopped meanwhile), so that queries and RSS are measured against it.
// Returns the "ecosystem/name" paths of the packages in the database.
std::optional<std::vector<std::string>> Preload(const Options& options, const fs::path& db, Client& client,
                                                const std::function<pid_t()>& serve) {
  pid_t seeder = serve();
  if (seeder < 0) return std::nullopt;
  auto seed = FeedNames(std::min(options.preload, 1000));
  for (auto& [type, name] : seed) name = "seed-" + name;
  for (std::size_t i = 0; i < seed.size(); i += 200) {
    std::string body = "[";
    for (std::size_t j = i; j < std::min(seed.size(), i + 200); ++j)
      body += (j > i ? "," : "") + FeedEvent(seed[j]);
    client.Call("POST", "/v1/feeds/package-feeds", body + "]");
  }
  for (auto waited = Steady::now(); Seconds(waited) < 300;) {
    auto [status, text] = client.Call("GET", "/metrics");
    double finished = Metric(text, "pkgtrust_packages{state=\"complete\"}") +
                      Metric(text, "pkgtrust_packages{state=\"not_found\"}") +
                      Metric(text, "pkgtrust_packages{state=\"failed\"}");
    if (finished >= static_cast<double>(seed.size())) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  kill(seeder, SIGTERM);
  waitpid(seeder, nullptr, 0);
  auto cloned = ClonePackages(db.string(), options.preload);
  if (cloned && !options.json)
    fmt::print(stderr, "harness: database preloaded with {} complete packages\n", cloned->size());
  return cloned;
}

// What the load threads of a run share, and what they measure.
struct Load {
  Steady::time_point start = Steady::now();
  std::atomic<bool> stop{false};
  std::atomic<int> fed{0};
  std::atomic<int> finished{0};  // feed packages in a terminal state (from /metrics)
  std::atomic<int> ondemand_sent{0}, ondemand_non200{0}, known_non200{0}, feed_errors{0};
  std::atomic<int> known_sent{0}, known_answered{0};
  std::mutex mu;  // guards the latencies
  std::vector<double> ondemand_latency, ondemand_overhead, known_latency;
  std::vector<std::pair<double, double>> progress;  // (seconds, feed packages in a terminal state)

  int OnDemandAnswered() {
    std::lock_guard lock(mu);
    return static_cast<int>(ondemand_latency.size()) + ondemand_non200;
  }
};

// Feed: package-feeds events through the webhook, at the chosen rate or as fast as taken.
std::thread StartFeed(const Options& options, Client& client,
                      const std::vector<std::pair<std::string, std::string>>& names, Load& load) {
  return std::thread([&options, &client, &names, &load] {
    std::size_t next = 0;
    while (next < names.size() && !load.stop) {
      std::size_t due = names.size();
      if (options.feed_per_minute > 0)
        due = std::min(names.size(),
                       static_cast<std::size_t>(Seconds(load.start) * options.feed_per_minute / 60) + 1);
      std::size_t end = std::min({due, next + 200, names.size()});
      if (end <= next) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
        continue;
      }
      std::string body = "[";
      for (std::size_t i = next; i < end; ++i) body += (i > next ? "," : "") + FeedEvent(names[i]);
      body += "]";
      auto [status, text] = client.Call("POST", "/v1/feeds/package-feeds", body);
      if (status != 200) {
        load.feed_errors++;
        continue;
      }
      load.fed += static_cast<int>(end - next);
      next = end;
    }
  });
}

// On-demand: packages nobody has seen, at the chosen rate; time to a 200 with the report.
std::thread StartOnDemand(const Options& options, Client& client, Upstream& upstream, Load& load) {
  return std::thread([&options, &client, &upstream, &load] {
    if (options.ondemand_per_second <= 0) return;
    int i = 0;
    while (!load.stop) {
      auto due = static_cast<int>(Seconds(load.start) * options.ondemand_per_second);
      if (i >= due) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
        continue;
      }
      std::string name = fmt::format("ondemand-{}-{}", ::getpid(), i++);
      double upstream_s = upstream.NpmUpstreamSeconds(name);
      auto sent = Steady::now();
      load.ondemand_sent++;
      client.Async("GET", "/v1/packages/npm/" + name + "?wait=30", {},
                   [&load, sent, upstream_s](int status, std::string) {
                     double latency = Seconds(sent);
                     std::lock_guard lock(load.mu);
                     if (status != 200) {
                       load.ondemand_non200++;
                       return;
                     }
                     load.ondemand_latency.push_back(latency);
                     load.ondemand_overhead.push_back(latency - upstream_s);
                   });
    }
  });
}

// Known packages: random fed packages, wait=0; only answers with a report are timed.
std::thread StartKnown(const Options& options, Client& client,
                       const std::vector<std::pair<std::string, std::string>>& names,
                       const std::vector<std::string>& preloaded, Load& load) {
  return std::thread([&options, &client, &names, &preloaded, &load] {
    if (options.known_per_second <= 0) return;
    std::mt19937 rng(7);
    int i = 0;
    while (!load.stop) {
      auto due = static_cast<int>(Seconds(load.start) * options.known_per_second);
      if (i >= due || (preloaded.empty() && load.finished < 100)) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
        continue;
      }
      ++i;
      // Preloaded packages (all complete), else fed ones: mostly complete by now, as the
      // feed is processed roughly in order.
      std::string path;
      if (!preloaded.empty()) {
        path = preloaded[std::uniform_int_distribution<std::size_t>(0, preloaded.size() - 1)(rng)];
      } else {
        const auto& n = names[std::uniform_int_distribution<int>(0, load.finished / 2)(rng)];
        path = n.first + "/" + n.second;
      }
      auto sent = Steady::now();
      load.known_sent++;
      client.Async("GET", fmt::format("/v1/packages/{}?wait=0", path), {},
                   [&load, sent](int status, std::string) {
                     double latency = Seconds(sent);
                     std::lock_guard lock(load.mu);
                     load.known_answered++;
                     if (status == 200)
                       load.known_latency.push_back(latency);
                     else if (status != 202)
                       load.known_non200++;
                   });
    }
  });
}

// Progress: terminal packages over time, from /metrics, until the feed is done or the
// time is up. Returns the last /metrics text.
std::string WatchProgress(const Options& options, Client& client, std::size_t preloaded, Load& load) {
  std::string metrics;
  const double total = options.packages;
  while (true) {
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    auto [status, text] = client.Call("GET", "/metrics");
    if (status != 200) continue;
    metrics = std::move(text);
    double done = Metric(metrics, "pkgtrust_packages{state=\"complete\"}") +
                  Metric(metrics, "pkgtrust_packages{state=\"not_found\"}") +
                  Metric(metrics, "pkgtrust_packages{state=\"failed\"}");
    int od = load.OnDemandAnswered();
    double terminal = done - od - static_cast<double>(preloaded);
    load.finished = static_cast<int>(terminal);
    load.progress.emplace_back(Seconds(load.start), terminal);
    if (!options.json)
      fmt::print(stderr, "\r{:6.1f} s: fed {:>7}, done {:>7.0f}, on-demand answered {:>5}   ",
                 Seconds(load.start), load.fed.load(), terminal, od);
    if (terminal >= total || Seconds(load.start) > options.max_minutes * 60.0) break;
  }
  if (!options.json) fmt::print(stderr, "\n");
  return metrics;
}

// Requests still in flight (on-demand ones wait at most 30 s for their run) are counted,
// not cut off.
void AwaitAnswers(Load& load) {
  for (auto waited = Steady::now(); Seconds(waited) < 35;) {
    {
      std::lock_guard lock(load.mu);
      if (static_cast<int>(load.ondemand_latency.size()) + load.ondemand_non200 >= load.ondemand_sent &&
          load.known_answered >= load.known_sent)
        return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

// What the service left when it stopped.
struct Stopped {
  std::string metrics;  // /metrics just before the stop
  ProcessStats process;
  double elapsed = 0;
  std::uintmax_t wal_bytes = 0;  // before the stop
  std::uintmax_t db_bytes = 0;   // after it: the WAL is checkpointed into the file by a clean stop
  double postgres_cpu_seconds = 0;  // the PostgreSQL server's, during the run (--postgres)
};

Stopped StopServe(pid_t pid, Client& client, const fs::path& db, const Load& load, std::string metrics) {
  Stopped stopped;
  if (auto [status, text] = client.Call("GET", "/metrics"); status == 200) metrics = std::move(text);
  stopped.metrics = std::move(metrics);
  stopped.process = ReadProcess(pid);
  stopped.elapsed = Seconds(load.start);
  std::error_code ec;
  stopped.wal_bytes = fs::file_size(db.string() + "-wal", ec);
  if (ec) stopped.wal_bytes = 0;
  kill(pid, SIGTERM);
  int status = 0;
  waitpid(pid, &status, 0);
  stopped.db_bytes = fs::file_size(db, ec);
  if (ec) stopped.db_bytes = 0;
  return stopped;
}

// The figures of a run, printed (and as one JSON line with --json).
void Report(const Options& options, Upstream& upstream, Load& load, const Stopped& stopped,
            std::size_t preloaded) {
  const std::string& metrics = stopped.metrics;
  const double total = options.packages;
  double complete = Metric(metrics, "pkgtrust_packages{state=\"complete\"}");
  double not_found = Metric(metrics, "pkgtrust_packages{state=\"not_found\"}");
  double failed = Metric(metrics, "pkgtrust_packages{state=\"failed\"}");
  double retried = 0;
  for (const char* stage : {"registry", "repository", "scoring"})
    retried += Metric(
        metrics, fmt::format("pkgtrust_stage_messages_total{{stage=\"{}\",outcome=\"retried\"}}", stage));
  double dead = Metric(metrics, "pkgtrust_queue_dead_lettered_total{");
  double in_database = complete + not_found + failed;
  // Sustained rate: from 10% to 90% of the feed in a terminal state (warm-up and tail cut).
  auto time_at = [&](double fraction) {
    for (const auto& [t, n] : load.progress)
      if (n >= fraction * total) return t;
    return load.progress.empty() ? 0.0 : load.progress.back().first;
  };
  double t10 = time_at(0.1), t90 = time_at(0.9);
  double per_minute = t90 > t10 ? 0.8 * total / (t90 - t10) * 60 : 0;
  double processed = in_database - static_cast<double>(preloaded);
  // Every fed package and every on-demand one cost GitHub its share.
  double points_per_package = processed > 0 ? static_cast<double>(upstream.GitHubPoints()) / processed : 0;
  const ProcessStats& process = stopped.process;
  std::lock_guard lock(load.mu);
  const auto& ondemand_latency = load.ondemand_latency;
  const auto& ondemand_overhead = load.ondemand_overhead;
  const auto& known_latency = load.known_latency;
  json result = {
      {"packages", options.packages},
      {"feed_per_minute_offered", options.feed_per_minute},
      {"latency_median_ms", options.latency_median_ms},
      {"latency_p99_ms", options.latency_p99_ms},
      {"error_rate", options.error_rate},
      {"timeout_rate", options.timeout_rate},
      {"elapsed_s", stopped.elapsed},
      {"completed_per_minute", per_minute},
      {"complete", complete},
      {"not_found", not_found},
      {"failed", failed},
      {"ondemand",
       {{"answered_200", ondemand_latency.size()},
        {"other", load.ondemand_non200.load()},
        {"p50_ms", Percentile(ondemand_latency, 0.5) * 1000},
        {"p95_ms", Percentile(ondemand_latency, 0.95) * 1000},
        {"p99_ms", Percentile(ondemand_latency, 0.99) * 1000},
        {"overhead_p50_ms", Percentile(ondemand_overhead, 0.5) * 1000},
        {"overhead_p99_ms", Percentile(ondemand_overhead, 0.99) * 1000}}},
      {"known",
       {{"answered_200", known_latency.size()},
        {"errors", load.known_non200.load()},
        {"p50_ms", Percentile(known_latency, 0.5) * 1000},
        {"p95_ms", Percentile(known_latency, 0.95) * 1000},
        {"p99_ms", Percentile(known_latency, 0.99) * 1000}}},
      {"cpu_seconds_per_1000", processed > 0 ? process.cpu_seconds / processed * 1000 : 0},
      {"postgres_cpu_seconds_per_1000", processed > 0 ? stopped.postgres_cpu_seconds / processed * 1000 : 0},
      {"processes", options.processes},
      {"store", options.postgres.empty() ? "sqlite" : "postgres"},
      {"transport", options.sqs ? "sqs" : "memory"},
      {"stage_concurrency", options.concurrency},
      {"peak_rss_mb", process.peak_rss_mb},
      {"preloaded", preloaded},
      {"db_mb_per_1000",
       in_database > 0 ? static_cast<double>(stopped.db_bytes) / 1e6 / in_database * 1000 : 0},
      {"wal_mb_before_stop", static_cast<double>(stopped.wal_bytes) / 1e6},
      {"messages_retried", retried},
      {"messages_dead_lettered", dead},
      {"upstream_requests", upstream.Requests()},
      {"github_token", options.github_token},
      {"repo_pool", options.repo_pool},
      {"github_points", upstream.GitHubPoints()},
      {"github_points_per_package", points_per_package},
      {"packages_per_hour_per_token", points_per_package > 0 ? kGitHubPointsPerHour / points_per_package : 0},
      {"webhook_errors", load.feed_errors.load()}};
  fmt::print("harness: {} feed packages ({} complete, {} not_found, {} failed) in {:.1f} s\n",
             options.packages, complete, not_found, failed, stopped.elapsed);
  fmt::print("harness: {} process{}, store {}, transport {}, stage concurrency {} per process\n",
             options.processes, options.processes > 1 ? "es" : "",
             options.postgres.empty() ? "SQLite" : "PostgreSQL", options.sqs ? "SNS/SQS (fauxqs)" : "memory",
             options.concurrency);
  fmt::print("harness: sustained {:.0f} packages/minute (10% to 90% of the feed)\n", per_minute);
  if (options.backfill)
    fmt::print(
        "harness: backfill of {} names: {:.0f} packages/hour sustained, {:.0f} packages/hour overall\n",
        options.packages, per_minute * 60,
        stopped.elapsed > 0 ? (complete + not_found + failed) / stopped.elapsed * 3600 : 0);
  if (!options.postgres.empty())
    fmt::print("harness: PostgreSQL server CPU {:.2f} s per 1,000 packages (beside the service's below)\n",
               result["postgres_cpu_seconds_per_1000"].get<double>());
  fmt::print(
      "harness: on-demand {} answered 200 ({} otherwise): p50 {:.0f} ms, p95 {:.0f} ms, p99 {:.0f} ms; "
      "above the package's own upstream time: p50 {:.0f} ms, p99 {:.0f} ms\n",
      ondemand_latency.size(), load.ondemand_non200.load(), Percentile(ondemand_latency, 0.5) * 1000,
      Percentile(ondemand_latency, 0.95) * 1000, Percentile(ondemand_latency, 0.99) * 1000,
      Percentile(ondemand_overhead, 0.5) * 1000, Percentile(ondemand_overhead, 0.99) * 1000);
  fmt::print("harness: known-package queries {}: p50 {:.2f} ms, p95 {:.2f} ms, p99 {:.2f} ms\n",
             known_latency.size(), Percentile(known_latency, 0.5) * 1000,
             Percentile(known_latency, 0.95) * 1000, Percentile(known_latency, 0.99) * 1000);
  fmt::print(
      "harness: service CPU {:.2f} s per 1,000 packages, peak RSS {:.0f} MB, database {:.2f} MB per 1,000 "
      "packages after a clean stop ({:.0f} MB WAL before it), {} messages retried, {} dead-lettered, {} "
      "upstream requests\n",
      result["cpu_seconds_per_1000"].get<double>(), process.peak_rss_mb,
      result["db_mb_per_1000"].get<double>(), static_cast<double>(stopped.wal_bytes) / 1e6, retried, dead,
      upstream.Requests());
  fmt::print(
      "harness: GitHub ({}{}): {} points, {:.3f} points per package, {:.0f} packages per hour per token\n",
      options.github_token ? "with a token" : "no token",
      options.repo_pool > 0 ? fmt::format(", {} repositories, Zipf", options.repo_pool)
                            : ", a repository per package",
      upstream.GitHubPoints(), points_per_package,
      points_per_package > 0 ? kGitHubPointsPerHour / points_per_package : 0.0);
  if (options.json) fmt::print("{}\n", result.dump());
}

// CPU seconds of the PostgreSQL server's processes (its backends do the store's work that
// SQLite does inside the service), from /proc; 0 without PostgreSQL.
double PostgresCpuSeconds() {
  double total = 0;
  for (const auto& entry : fs::directory_iterator("/proc")) {
    std::string pid = entry.path().filename();
    if (pid.empty() || !std::isdigit(static_cast<unsigned char>(pid[0]))) continue;
    std::string comm = ReadFile(fmt::format("/proc/{}/comm", pid));
    if (!comm.starts_with("postgres")) continue;
    total += ReadProcess(std::stoi(pid)).cpu_seconds;
  }
  return total;
}

// One statement on the PostgreSQL server of --postgres; false (printed) when it fails.
bool PostgresAdmin(const std::string& server, const std::string& sql, std::string* value = nullptr) {
  testing::PostgresAnswer answer = testing::RunPostgresStatement(server, sql);
  if (!answer.ok) fmt::print(stderr, "harness: {}: {}", sql, answer.error);
  if (value) *value = answer.value;
  return answer.ok;
}

// One run: the service started on a fresh (or preloaded) database, the feed, on-demand
// and known-package load at once until the feed is done, then the figures. With
// --processes N, N services share the work through SNS/SQS (and --postgres, one database);
// the load goes through the first, whose /metrics counts the packages of all.
int Run(const Options& options) {
  fs::path dir = fs::temp_directory_path() / fmt::format("pkgtrust-harness-{}", ::getpid());
  fs::create_directories(dir);
  const fs::path db = dir / "harness.db";
  Upstream upstream(options);
  SetServiceToken(options);
  std::string database = fmt::format("pkgtrust_harness_{}", ::getpid());
  if (!options.postgres.empty()) {
    if (!PostgresAdmin(options.postgres, "CREATE DATABASE " + database)) return 1;
    setenv("PKGTRUST_DATABASE_URL", (options.postgres + " dbname=" + database).c_str(), 1);
  }
  std::unique_ptr<testing::FauxqsEmulator> emulator;
  std::string sqs;
  if (options.sqs) {
    emulator = std::make_unique<testing::FauxqsEmulator>();
    setenv("AWS_ACCESS_KEY_ID", "AKIDHARNESS", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "emulator-secret", 1);
    sqs = fmt::format(
        "transport:\n  kind: sqs\n  topology: {}/config/topology.yaml\n  visibility_timeout_seconds: 120\n"
        "  sqs:\n    region: us-east-1\n    endpoint: \"{}\"\n    name_prefix: harness{}_\n",
        PKGTRUST_SOURCE_DIR, emulator->Endpoint(), ::getpid());
  }
  std::vector<int> ports;
  std::vector<std::string> configs, logs;
  std::vector<std::unique_ptr<Client>> clients;
  for (int i = 0; i < options.processes; ++i) {
    ports.push_back(testing::FreeLoopbackPort());
    configs.push_back((dir / fmt::format("harness{}.yaml", i)).string());
    logs.push_back((dir / fmt::format("serve{}.log", i)).string());
    std::ofstream(configs.back()) << ServeConfig(options, upstream.BaseUrl(), ports.back(), db, sqs);
    clients.push_back(std::make_unique<Client>(fmt::format("http://127.0.0.1:{}", ports.back())));
  }
  if (options.sqs) {
    std::string apply = fmt::format("{} topology apply --config {} > {} 2>&1", options.binary, configs[0],
                                    (dir / "topology.log").string());
    if (std::system(apply.c_str()) != 0) {
      fmt::print(stderr, "harness: topology apply failed:\n{}", ReadFile((dir / "topology.log").string()));
      return 1;
    }
  }
  Client& client = *clients[0];
  std::function<pid_t()> serve = [&] { return StartServe(options.binary, configs[0], logs[0], client); };

  std::vector<std::string> preloaded;
  if (options.preload > 0) {
    auto loaded = Preload(options, db, client, serve);
    if (!loaded) return 1;
    preloaded = std::move(*loaded);
  }
  std::vector<pid_t> pids;
  for (int i = 0; i < options.processes; ++i) {
    pids.push_back(StartServe(options.binary, configs[i], logs[i], *clients[i]));
    if (pids.back() < 0) return 1;
  }
  double postgres_cpu_before = options.postgres.empty() ? 0 : PostgresCpuSeconds();
  auto names =
      options.backfill ? std::vector<std::pair<std::string, std::string>>{} : FeedNames(options.packages);
  Load load;
  std::thread feeder = StartFeed(options, client, names, load);
  std::thread ondemand = StartOnDemand(options, client, upstream, load);
  std::thread known = StartKnown(options, client, names, preloaded, load);
  std::string metrics = WatchProgress(options, client, preloaded.size(), load);
  load.stop = true;
  feeder.join();
  ondemand.join();
  known.join();
  AwaitAnswers(load);
  // The server's backends end with the services' connections: read their CPU first.
  double postgres_cpu = options.postgres.empty() ? 0 : PostgresCpuSeconds() - postgres_cpu_before;
  // The others first: their CPU and memory join the first one's figures.
  ProcessStats others;
  for (int i = 1; i < options.processes; ++i) {
    Stopped other = StopServe(pids[i], *clients[i], db, load, "");
    others.cpu_seconds += other.process.cpu_seconds;
    others.peak_rss_mb += other.process.peak_rss_mb;
  }
  Stopped stopped = StopServe(pids[0], client, db, load, std::move(metrics));
  stopped.process.cpu_seconds += others.cpu_seconds;
  stopped.process.peak_rss_mb += others.peak_rss_mb;
  if (!options.postgres.empty()) {
    stopped.postgres_cpu_seconds = postgres_cpu;
    std::string bytes;
    if (PostgresAdmin(options.postgres, fmt::format("SELECT pg_database_size('{}')", database), &bytes))
      stopped.db_bytes = std::stoull(bytes);
    PostgresAdmin(options.postgres, "DROP DATABASE " + database + " WITH (FORCE)");
  }
  Report(options, upstream, load, stopped, preloaded.size());
  if (options.keep)
    fmt::print(stderr, "harness: kept {}\n", dir.string());
  else
    fs::remove_all(dir);
  return 0;
}

// The soak (--chaos): `pkgtrust serve` is killed with SIGKILL at random moments and started
// again on the same database while events keep coming and the upstream fails a fifth of
// the time (5xx, timeouts, GitHub rate limits). It checks what the service promises:
// every event answered 200 is kept (its package is in the database), no package is left
// in flight once the kills stop, and no run is committed twice (a package reaches a
// terminal state once per generation in the change log).
int RunChaos(const Options& options) {
  fs::path dir = fs::temp_directory_path() / fmt::format("pkgtrust-chaos-{}", ::getpid());
  fs::create_directories(dir);
  Upstream upstream(options);
  SetServiceToken(options);
  int port = testing::FreeLoopbackPort();
  std::string db_path = (dir / "chaos.db").string();
  std::string yaml = fmt::format(R"(server:
  listen: "127.0.0.1:{port}"
  shutdown_grace_seconds: 1
database:
  path: {db}
workers:
  http_connections_per_host: 4096
stages:
  registry: {{concurrency: 256, max_attempts: 8}}
  repository: {{concurrency: 256, max_attempts: 8}}
  scoring: {{concurrency: 8}}
reconciler:
  interval_seconds: 5
  stuck_after_seconds: 15
  failed_retry_base_seconds: 5
  failed_retry_max_seconds: 10
log:
  level: warn
upstreams:
)",
                                 fmt::arg("port", port), fmt::arg("db", db_path));
  for (const char* name : {"npm", "pypi", "crates", "maven", "go", "github"})
    yaml += fmt::format("  {}: \"{}\"\n", name, upstream.BaseUrl());
  yaml += fmt::format("  npm_downloads: \"{}/npm-downloads\"\n", upstream.BaseUrl());
  if (options.graphql_batch >= 0)
    yaml += fmt::format("github:\n  graphql_batch: {}\n", options.graphql_batch);
  std::string config_path = (dir / "chaos.yaml").string(), log_path = (dir / "serve.log").string();
  std::ofstream(config_path) << yaml;
  Client client(fmt::format("http://127.0.0.1:{}", port));
  auto serve = [&] { return StartServe(options.binary, config_path, log_path, client); };

  auto names = FeedNames(options.packages);
  std::mt19937 rng(42);
  std::uniform_real_distribution<double> interval(options.chaos_kill_seconds * 0.5,
                                                  options.chaos_kill_seconds * 1.5);
  std::vector<char> answered(names.size(), 0);  // answered 200: the service promised to keep it
  std::size_t next = 0, events_200 = 0;
  int kills = 0, failed_posts = 0;
  auto start = Steady::now();
  pid_t pid = serve();
  if (pid < 0) return 1;
  auto next_kill = Steady::now() + std::chrono::milliseconds(static_cast<int>(interval(rng) * 1000));
  // Feed in batches of 50 until every event was answered 200, killing the service on
  // schedule (also in the middle of a batch: a request cut off is sent again).
  std::atomic<bool> feeding{true};
  std::thread killer([&] {
    while (feeding) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      if (Steady::now() < next_kill) continue;
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
      ++kills;
      if (!options.json)
        fmt::print(stderr, "\rharness: {:6.1f} s: kill {} (fed {} of {})   ", Seconds(start), kills, next,
                   names.size());
      pid = serve();
      if (pid < 0) std::exit(1);
      next_kill = Steady::now() + std::chrono::milliseconds(static_cast<int>(interval(rng) * 1000));
    }
  });
  while (next < names.size()) {
    // At the chosen rate (so that kills fall in the middle of the feed), in batches of 50.
    std::size_t due = options.feed_per_minute > 0
                          ? static_cast<std::size_t>(Seconds(start) * options.feed_per_minute / 60) + 1
                          : names.size();
    if (due <= next) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      continue;
    }
    std::size_t end = std::min({names.size(), next + 50, due});
    std::string body = "[";
    for (std::size_t i = next; i < end; ++i) body += (i > next ? "," : "") + FeedEvent(names[i]);
    auto [status, text] = client.Call("POST", "/v1/feeds/package-feeds", body + "]");
    if (status != 200) {
      ++failed_posts;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      continue;
    }
    for (std::size_t i = next; i < end; ++i) answered[i] = 1;
    events_200 += end - next;
    next = end;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  // Keep killing for a while after the feed, then let the service settle.
  std::this_thread::sleep_for(std::chrono::seconds(options.chaos_kill_seconds * 2));
  feeding = false;
  killer.join();
  double settle_start = Seconds(start);
  auto in_flight = [&] {
    auto [status, text] = client.Call("GET", "/metrics");
    if (status != 200) return -1.0;
    return Metric(text, "pkgtrust_packages{state=\"pending_");
  };
  for (auto waited = Steady::now(); Seconds(waited) < options.max_minutes * 60.0;) {
    if (in_flight() == 0) break;
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }
  double settled = Seconds(start) - settle_start;
  kill(pid, SIGTERM);
  waitpid(pid, nullptr, 0);

  // The database, read directly once the service has stopped.
  sqlite3* db = nullptr;
  if (sqlite3_open(db_path.c_str(), &db) != SQLITE_OK) return 1;
  auto scalar = [&](const std::string& sql) {
    sqlite3_stmt* stmt = nullptr;
    std::int64_t value = -1;
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr) == SQLITE_OK &&
        sqlite3_step(stmt) == SQLITE_ROW)
      value = sqlite3_column_int64(stmt, 0);
    sqlite3_finalize(stmt);
    return value;
  };
  std::int64_t stored = scalar("SELECT COUNT(*) FROM packages");
  std::int64_t complete = scalar("SELECT COUNT(*) FROM packages WHERE state = 'complete'");
  std::int64_t not_found = scalar("SELECT COUNT(*) FROM packages WHERE state = 'not_found'");
  std::int64_t failed = scalar("SELECT COUNT(*) FROM packages WHERE state = 'failed'");
  std::int64_t stuck = scalar("SELECT COUNT(*) FROM packages WHERE state LIKE 'pending_%'");
  std::int64_t duplicates = scalar(
      "SELECT COUNT(*) FROM (SELECT package_id FROM package_changes GROUP BY package_id, generation, state "
      "HAVING COUNT(*) > 1)");
  // Every event answered 200 must have its package stored.
  std::int64_t missing = 0;
  sqlite3_stmt* find = nullptr;
  sqlite3_prepare_v2(db, "SELECT 1 FROM packages WHERE ecosystem = ? AND name = ?", -1, &find, nullptr);
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (!answered[i]) continue;
    std::string name = names[i].second;
    if (names[i].first == "pypi")  // stored under its PEP 503 name
      for (char& c : name)
        c = (c == '_' || c == '.') ? '-' : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    sqlite3_reset(find);
    sqlite3_bind_text(find, 1, names[i].first.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(find, 2, name.c_str(), -1, SQLITE_TRANSIENT);
    if (sqlite3_step(find) != SQLITE_ROW) ++missing;
  }
  sqlite3_finalize(find);
  sqlite3_close(db);
  bool ok = missing == 0 && stuck == 0 && duplicates == 0 && events_200 == names.size();
  json result = {{"packages", names.size()},
                 {"kills", kills},
                 {"events_answered_200", events_200},
                 {"posts_failed", failed_posts},
                 {"packages_stored", stored},
                 {"complete", complete},
                 {"not_found", not_found},
                 {"failed", failed},
                 {"missing", missing},
                 {"stuck", stuck},
                 {"duplicates_committed", duplicates},
                 {"elapsed_s", Seconds(start)},
                 {"settle_s", settled},
                 {"upstream_requests", upstream.Requests()},
                 {"ok", ok}};
  if (!options.json) fmt::print(stderr, "\n");
  fmt::print("harness chaos: {} kills over {:.0f} s; {} events answered 200 ({} posts cut off or refused)\n",
             kills, Seconds(start), events_200, failed_posts);
  fmt::print(
      "harness chaos: {} packages stored: {} complete, {} not_found, {} failed; {} missing, {} stuck, {} "
      "committed twice (settled {:.0f} s after the last kill) -> {}\n",
      stored, complete, not_found, failed, missing, stuck, duplicates, settled, ok ? "OK" : "FAILED");
  if (options.json) fmt::print("{}\n", result.dump());
  if (options.keep)
    fmt::print(stderr, "harness: kept {}\n", dir.string());
  else
    fs::remove_all(dir);
  return ok ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  options.binary = (fs::path(argv[0]).parent_path() / "../src/pkgtrust").string();
  auto usage = [] {
    fmt::print(
        stderr,
        "usage: pkgtrust_harness [--packages N] [--feed-per-minute R (0: max)] [--ondemand-per-second R]\n"
        "         [--known-per-second R] [--latency-median-ms M] [--latency-p99-ms P] [--error-rate E]\n"
        "         [--timeout-rate T] [--github-limit-per-hour L] [--zero-latency] [--max-minutes M]\n"
        "         [--preload N] [--repo-pool N] [--no-token] [--graphql-batch N] [--keep] [--binary PATH]\n"
        "         [--postgres CONNINFO] [--processes N (SNS/SQS on the fauxqs emulator)] [--sqs]\n"
        "         [--concurrency N (registry and repository work in flight per process)]\n"
        "         [--read-connections N] [--json]\n"
        "       pkgtrust_harness --backfill [--packages N (the shipped npm list's first N)] [options above]\n"
        "       pkgtrust_harness --chaos [--packages N] [--kill-every-seconds S] [--error-rate E] "
        "[--timeout-rate T]\n"
        "         [--github-limit-per-hour L] [--max-minutes M] [--keep] [--json]\n");
    return 2;
  };
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto next = [&]() -> const char* { return i + 1 < argc ? argv[++i] : nullptr; };
    const char* value = nullptr;
    if (arg == "--json") {
      options.json = true;
    } else if (arg == "--keep") {
      options.keep = true;
    } else if (arg == "--chaos") {
      // The soak's defaults: a fifth of upstream answers fail (errors, timeouts, rate limits).
      options.chaos = true;
      options.packages = 5000;
      options.error_rate = 0.12;
      options.timeout_rate = 0.04;
      options.github_limit_per_hour = 1500;
      options.github_window_seconds = 10;
      options.latency_median_ms = 40;
      options.latency_p99_ms = 200;
      options.feed_per_minute = 3000;
    } else if (arg == "--backfill") {
      // The shipped npm list's 10,000 names through index.popular (--packages N: its first N);
      // nothing else asks.
      options.backfill = true;
      options.packages = 10'000;
      options.ondemand_per_second = 0;
      options.known_per_second = 0;
    } else if (arg == "--no-token") {
      options.github_token = false;
    } else if (arg == "--sqs") {
      options.sqs = true;
    } else if (arg == "--zero-latency") {
      options.latency_median_ms = 0;
      options.latency_p99_ms = 0;
      options.error_rate = 0;
      options.timeout_rate = 0;
    } else if ((value = next()) == nullptr) {
      return usage();
    } else if (arg == "--packages") {
      options.packages = std::atoi(value);
    } else if (arg == "--feed-per-minute") {
      options.feed_per_minute = std::atof(value);
    } else if (arg == "--ondemand-per-second") {
      options.ondemand_per_second = std::atof(value);
    } else if (arg == "--known-per-second") {
      options.known_per_second = std::atof(value);
    } else if (arg == "--latency-median-ms") {
      options.latency_median_ms = std::atoi(value);
    } else if (arg == "--latency-p99-ms") {
      options.latency_p99_ms = std::atoi(value);
    } else if (arg == "--error-rate") {
      options.error_rate = std::atof(value);
    } else if (arg == "--timeout-rate") {
      options.timeout_rate = std::atof(value);
    } else if (arg == "--github-limit-per-hour") {
      options.github_limit_per_hour = std::atoi(value);
    } else if (arg == "--preload") {
      options.preload = std::atoi(value);
    } else if (arg == "--max-minutes") {
      options.max_minutes = std::atoi(value);
    } else if (arg == "--binary") {
      options.binary = value;
    } else if (arg == "--graphql-batch") {
      options.graphql_batch = std::max(0, std::atoi(value));
    } else if (arg == "--repo-pool") {
      options.repo_pool = std::max(0, std::atoi(value));
    } else if (arg == "--postgres") {
      options.postgres = value;
    } else if (arg == "--processes") {
      options.processes = std::clamp(std::atoi(value), 1, 8);
      if (options.processes > 1) options.sqs = true;
    } else if (arg == "--read-connections") {
      options.read_connections = std::clamp(std::atoi(value), 1, 64);
    } else if (arg == "--concurrency") {
      options.concurrency = std::clamp(std::atoi(value), 1, 100'000);
    } else if (arg == "--kill-every-seconds") {
      options.chaos_kill_seconds = std::max(2, std::atoi(value));
    } else {
      return usage();
    }
  }
  if (options.packages < 1) return usage();
  signal(SIGPIPE, SIG_IGN);
  return options.chaos ? RunChaos(options) : Run(options);
}
