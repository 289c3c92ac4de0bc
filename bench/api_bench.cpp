// pkgtrust_bench api: known-package queries against the whole service over loopback.
// The service (the same app::Service `pkgtrust serve` runs) ingests N packages from the
// replay upstream (the recorded left-pad packument renamed per package), then wrk sends
// GET /v1/packages/npm/{random known name} over 64 keep-alive connections.
#include <fmt/format.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "app/config.hpp"
#include "app/service.hpp"
#include "bench/benches.hpp"
#include "support/replay_server.hpp"

namespace pkgtrust::bench {

namespace {

std::string LeftPadRenamed(const nlohmann::json& packument, const std::string& name) {
  nlohmann::json doc = packument;
  doc["name"] = name;
  doc["repository"] = {{"type", "git"}, {"url", "git+https://github.com/stevemao/left-pad.git"}};
  return doc.dump();
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// wrk's Lua: random known package per request; prints one JSON line when done.
constexpr const char* kWrkScript = R"lua(
local names = {}
for line in io.lines(os.getenv("PKGTRUST_BENCH_NAMES")) do names[#names + 1] = line end
request = function()
  return wrk.format("GET", "/v1/packages/npm/" .. names[math.random(#names)])
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests":%d,"duration_us":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,' ..
    '"non_2xx":%d,"socket_errors":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, e.status, e.connect + e.read + e.write + e.timeout))
end
)lua";

}  // namespace

int BenchApi(int packages, int seconds, int connections, int server_threads, bool json) {
  namespace fs = std::filesystem;
  fs::path dir = fs::temp_directory_path() / fmt::format("pkgtrust-bench-api-{}", ::getpid());
  fs::create_directories(dir);
  auto packument = nlohmann::json::parse(
      ReadFile(std::string(PKGTRUST_SOURCE_DIR) + "/tests/fixtures/registry/npm/left-pad.json"));
  testing::ReplayServer upstream(1);
  std::vector<std::string> names;
  std::ofstream names_file(dir / "names.txt");
  for (int i = 0; i < packages; ++i) {
    names.push_back(fmt::format("bench-package-{}", i));
    upstream.Add("GET", "/" + names.back(),
                 testing::ReplayResponse{200, {}, LeftPadRenamed(packument, names.back())});
    names_file << names.back() << "\n";
  }
  names_file.close();
  upstream.Add("GET", "/repos/stevemao/left-pad",
               testing::ReplayResponse{200, {}, R"({"full_name":"stevemao/left-pad","stargazers_count":1200,
                 "forks_count":300,"open_issues_count":10,"archived":true,"fork":false,
                 "created_at":"2014-03-01T00:00:00Z","pushed_at":"2018-05-01T00:00:00Z"})"});

  app::Config config = app::DefaultConfig();
  config.database.path = (dir / "bench.db").string();
  config.server.port = 0;
  config.server.threads = server_threads;
  config.scoring.popular_lists = {{"npm", "off"}, {"pypi", "off"}};
  config.log_level = core::LogLevel::kWarn;
  for (const char* name : {"npm", "npm_downloads", "pypi", "crates", "maven", "go", "github"})
    config.upstreams[name] = upstream.BaseUrl();
  app::Service service(config);
  service.Start();

  std::vector<store::EnqueueRequest> requests;
  for (const auto& name : names) requests.push_back({{core::Ecosystem::kNpm, name}});
  auto ingest_start = std::chrono::steady_clock::now();
  if (!service.pipeline().Submit(std::move(requests), "bench").ok()) return 1;
  while (true) {
    auto counts = service.store().CountByState();
    if (counts.ok() && (*counts)[core::PackageState::kComplete] == packages) break;
    if (std::chrono::steady_clock::now() - ingest_start > std::chrono::minutes(5)) {
      fmt::print(stderr, "api: the packages did not all complete within 5 minutes\n");
      return 1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  double ingest_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - ingest_start).count();

  std::ofstream(dir / "known.lua") << kWrkScript;
  std::string command = fmt::format(
      "PKGTRUST_BENCH_NAMES={} wrk -t2 -c{} -d{}s --latency -s {} http://127.0.0.1:{} 2>&1",
      (dir / "names.txt").string(), connections, seconds, (dir / "known.lua").string(), service.http_port());
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) return 1;
  std::string output;
  char buffer[4096];
  while (std::size_t n = fread(buffer, 1, sizeof buffer, pipe)) output.append(buffer, n);
  int status = pclose(pipe);
  service.Stop();
  fs::remove_all(dir);
  auto brace = output.rfind("\n{");
  if (status != 0 || brace == std::string::npos) {
    fmt::print(stderr, "api: wrk failed (is it installed? apt-get install wrk):\n{}", output);
    return 1;
  }
  auto result = nlohmann::json::parse(output.substr(brace + 1), nullptr, false);
  if (result.is_discarded()) return 1;
  double secs = result["duration_us"].get<double>() / 1e6;
  double qps = result["requests"].get<double>() / secs;
  fmt::print("api: {} packages ingested in {:.1f} s; wrk {} connections, {} s\n", packages, ingest_s,
             connections, seconds);
  fmt::print(
      "api: known-package queries {:.0f}/s, p50 {:.2f} ms, p90 {:.2f} ms, p99 {:.2f} ms, max {:.2f} ms, "
      "non-2xx {}, socket errors {}\n",
      qps, result["p50_us"].get<double>() / 1000, result["p90_us"].get<double>() / 1000,
      result["p99_us"].get<double>() / 1000, result["max_us"].get<double>() / 1000,
      result["non_2xx"].get<int>(), result["socket_errors"].get<int>());
  if (json)
    fmt::print(
        R"({{"bench":"api","packages":{},"connections":{},"per_s":{:.0f},"p50_ms":{:.2f},"p99_ms":{:.2f},)"
        R"("non_2xx":{},"socket_errors":{}}})"
        "\n",
        packages, connections, qps, result["p50_us"].get<double>() / 1000,
        result["p99_us"].get<double>() / 1000, result["non_2xx"].get<int>(),
        result["socket_errors"].get<int>());
  return result["non_2xx"].get<int>() == 0 ? 0 : 1;
}

}  // namespace pkgtrust::bench
