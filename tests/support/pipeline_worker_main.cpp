// A child process for the crash test: runs the pipeline with the test stages on a
// database until every package is complete. On an empty database it first submits
// --count packages. Usage:
//   pipeline_worker --db PATH --count N [--latency-ms L] [--concurrency C] [--timeout-s T]
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

#include "pkgtrust/bus/memory_transport.hpp"
#include "pkgtrust/core/log.hpp"
#include "pkgtrust/pipeline/pipeline.hpp"
#include "support/test_stages.hpp"

using namespace pkgtrust;
using namespace std::chrono_literals;

namespace {

bus::Topology SeedTopology() {
  bus::Topology t;
  auto add = [&](const char* name, const char* topic, const char* policy) {
    t.queues.push_back({name, {topic}, *bus::FilterPolicy::Parse(policy)});
  };
  add("priority_parse_package", "parse_registry", R"({"priority":["1"]})");
  add("regular_parse_package", "parse_registry", R"({"priority":["2"]})");
  add("priority_parse_repository", "parse_repo", R"({"priority":["1"],"repo_engine":["github"]})");
  add("regular_parse_repository", "parse_repo", R"({"priority":["2"],"repo_engine":["github"]})");
  add("priority_score_package", "score_package", R"({"priority":["1"]})");
  add("regular_score_package", "score_package", R"({"priority":["2"]})");
  return t;
}

}  // namespace

int main(int argc, char** argv) {
  std::string db_path;
  int count = 1000, latency_ms = 5, concurrency = 4, timeout_s = 120;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    if (flag == "--db")
      db_path = argv[i + 1];
    else if (flag == "--count")
      count = std::atoi(argv[i + 1]);
    else if (flag == "--latency-ms")
      latency_ms = std::atoi(argv[i + 1]);
    else if (flag == "--concurrency")
      concurrency = std::atoi(argv[i + 1]);
    else if (flag == "--timeout-s")
      timeout_s = std::atoi(argv[i + 1]);
  }
  if (db_path.empty()) {
    std::fprintf(stderr, "pipeline_worker: --db is required\n");
    return 2;
  }
  core::SetLogLevel(core::LogLevel::kWarn);
  const core::Clock& clock = core::SystemClock::Instance();
  auto opened = store::Store::Open({.path = db_path}, clock);
  if (!opened.ok()) {
    std::fprintf(stderr, "pipeline_worker: %s\n", opened.status().message().c_str());
    return 1;
  }
  auto& db = **opened;
  bus::MemoryTransport transport(SeedTopology(), {.visibility_timeout = 5s});
  core::ThreadPoolExecutor executor(2);
  testing::TestStages stages{std::chrono::milliseconds(latency_ms)};
  pipeline::Pipeline pipe(db, transport, executor, clock,
                          {.interval = 1s, .stuck_after = 1s, .refresh_after = 0s, .batch_limit = 10'000});
  for (auto config : pipeline::DefaultStageConfigs()) {
    config.concurrency = concurrency;
    pipe.AddStage(config, stages.ForStage(config.name));
  }

  auto counts = db.CountByState();
  std::int64_t total = 0;
  for (const auto& [state, n] : *counts) total += n;
  if (total == 0) {
    std::vector<store::EnqueueRequest> requests;
    for (int i = 0; i < count; ++i) requests.push_back({{core::Ecosystem::kNpm, "pkg-" + std::to_string(i)}});
    if (!pipe.Submit(std::move(requests), "worker").ok()) return 1;
  }
  pipe.Start();
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
  std::int64_t complete = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    complete = db.CountByState()->at(core::PackageState::kComplete);
    if (complete >= count) break;
    std::this_thread::sleep_for(20ms);
  }
  auto totals = pipe.reconciler().Totals();
  pipe.Stop();
  db.Close();
  executor.Stop();
  std::printf("complete=%lld republished=%lld\n", static_cast<long long>(complete),
              static_cast<long long>(totals.republished));
  return complete >= count ? 0 : 3;
}
