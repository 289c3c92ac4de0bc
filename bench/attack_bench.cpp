// `pkgtrust_bench attack`: the two memory attacks of the hostile-input work, against
// `pkgtrust serve` as a child process (any build: --binary points at an older one to
// compare), with a replay upstream on loopback (bench/README.md, "Hostile input"):
//   subscribers: N packages stored, then 1,000 change-stream subscribers that never read;
//     /healthz and a package query are timed meanwhile; peak RSS, and RSS once they left.
//   bodies: 16 packages asked for at once whose packuments are large: gzip bombs (40 KB on
//     the wire, a 40 MB README once decoded), then plain 48 MB packuments of 6,000 versions
//     with 8 KB descriptions (large the ordinary way); peak RSS, and whether it still answers.
#include <arpa/inet.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bench/benches.hpp"
#include "pkgtrust/net/http_client.hpp"
#include "support/replay_server.hpp"

namespace pkgtrust::bench {
namespace {

namespace fs = std::filesystem;
using Steady = std::chrono::steady_clock;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

double RssMb(pid_t pid, const char* field) {
  std::istringstream status(ReadFile(fmt::format("/proc/{}/status", pid)));
  for (std::string line; std::getline(status, line);)
    if (line.starts_with(field)) return std::stod(line.substr(std::strlen(field))) / 1024;
  return 0;
}

class Service {
 public:
  Service(const std::string& binary, const std::string& upstream, const fs::path& dir) : dir_(dir) {
    boost::asio::io_context ioc;
    boost::asio::ip::tcp::acceptor probe(ioc, {boost::asio::ip::make_address("127.0.0.1"), 0});
    port_ = probe.local_endpoint().port();
    probe.close();
    // Only keys every version of the config knows: the same file runs an older binary.
    std::string yaml = fmt::format(
        "server:\n  listen: \"127.0.0.1:{}\"\n  max_connections: 4000\ndatabase:\n  path: {}\n"
        "log:\n  level: warn\nupstreams:\n",
        port_, (dir / "attack.db").string());
    for (const char* name : {"npm", "npm_downloads", "pypi", "crates", "maven", "go", "github"})
      yaml += fmt::format("  {}: \"{}\"\n", name, upstream);
    std::ofstream(dir / "attack.yaml") << yaml;
    std::string config = (dir / "attack.yaml").string(), log = (dir / "serve.log").string();
    int log_fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    pid_ = fork();
    if (pid_ == 0) {
      dup2(log_fd, STDERR_FILENO);
      execl(binary.c_str(), binary.c_str(), "serve", "--config", config.c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    close(log_fd);
    net::HttpClientConfig http;
    http.max_connections_per_host = 64;
    client_ = std::make_unique<net::BeastHttpClient>(http);
    for (auto start = Steady::now(); Get("/readyz", 1000).first != 200;) {
      if (Steady::now() - start > std::chrono::seconds(60)) throw std::runtime_error("serve did not start");
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  ~Service() {
    kill(pid_, SIGTERM);
    waitpid(pid_, nullptr, 0);
  }
  // (status, milliseconds); status 0 when no answer came within `timeout_ms`.
  std::pair<int, double> Get(const std::string& path, int timeout_ms = 10'000, const std::string& body = {}) {
    net::HttpRequest request;
    request.method = body.empty() ? "GET" : "POST";
    request.url = fmt::format("http://127.0.0.1:{}{}", port_, path);
    request.body = body;
    request.max_attempts = 1;
    request.timeout = std::chrono::milliseconds(timeout_ms);
    auto start = Steady::now();
    std::promise<int> status;
    client_->Fetch(std::move(request),
                   [&](core::Result<net::HttpResponse> r) { status.set_value(r.ok() ? r->status : 0); });
    int s = status.get_future().get();
    return {s, std::chrono::duration<double, std::milli>(Steady::now() - start).count()};
  }
  int port() const { return port_; }
  pid_t pid() const { return pid_; }

 private:
  fs::path dir_;
  int port_ = 0;
  pid_t pid_ = -1;
  std::unique_ptr<net::BeastHttpClient> client_;
};

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<std::size_t>(p * static_cast<double>(v.size())))];
}

int SilentSubscriber(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  int small = 4096;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    close(fd);
    return -1;
  }
  std::string request = "GET /v1/changes HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
  (void)send(fd, request.data(), request.size(), MSG_NOSIGNAL);
  return fd;
}

// Sixteen packages whose packuments are `prefix`-N asked for at once, on a new service.
nlohmann::json SixteenBodies(const std::string& binary, const std::string& upstream, const fs::path& dir,
                             const std::string& prefix) {
  Service service(binary, upstream, dir);
  double rss_before = RssMb(service.pid(), "VmRSS:");
  std::vector<std::thread> askers;
  auto start = Steady::now();
  std::atomic<int> answered{0};
  std::mutex mu;
  std::map<int, int> statuses;
  for (int i = 0; i < 16; ++i)
    askers.emplace_back([&, i] {
      int status = service.Get(fmt::format("/v1/packages/npm/{}-{}?wait=30", prefix, i), 120'000).first;
      if (status != 0) answered++;
      std::lock_guard lock(mu);
      statuses[status]++;
    });
  for (auto& t : askers) t.join();
  std::string seen;
  for (auto [status, n] : statuses) seen += fmt::format("{}{}x{}", seen.empty() ? "" : ", ", n, status);
  // How long until all sixteen have their report (those answered 202 keep going).
  auto all_done = Steady::now();
  for (int i = 0; i < 16; ++i)
    while (service.Get(fmt::format("/v1/packages/npm/{}-{}?wait=0", prefix, i)).first != 200 &&
           Steady::now() - all_done < std::chrono::seconds(60))
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
  double done_s = std::chrono::duration<double>(Steady::now() - start).count();
  double peak = RssMb(service.pid(), "VmHWM:");
  std::this_thread::sleep_for(std::chrono::seconds(35));  // the service trims its heap every 30 s
  auto [status, ms] = service.Get("/healthz");
  return {{"bodies", 16},
          {"answered", answered.load()},
          {"statuses", seen},
          {"all_scored_s", done_s},
          {"rss_before_mb", rss_before},
          {"peak_rss_mb", peak},
          {"rss_after_mb", RssMb(service.pid(), "VmRSS:")},
          {"alive_after", status == 200}};
}

}  // namespace

int BenchAttack(const std::string& binary, int packages, int subscribers, bool json) {
  rlimit files{};
  getrlimit(RLIMIT_NOFILE, &files);
  files.rlim_cur = files.rlim_max;
  setrlimit(RLIMIT_NOFILE, &files);
  signal(SIGPIPE, SIG_IGN);
  fs::path dir = fs::temp_directory_path() / fmt::format("pkgtrust-attack-{}", getpid());
  fs::create_directories(dir);
  testing::ReplayServer upstream(2);
  const std::string packument =
      ReadFile(std::string(PKGTRUST_SOURCE_DIR) + "/tests/fixtures/registry/npm/left-pad.json");
  // A gzip bomb that is a valid packument: a 40 MB field nobody keeps.
  std::string bomb_json =
      R"({"name":"bomb","dist-tags":{"latest":"1.0.0"},"versions":{"1.0.0":{}},"readme":")" +
      std::string(40u << 20, 'a') + R"("})";
  const std::string bomb = testing::Gzip(bomb_json);
  bomb_json.clear();
  bomb_json.shrink_to_fit();
  // A large packument of the ordinary kind: many versions, each with a long description.
  std::string large = R"({"name":"large","dist-tags":{"latest":"1.0.5999"},"versions":{)";
  for (int v = 0; v < 6000; ++v)
    large += fmt::format(R"({}"1.0.{}":{{"name":"large","version":"1.0.{}","description":"{}"}})",
                         v ? "," : "", v, v, std::string(8000, 'd'));
  large += "}}";
  upstream.SetGenerator(
      [&](const std::string& method, const std::string& target) -> std::optional<testing::ReplayResponse> {
        if (target.starts_with("/bomb-")) return testing::ReplayResponse{200, {}, bomb, /*gzip=*/true};
        if (target.starts_with("/large-")) return testing::ReplayResponse{200, {}, large};
        if (target.starts_with("/stored-")) return testing::ReplayResponse{200, {}, packument};
        return testing::ReplayResponse{404, {}, R"({"message":"Not Found"})"};
      });
  nlohmann::json result = {{"binary", binary}};

  {  // 1. silent subscribers
    Service service(binary, upstream.BaseUrl(), dir);
    for (int i = 0; i < packages; i += 500) {
      std::string body = "[";
      for (int j = i; j < std::min(packages, i + 500); ++j)
        body += fmt::format(
            R"({}{{"name":"stored-{}","version":"1.0.0","created_date":"2026-11-23T00:00:00Z","type":"npm","schema_ver":"1.1"}})",
            j > i ? "," : "", j);
      service.Get("/v1/feeds/package-feeds", 30'000, body + "]");
    }
    // Wait until they are scored (the state the subscribers will be sent).
    for (auto start = Steady::now(); Steady::now() - start < std::chrono::minutes(5);) {
      if (service.Get(fmt::format("/v1/packages/npm/stored-{}?wait=0", packages - 1)).first == 200 &&
          service.Get("/v1/packages/npm/stored-0?wait=0").first == 200)
        break;
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
    }
    std::this_thread::sleep_for(std::chrono::seconds(3));
    double rss_before = RssMb(service.pid(), "VmRSS:");
    std::vector<int> fds;
    for (int i = 0; i < subscribers; ++i)
      if (int fd = SilentSubscriber(service.port()); fd >= 0) fds.push_back(fd);
    std::vector<double> health, query;
    int health_failed = 0;
    for (int i = 0; i < 100; ++i) {
      auto [s1, ms1] = service.Get("/healthz", 10'000);
      auto [s2, ms2] = service.Get("/v1/packages/npm/stored-7?wait=0", 10'000);
      if (s1 != 200) ++health_failed;
      health.push_back(ms1);
      query.push_back(ms2);
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    double peak_during = RssMb(service.pid(), "VmHWM:");
    for (int fd : fds) close(fd);
    std::this_thread::sleep_for(std::chrono::seconds(10));
    double rss_after = RssMb(service.pid(), "VmRSS:");
    result["subscribers"] = {{"packages", packages},
                             {"subscribers", fds.size()},
                             {"healthz_p50_ms", Percentile(health, 0.5)},
                             {"healthz_p99_ms", Percentile(health, 0.99)},
                             {"healthz_max_ms", Percentile(health, 1.0)},
                             {"healthz_failed", health_failed},
                             {"query_p50_ms", Percentile(query, 0.5)},
                             {"query_p99_ms", Percentile(query, 0.99)},
                             {"rss_before_mb", rss_before},
                             {"peak_rss_mb", peak_during},
                             {"rss_after_mb", rss_after}};
  }
  fs::remove(dir / "attack.db");
  // 2. sixteen large bodies at once, of each kind
  result["bombs"] = SixteenBodies(binary, upstream.BaseUrl(), dir, "bomb");
  result["bombs"]["wire_kb_each"] = static_cast<double>(bomb.size()) / 1024;
  fs::remove(dir / "attack.db");
  result["large"] = SixteenBodies(binary, upstream.BaseUrl(), dir, "large");
  result["large"]["wire_kb_each"] = static_cast<double>(large.size()) / 1024;
  fs::remove_all(dir);
  if (json) {
    fmt::print("{}\n", result.dump());
    return 0;
  }
  const auto& s = result["subscribers"];
  fmt::print("attack ({}): {} silent subscribers, {} packages stored\n", binary, s["subscribers"].get<int>(),
             packages);
  fmt::print(
      "  /healthz p50 {:.1f} ms, p99 {:.1f} ms, max {:.1f} ms ({} of 100 failed); package query p50 {:.1f} "
      "ms, p99 {:.1f} ms\n",
      s["healthz_p50_ms"].get<double>(), s["healthz_p99_ms"].get<double>(), s["healthz_max_ms"].get<double>(),
      s["healthz_failed"].get<int>(), s["query_p50_ms"].get<double>(), s["query_p99_ms"].get<double>());
  fmt::print("  RSS {:.0f} MB before, peak {:.0f} MB, {:.0f} MB 10 s after they left\n",
             s["rss_before_mb"].get<double>(), s["peak_rss_mb"].get<double>(),
             s["rss_after_mb"].get<double>());
  for (const auto& [kind, title] :
       {std::pair{"bombs", "gzip bombs (40 MB decoded)"}, std::pair{"large", "plain packuments"}}) {
    const auto& b = result[kind];
    fmt::print(
        "attack: 16 {} at once, {:.0f} KB each on the wire: {} answered ({}), all scored after {:.1f} s; "
        "RSS {:.0f} MB before, peak {:.0f} MB, {:.0f} MB 35 s later; alive: {}\n",
        title, b["wire_kb_each"].get<double>(), b["answered"].get<int>(), b["statuses"].get<std::string>(),
        b["all_scored_s"].get<double>(), b["rss_before_mb"].get<double>(), b["peak_rss_mb"].get<double>(),
        b["rss_after_mb"].get<double>(), b["alive_after"].get<bool>());
  }
  return 0;
}

}  // namespace pkgtrust::bench
