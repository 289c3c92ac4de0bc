// pkgtrust_bench gateway-*: the package gateway's figures (issue 19, bench/README.md).
//   gateway-files     a cached 100 KB tarball with wrk through the gateway, then from Debian's
//                     nginx serving the same bytes from disk, in the same run
//   gateway-metadata  filtering and rewriting the largest recorded packument (`next`, 21 MB)
//   gateway-install   `npm install` of a 100-package tree straight from the replay upstream,
//                     through the gateway (cold and warm) and through Verdaccio (cold and warm)
// The service is the same app::Service `pkgtrust serve` runs, on loopback, in front of the
// replay upstream.
#include <fmt/format.h>
#include <malloc.h>
#include <openssl/evp.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "app/config.hpp"
#include "app/service.hpp"
#include "bench/benches.hpp"
#include "pkgtrust/gateway/npm_metadata.hpp"
#include "pkgtrust/gateway/policy.hpp"
#include "pkgtrust/net/http_client.hpp"
#include "support/loopback_socket.hpp"
#include "support/replay_server.hpp"
#include "support/test_support.hpp"

namespace pkgtrust::bench {

namespace {

namespace fs = std::filesystem;
using Steady = std::chrono::steady_clock;

using testing::ReadText;
using testing::RunCommand;

// KiB of this process's resident memory: "VmRSS" now or "VmHWM", the peak since ResetPeak.
long SelfKib(const char* field) { return testing::ProcessStatusKib(::getpid(), field); }
// Gives freed memory back first, so that what the next step touches shows as a rise.
void ResetPeak() {
  malloc_trim(0);
  std::ofstream("/proc/self/clear_refs") << "5";
}

bool WaitForPort(int port, std::chrono::seconds timeout) {
  auto deadline = Steady::now() + timeout;
  while (Steady::now() < deadline) {
    if (RunCommand(fmt::format("curl -s -o /dev/null http://127.0.0.1:{}/", port)).exit_code == 0)
      return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

pid_t Spawn(const std::vector<std::string>& argv, const fs::path& log) {
  pid_t pid = fork();
  if (pid == 0) {
    FILE* out = fopen(log.c_str(), "w");
    if (out) {
      dup2(fileno(out), STDOUT_FILENO);
      dup2(fileno(out), STDERR_FILENO);
    }
    std::vector<char*> args;
    for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execvp(args[0], args.data());
    _exit(127);
  }
  return pid;
}

void Stop(pid_t pid) {
  if (pid <= 0) return;
  kill(pid, SIGTERM);
  int status = 0;
  waitpid(pid, &status, 0);
}

}  // namespace

// Shared with adoption_bench.cpp (benches.hpp).
std::string ServeBenchFile(testing::ReplayServer& upstream, const std::string& tarball) {
  std::string path = "/bench-file/-/bench-file-1.0.0.tgz";
  nlohmann::json packument = {
      {"name", "bench-file"},
      {"dist-tags", {{"latest", "1.0.0"}}},
      {"versions",
       {{"1.0.0",
         {{"name", "bench-file"},
          {"version", "1.0.0"},
          {"dist", {{"tarball", upstream.BaseUrl() + path}, {"integrity", Sri512(tarball)}}}}}}},
      {"time", {{"1.0.0", "2020-01-01T00:00:00.000Z"}}}};
  upstream.Add("GET", "/bench-file", testing::ReplayResponse{200, {}, packument.dump()});
  upstream.Add("GET", path, testing::ReplayResponse{200, {}, tarball});
  return path;
}

std::string Sri512(const std::string& bytes) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_Digest(bytes.data(), bytes.size(), digest, &n, EVP_sha512(), nullptr);
  std::string out(4 * ((n + 2) / 3) + 1, '\0');
  int written = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), digest, static_cast<int>(n));
  out.resize(static_cast<std::size_t>(written));
  return "sha512-" + out;
}

app::Config ServiceConfig(const fs::path& dir, const std::string& upstream) {
  app::Config config = app::DefaultConfig();
  config.database.path = (dir / "bench.db").string();
  config.server.port = 0;
  config.scoring.popular_lists = {{"npm", "off"}, {"pypi", "off"}};
  config.log_level = core::LogLevel::kWarn;
  for (const char* name : {"npm", "npm_downloads", "pypi", "pypi_files", "crates", "maven", "go", "github"})
    config.upstreams[name] = upstream;
  return config;
}

// wrk against `url`; one JSON line from its `done` hook.
static constexpr const char* kWrkDone = R"lua(
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('{"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"non_2xx":%d,"socket_errors":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), e.status,
    e.connect + e.read + e.write + e.timeout))
end
)lua";

std::optional<nlohmann::json> Wrk(const fs::path& dir, const std::string& url, int connections, int seconds) {
  std::ofstream(dir / "done.lua") << kWrkDone;
  auto run = RunCommand(fmt::format("wrk -t2 -c{} -d{}s --latency -s {} {}", connections, seconds,
                                    (dir / "done.lua").string(), url));
  auto brace = run.output.rfind("\n{");
  if (run.exit_code != 0 || brace == std::string::npos) {
    fmt::print(stderr, "wrk failed (apt-get install wrk):\n{}", run.output);
    return std::nullopt;
  }
  auto parsed = nlohmann::json::parse(run.output.substr(brace + 1), nullptr, false);
  if (parsed.is_discarded()) return std::nullopt;
  return parsed;
}

double PerSecond(const nlohmann::json& wrk) {
  return wrk["requests"].get<double>() / (wrk["duration_us"].get<double>() / 1e6);
}

int BenchGatewayFiles(int seconds, int connections, bool json) {
  fs::path dir = fs::temp_directory_path() / fmt::format("pkgtrust-bench-gateway-files-{}", ::getpid());
  fs::create_directories(dir / "html");
  std::string tarball(100 * 1024, '\0');
  std::mt19937_64 random(7);
  for (char& c : tarball) c = static_cast<char>(random());
  testing::ReplayServer upstream(1);
  std::string path = ServeBenchFile(upstream, tarball);
  std::ofstream(dir / "html" / "bench-file-1.0.0.tgz", std::ios::binary) << tarball;

  app::Service service(ServiceConfig(dir, upstream.BaseUrl()));
  service.Start();
  std::string gateway_url = fmt::format("http://127.0.0.1:{}/registry/npm{}", service.http_port(), path);
  auto warm = RunCommand(fmt::format("curl -s -o /dev/null -w '%{{http_code}}' {}", gateway_url));
  if (warm.output != "200") {
    fmt::print(stderr, "gateway-files: warming the cache answered {}\n", warm.output);
    return 1;
  }
  auto through_gateway = Wrk(dir, gateway_url, connections, seconds);
  service.Stop();

  // nginx with as many workers as the gateway's server has threads, sendfile on, no log.
  int port = testing::FreeLoopbackPort();
  std::ofstream(dir / "nginx.conf") << fmt::format(
      "worker_processes {};\ndaemon off;\npid {}/nginx.pid;\nerror_log {}/nginx-error.log;\n"
      "events {{ worker_connections 4096; }}\n"
      "http {{ access_log off; sendfile on; tcp_nopush on; keepalive_requests 100000;\n"
      "  server {{ listen 127.0.0.1:{}; root {}/html; location / {{ }} }} }}\n",
      service.config().server.threads, dir.string(), dir.string(), port, dir.string());
  pid_t nginx = Spawn({"nginx", "-c", (dir / "nginx.conf").string(), "-p", dir.string()}, dir / "nginx.log");
  if (!WaitForPort(port, std::chrono::seconds(10))) {
    fmt::print(stderr, "gateway-files: nginx did not start (apt-get install nginx): {}\n",
               ReadText((dir / "nginx.log").string()));
    Stop(nginx);
    return 1;
  }
  auto from_nginx = Wrk(dir, fmt::format("http://127.0.0.1:{}/bench-file-1.0.0.tgz", port), connections, seconds);
  Stop(nginx);
  fs::remove_all(dir);
  if (!through_gateway || !from_nginx) return 1;
  double gateway_rate = PerSecond(*through_gateway), nginx_rate = PerSecond(*from_nginx);
  fmt::print("gateway-files: a cached 100 KB tarball, wrk {} connections, {} s each\n", connections, seconds);
  for (auto [name, result, rate] : {std::tuple{"gateway", &*through_gateway, gateway_rate},
                                    std::tuple{"nginx", &*from_nginx, nginx_rate}})
    fmt::print("  {:8} {:>8.0f}/s  p50 {:.2f} ms  p99 {:.2f} ms  non-2xx {}  socket errors {}\n", name, rate,
               (*result)["p50_us"].get<double>() / 1000, (*result)["p99_us"].get<double>() / 1000,
               (*result)["non_2xx"].get<int>(), (*result)["socket_errors"].get<int>());
  fmt::print("  gateway / nginx: {:.2f}\n", gateway_rate / nginx_rate);
  if (json)
    fmt::print(R"({{"bench":"gateway-files","gateway_per_s":{:.0f},"nginx_per_s":{:.0f},"ratio":{:.3f}}})"
               "\n",
               gateway_rate, nginx_rate, gateway_rate / nginx_rate);
  return (*through_gateway)["non_2xx"].get<int>() == 0 ? 0 : 1;
}

int BenchGatewayMetadata(int rounds, bool json) {
  std::string path = std::string(PKGTRUST_SOURCE_DIR) + "/bench/data/next.json.gz";
  auto body = net::Gunzip(ReadText(path), 256u << 20);
  if (!body.ok()) {
    fmt::print(stderr, "gateway-metadata: {}: {}\n", path, body.status().message());
    return 1;
  }
  body->reserve(body->size() + gateway::kJsonPadding);  // as the gateway keeps cached metadata
  // The newest version refused (an advisory naming it): `latest` steps back, the rest is kept.
  auto versions = nlohmann::json::parse(*body)["versions"];
  std::string newest;
  for (auto it = versions.begin(); it != versions.end(); ++it) newest = it.key();
  versions = nullptr;
  auto decide = [&](std::string_view version, core::Millis) {
    gateway::Decision d;
    if (version == newest) d = {gateway::Action::kBlock, "malicious", "refused", true};
    return d;
  };
  fmt::print("gateway-metadata: next's packument, {:.1f} MB, {} rounds per form\n", body->size() / 1e6, rounds);
  std::string results;
  for (auto [form, name] : {std::pair{gateway::NpmForm::kFull, "full"},
                            std::pair{gateway::NpmForm::kAbbreviated, "abbreviated"}}) {
    std::vector<double> ms;
    long peak_kib = 0;
    std::size_t out_bytes = 0;
    for (int i = 0; i < rounds; ++i) {
      ResetPeak();
      long before = SelfKib("VmRSS");
      auto start = Steady::now();
      auto filtered = gateway::FilterNpmPackument(*body, form, "https://registry.npmjs.org",
                                                  "http://127.0.0.1:8080/registry/npm/", decide,
                                                  body->capacity() - body->size());
      ms.push_back(std::chrono::duration<double, std::milli>(Steady::now() - start).count());
      if (!filtered.ok()) {
        fmt::print(stderr, "gateway-metadata: {}\n", filtered.status().message());
        return 1;
      }
      out_bytes = filtered->body.size();
      peak_kib = std::max(peak_kib, SelfKib("VmHWM") - before);
    }
    std::sort(ms.begin(), ms.end());
    double peak_ratio = peak_kib * 1024.0 / static_cast<double>(body->size());
    fmt::print("  {:12} median {:.1f} ms, min {:.1f} ms; out {:.1f} MB; peak memory above the body {:.1f} MB "
               "({:.2f} x the body)\n",
               name, ms[ms.size() / 2], ms.front(), out_bytes / 1e6, peak_kib / 1024.0, peak_ratio);
    results += fmt::format(R"(,"{}_ms":{:.1f},"{}_peak_ratio":{:.2f})", name, ms[ms.size() / 2], name, peak_ratio);
  }
  if (json) fmt::print(R"({{"bench":"gateway-metadata","body_mb":{:.1f}{}}})" "\n", body->size() / 1e6, results);
  return 0;
}

namespace {

// The 100-package tree: 10 packages the project depends on, each depending on 9 others.
struct Tree {
  std::vector<std::string> top;
};

Tree PublishTree(testing::ReplayServer& upstream, const fs::path& dir, int packages) {
  Tree tree;
  int tops = std::max(1, packages / 10);
  std::vector<std::vector<int>> children(tops);
  for (int i = tops; i < packages; ++i) children[(i - tops) % tops].push_back(i);
  std::string specs;
  for (int i = 0; i < packages; ++i) {
    std::string name = fmt::format("bench-tree-{}", i);
    fs::path src = dir / "src" / name;
    fs::create_directories(src);
    nlohmann::json manifest = {{"name", name}, {"version", "1.0.0"}, {"main", "index.js"}, {"license", "MIT"}};
    if (i < tops) {
      tree.top.push_back(name);
      for (int c : children[i]) manifest["dependencies"][fmt::format("bench-tree-{}", c)] = "^1.0.0";
    }
    std::ofstream(src / "package.json") << manifest.dump(2);
    // A few KB of code, as small real packages have.
    std::string code = fmt::format("module.exports = '{}';\n", name);
    for (int line = 0; line < 60; ++line) code += fmt::format("exports.f{} = (x) => x * {} + {};\n", line, line, i);
    std::ofstream(src / "index.js") << code;
    specs += " " + src.string();
  }
  fs::create_directories(dir / "packs");
  RunCommand(fmt::format("cd {} && npm pack --silent --pack-destination {} {}", dir.string(),
                         (dir / "packs").string(), specs));
  for (int i = 0; i < packages; ++i) {
    std::string name = fmt::format("bench-tree-{}", i);
    std::string file = name + "-1.0.0.tgz";
    std::string tarball = ReadText((dir / "packs" / file).string());
    std::string path = "/" + name + "/-/" + file;
    upstream.Add("GET", path, testing::ReplayResponse{200, {}, tarball});
    nlohmann::json manifest = nlohmann::json::parse(ReadText((dir / "src" / name / "package.json").string()));
    manifest["dist"] = {{"tarball", upstream.BaseUrl() + path}, {"integrity", Sri512(tarball)}};
    nlohmann::json packument = {{"name", name},
                                {"dist-tags", {{"latest", "1.0.0"}}},
                                {"versions", {{"1.0.0", manifest}}},
                                {"time", {{"1.0.0", "2020-01-01T00:00:00.000Z"}}}};
    upstream.Add("GET", "/" + name, testing::ReplayResponse{200, {{"ETag", "\"1\""}}, packument.dump()});
  }
  return tree;
}

// One `npm install` of the tree from `registry`, with an empty npm cache and no lockfile, so
// every packument and tarball comes from the registry. Seconds, or -1.
double NpmInstall(const fs::path& dir, const Tree& tree, const std::string& registry) {
  fs::path project = dir / "project";
  fs::remove_all(project);
  fs::remove_all(dir / "npm-cache");
  fs::create_directories(project);
  nlohmann::json manifest = {{"name", "bench-project"}, {"version", "1.0.0"}, {"private", true}};
  for (const std::string& name : tree.top) manifest["dependencies"][name] = "^1.0.0";
  std::ofstream(project / "package.json") << manifest.dump();
  std::ofstream(dir / "npmrc") << "";
  auto start = Steady::now();
  auto run = RunCommand(
      fmt::format("cd {} && npm install --registry {} --cache {} --userconfig {} --no-audit --no-fund "
                  "--no-update-notifier --loglevel=error",
                  project.string(), registry, (dir / "npm-cache").string(), (dir / "npmrc").string()));
  double seconds = std::chrono::duration<double>(Steady::now() - start).count();
  if (run.exit_code != 0) {
    fmt::print(stderr, "npm install from {} failed:\n{}\n", registry, run.output);
    return -1;
  }
  return seconds;
}

double Median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

}  // namespace

int BenchGatewayInstall(int packages, int rounds, const std::string& verdaccio, bool json) {
  fs::path dir = fs::temp_directory_path() / fmt::format("pkgtrust-bench-gateway-install-{}", ::getpid());
  fs::create_directories(dir);
  testing::ReplayServer upstream(2);
  Tree tree = PublishTree(upstream, dir, packages);
  app::Service service(ServiceConfig(dir, upstream.BaseUrl()));
  service.Start();
  std::string gateway = fmt::format("http://127.0.0.1:{}/registry/npm/", service.http_port());
  std::string direct = upstream.BaseUrl() + "/";

  std::vector<double> direct_s, gateway_warm_s, verdaccio_warm_s;
  double gateway_cold = NpmInstall(dir, tree, gateway);
  for (int i = 0; i < rounds; ++i) {  // interleaved: the machine's noise falls on both alike
    direct_s.push_back(NpmInstall(dir, tree, direct));
    gateway_warm_s.push_back(NpmInstall(dir, tree, gateway));
  }
  double verdaccio_cold = -1;
  pid_t verdaccio_pid = -1;
  if (!verdaccio.empty()) {
    int port = testing::FreeLoopbackPort();
    std::ofstream(dir / "verdaccio.yaml") << fmt::format(
        "storage: {}/verdaccio-storage\nuplinks:\n  upstream:\n    url: {}\n    cache: true\n"
        "packages:\n  '**':\n    access: $all\n    proxy: upstream\nlog: {{type: stdout, format: pretty, level: "
        "error}}\n",
        dir.string(), direct);
    verdaccio_pid = Spawn({"node", verdaccio + "/node_modules/verdaccio/bin/verdaccio", "-c",
                           (dir / "verdaccio.yaml").string(), "-l", fmt::format("127.0.0.1:{}", port)},
                          dir / "verdaccio.log");
    if (!WaitForPort(port, std::chrono::seconds(30))) {
      fmt::print(stderr, "gateway-install: Verdaccio did not start: {}\n",
                 ReadText((dir / "verdaccio.log").string()));
    } else {
      std::string registry = fmt::format("http://127.0.0.1:{}/", port);
      verdaccio_cold = NpmInstall(dir, tree, registry);
      for (int i = 0; i < rounds; ++i) verdaccio_warm_s.push_back(NpmInstall(dir, tree, registry));
    }
    Stop(verdaccio_pid);
  }
  service.Stop();
  fs::remove_all(dir);
  auto any_failed = [](const std::vector<double>& v) {
    return std::any_of(v.begin(), v.end(), [](double s) { return s < 0; });
  };
  if (gateway_cold < 0 || any_failed(direct_s) || any_failed(gateway_warm_s) || any_failed(verdaccio_warm_s))
    return 1;
  double d = Median(direct_s), g = Median(gateway_warm_s);
  fmt::print("gateway-install: npm install of a {}-package tree, empty npm cache, no lockfile; median of {}\n",
             packages, rounds);
  fmt::print("  straight from the replay upstream   {:.2f} s\n", d);
  fmt::print("  through the gateway, cold           {:.2f} s\n", gateway_cold);
  fmt::print("  through the gateway, warm           {:.2f} s   ({:.2f} x direct)\n", g, g / d);
  if (!verdaccio_warm_s.empty()) {
    double v = Median(verdaccio_warm_s);
    fmt::print("  through Verdaccio, cold             {:.2f} s\n", verdaccio_cold);
    fmt::print("  through Verdaccio, warm             {:.2f} s   (gateway / Verdaccio: cold {:.2f}, warm {:.2f})\n",
               v, gateway_cold / verdaccio_cold, g / v);
  }
  if (json)
    fmt::print(
        R"({{"bench":"gateway-install","packages":{},"direct_s":{:.2f},"gateway_cold_s":{:.2f},"gateway_warm_s":{:.2f},)"
        R"("verdaccio_cold_s":{:.2f},"verdaccio_warm_s":{:.2f}}})"
        "\n",
        packages, d, gateway_cold, g, verdaccio_cold, verdaccio_warm_s.empty() ? -1.0 : Median(verdaccio_warm_s));
  return 0;
}

}  // namespace pkgtrust::bench
