// 1,000 packages through three test stages over a bus that loses, duplicates and delays
// messages and loses acks: every package ends complete, and each stage commits each
// package exactly once per generation.
#include <catch2/catch.hpp>
#include <map>

#include "app/config.hpp"
#include "pkgtrust/bus/faulty_transport.hpp"
#include "pkgtrust/bus/memory_transport.hpp"
#include "pkgtrust/pipeline/pipeline.hpp"
#include "support/test_stages.hpp"
#include "support/test_support.hpp"

using namespace pkgtrust;
using namespace std::chrono_literals;

TEST_CASE("1000 packages complete exactly once per stage despite a faulty bus", "[integration]") {
  testing::TempDir dir;
  const core::Clock& clock = core::SystemClock::Instance();
  auto opened = store::Store::Open({.path = dir.File("faults.db")}, clock);
  REQUIRE(opened.ok());
  auto& db = **opened;
  bus::Topology topology = app::LoadTopologyFile(std::string(PKGTRUST_SOURCE_DIR) + "/config/topology.yaml");
  bus::MemoryTransport memory(topology, {.visibility_timeout = 2s, .max_receives = 0}, clock);
  bus::FaultyTransport faulty(memory, {.drop_publish = 0.05,
                                       .duplicate_publish = 0.10,
                                       .delay_publish = 0.10,
                                       .max_delay = 100ms,
                                       .drop_ack = 0.05,
                                       .seed = 2026});
  core::ThreadPoolExecutor executor(2);
  testing::TestStages stages(1ms);
  pipeline::Pipeline pipe(db, faulty, executor, clock,
                          {.interval = 1s, .stuck_after = 1s, .refresh_after = 0s, .batch_limit = 10'000});

  std::mutex mu;
  std::map<std::tuple<std::string, std::string, std::int64_t>, int> completions;  // (stage, package, gen)
  for (auto config : pipeline::DefaultStageConfigs()) {
    config.concurrency = 16;
    config.max_attempts = 1000;
    pipeline::Stage& stage = pipe.AddStage(config, stages.ForStage(config.name));
    stage.SetObserver([&](const pipeline::StageEvent& e) {
      if (e.kind != pipeline::StageEvent::Kind::kCompleted) return;
      std::lock_guard lock(mu);
      completions[{e.stage, e.key.ToString(), e.generation}]++;
    });
  }

  constexpr int kPackages = 1000;
  std::vector<core::PackageKey> keys;
  const core::Ecosystem ecosystems[] = {core::Ecosystem::kNpm, core::Ecosystem::kPypi,
                                        core::Ecosystem::kCrates};
  for (int i = 0; i < kPackages; ++i) keys.push_back({ecosystems[i % 3], "pkg-" + std::to_string(i)});
  pipe.Start();
  for (int start = 0; start < kPackages; start += 100) {
    std::vector<store::EnqueueRequest> batch;
    for (int i = start; i < start + 100; ++i) batch.push_back({keys[i], core::Priority::kRegular});
    REQUIRE(pipe.Submit(std::move(batch), "feed").ok());
  }
  // Users ask for some of them while they are queued: raised, not restarted.
  for (int i = 0; i < kPackages; i += 20)
    REQUIRE(pipe.SubmitOne({keys[i], core::Priority::kPriority, /*restart_finished=*/false}).ok());

  bool all_complete = testing::WaitUntil(
      [&] { return db.CountByState()->at(core::PackageState::kComplete) == kPackages; }, 180s);
  auto faults = faulty.Counts();
  auto reconciled = pipe.reconciler().Totals();
  pipe.Stop();
  db.Close();
  executor.Stop();
  INFO("dropped " << faults.dropped << ", duplicated " << faults.duplicated << ", delayed " << faults.delayed
                  << ", acks dropped " << faults.acks_dropped << ", re-published " << reconciled.republished);
  REQUIRE(all_complete);
  CHECK(faults.dropped > 0);
  CHECK(faults.duplicated > 0);
  CHECK(faults.delayed > 0);
  CHECK(faults.acks_dropped > 0);
  CHECK(reconciled.republished > 0);

  std::lock_guard lock(mu);
  const std::size_t recorded = completions.size();  // before the look-ups below add zeros
  int wrong = 0;
  for (const auto& key : keys) {
    auto rec = db.Get(key);
    REQUIRE(rec->has_value());
    CHECK((*rec)->generation == 1);
    int registry = completions[{"registry", key.ToString(), 1}];
    int repository = completions[{"repository", key.ToString(), 1}];
    int scoring = completions[{"scoring", key.ToString(), 1}];
    int expected_repository = testing::TestStages::HasRepository(key) ? 1 : 0;
    if (registry != 1 || scoring != 1 || repository != expected_repository) {
      ++wrong;
      UNSCOPED_INFO(key.ToString() << ": registry " << registry << ", repository " << repository
                                   << ", scoring " << scoring);
    }
    auto facts = db.GetFacts(key);
    CHECK(facts->size() == static_cast<std::size_t>(2 + expected_repository));
  }
  CHECK(wrong == 0);
  CHECK(recorded == static_cast<std::size_t>(kPackages * 2 + kPackages / 2));
}
