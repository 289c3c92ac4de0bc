// The popular-package backfill (pipeline/backfill.hpp): rank order across lists, the pace
// (work in flight, GitHub's budget), packages the store knows left alone; then with the
// whole service: a first start enqueues the list once, a restart nothing, two services on
// one store each package once, and feed and user work pass ahead of the backfill.
#include "pkgtrust/pipeline/backfill.hpp"

#include <fmt/format.h>

#include <catch2/catch.hpp>
#include <set>

#include "app/service.hpp"
#include "pkgtrust/bus/memory_transport.hpp"
#include "support/left_pad_upstream.hpp"
#include "support/replay_server.hpp"
#include "support/stage_topics.hpp"
#include "support/test_support.hpp"

using namespace pkgtrust;
using namespace std::chrono_literals;
using core::Ecosystem;
using core::PackageState;

namespace {

// A store and a pipeline without stages: submitted work waits in the memory transport.
struct Fixture {
  Fixture() : transport(testing::OneQueuePerStageTopic(), {}, clock) {
    auto opened = store::Store::Open({.path = dir.File("b.db")}, clock);
    REQUIRE(opened.ok());
    db = std::move(opened).value();
    pipeline =
        std::make_unique<pipeline::Pipeline>(*db, transport, executor, clock, pipeline::ReconcilerConfig{});
  }
  std::unique_ptr<pipeline::Backfill> Make(pipeline::BackfillConfig config) {
    return std::make_unique<pipeline::Backfill>(std::move(config), *db, *pipeline, clock,
                                                [this] { return budget; });
  }
  // The names in pending_registry, in the order the store started them.
  std::vector<std::string> Pending() {
    auto records = db->ListByState(PackageState::kPendingRegistry, 0, 100);
    REQUIRE(records.ok());
    std::vector<std::string> names;
    for (const auto& r : *records) names.push_back(r.key.name);
    std::sort(names.begin(), names.end());
    return names;
  }
  void Finish(const std::string& name, Ecosystem ecosystem = Ecosystem::kNpm) {
    REQUIRE(
        db->TransitionSync({{ecosystem, name}, PackageState::kPendingRegistry, 1, PackageState::kNotFound})
            .ok());
  }

  testing::TempDir dir;
  core::ManualClock clock;
  bus::MemoryTransport transport;
  core::ThreadPoolExecutor executor{1};
  std::unique_ptr<store::Store> db;
  std::unique_ptr<pipeline::Pipeline> pipeline;
  pipeline::GitHubBudget budget;
};

std::vector<std::string> Sorted(std::vector<std::string> names) {
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace

TEST_CASE("backfill: the lists by rank, only while fewer than max_pending are in flight",
          "[pipeline][backfill]") {
  Fixture f;
  auto backfill = f.Make({.lists = {{Ecosystem::kNpm, {"a", "b", "c", "d", "e"}, "npm list"},
                                    {Ecosystem::kCrates, {"x", "y"}, "crates list"}},
                          .max_pending = 3});
  CHECK(backfill->Progress().listed == 7);
  REQUIRE(backfill->Step().value() == 3);  // a, x, b: the first of each list, then the second
  CHECK(f.Pending() == Sorted({"a", "x", "b"}));
  CHECK(backfill->Step().value() == 0);  // three in flight: no room
  f.Finish("a");
  REQUIRE(backfill->Step().value() == 1);  // one finished: room for one, the next by rank
  CHECK(f.Pending() == Sorted({"x", "b", "y"}));
  f.Finish("x", Ecosystem::kCrates);
  f.Finish("b");
  f.Finish("y", Ecosystem::kCrates);
  REQUIRE(backfill->Step().value() == 3);
  CHECK(f.Pending() == Sorted({"c", "d", "e"}));
  CHECK(backfill->Progress().done);
  CHECK(backfill->Progress().enqueued == 7);
  CHECK(backfill->Step().value() == 0);

  // top: the first N of each list; an invalid name is skipped and counted.
  Fixture g;
  auto top = g.Make({.lists = {{Ecosystem::kNpm, {"p", "Not Valid", "q"}, "npm list"}}, .top = 2});
  CHECK(top->Progress().listed == 1);
  CHECK(top->Progress().invalid == 1);
  CHECK(top->Step().value() == 1);
  CHECK(g.Pending() == std::vector<std::string>{"p"});
}

TEST_CASE("backfill: waits for GitHub's reset below the reserve share of its budget",
          "[pipeline][backfill]") {
  Fixture f;
  auto backfill = f.Make({.lists = {{Ecosystem::kNpm, {"a", "b", "c", "d", "e", "f"}, "npm list"}},
                          .max_pending = 100,
                          .github_reserve_share = 0.2,
                          .batch = 1});
  f.budget = {.remaining = 1000};
  CHECK(backfill->Step().value() == 1);
  f.budget = {.remaining = 200};  // 0.2 of the most seen (1000): not below it
  CHECK(backfill->Step().value() == 1);
  f.budget = {.remaining = 199};
  CHECK(backfill->Step().value() == 0);
  CHECK(backfill->Progress().waiting_for_github);
  f.budget = {.remaining = 0, .held_until = f.clock.NowMillis() + 60'000};  // spent: held until the reset
  CHECK(backfill->Step().value() == 0);
  f.clock.Advance(60'001);
  f.budget = {.remaining = 60};  // a new window (no token: 60 an hour): its own maximum counts
  CHECK(backfill->Step().value() == 1);
  CHECK_FALSE(backfill->Progress().waiting_for_github);
  f.budget = {.remaining = -1};  // no GitHub answer yet
  CHECK(backfill->Step().value() == 1);
  CHECK(backfill->Progress().submitted == 4);
}

TEST_CASE("backfill: the shipped lists, most popular first", "[pipeline][backfill]") {
  auto lists = pipeline::ShippedPopularLists();
  REQUIRE(lists.size() == 2);
  CHECK(lists[0].ecosystem == Ecosystem::kNpm);
  CHECK(lists[0].names.size() == 10'000);
  CHECK(lists[0].names.front() == "semver");  // the most downloads
  CHECK(lists[1].ecosystem == Ecosystem::kPypi);
  CHECK(lists[1].names.size() == 14'985);  // the file's rows (data/popular/SOURCE.md)
  CHECK(lists[1].names.front() == "boto3");  // rank 1
  CHECK_THAT(
      pipeline::ParsePopularList(Ecosystem::kNpm, "name\tdownloads\na\t1\nb\n", "x.tsv").status().message(),
      Catch::Contains("x.tsv:3: expected name<TAB>number"));
}

TEST_CASE("backfill: a package the store knows is left as it is", "[pipeline][backfill]") {
  Fixture f;
  REQUIRE(f.db->EnqueueSync({{Ecosystem::kNpm, "known"}}).ok());
  f.Finish("known");
  auto backfill = f.Make({.lists = {{Ecosystem::kNpm, {"known", "new"}, "npm list"}}});
  REQUIRE(backfill->Step().value() == 2);
  CHECK(backfill->Progress().enqueued == 1);
  CHECK(backfill->Progress().known == 1);
  auto known = f.db->Get({Ecosystem::kNpm, "known"});
  REQUIRE(known.ok());
  CHECK((*known)->state == PackageState::kNotFound);  // not restarted
  CHECK((*known)->generation == 1);
  std::string metrics;
  backfill->AppendPrometheus(metrics);
  CHECK_THAT(metrics, Catch::Contains("pkgtrust_backfill_packages{state=\"enqueued\"} 1"));
  CHECK_THAT(metrics, Catch::Contains("pkgtrust_backfill_packages{state=\"known\"} 1"));
  CHECK_THAT(metrics, Catch::Contains("pkgtrust_backfill_done 1"));
}

namespace {

constexpr int kListed = 30;

// The service with a backfill of bf-0 ... bf-29 (left-pad's packument under each name).
app::Config BackfillConfig(const testing::TempDir& dir, const testing::ReplayServer& upstream) {
  app::Config config = app::DefaultConfig();
  config.database.path = dir.File("backfill.db");
  config.server.port = 0;
  for (auto& [name, url] : config.upstreams) url = upstream.BaseUrl();
  config.log_level = core::LogLevel::kWarn;
  std::string list = "name\tdownloads\n";
  for (int i = 0; i < kListed; ++i) list += fmt::format("bf-{}\t{}\n", i, 1000 - i);
  testing::WriteText(dir.File("list.tsv"), list);
  config.index.popular = true;
  config.index.lists = {{"npm", dir.File("list.tsv")}, {"pypi", "off"}};
  config.index.max_pending = 8;
  config.index.interval = 20ms;
  return config;
}

std::int64_t Complete(store::Store& db) {
  auto counts = db.CountByState();
  return counts.ok() && counts->contains(PackageState::kComplete) ? counts->at(PackageState::kComplete) : 0;
}

}  // namespace

TEST_CASE("backfill: a first start enqueues the list once, a restart nothing new", "[pipeline][backfill]") {
  testing::TempDir dir;
  testing::ReplayServer upstream(4);
  testing::ServeLeftPadUnderEveryName(upstream, "bf-");
  app::Config config = BackfillConfig(dir, upstream);
  {
    app::Service service(config);
    service.Start();
    REQUIRE(testing::WaitUntil([&] { return Complete(service.store()) == kListed; }, 60s));
    REQUIRE(service.backfill() != nullptr);
    CHECK(service.backfill()->Progress().done);
    CHECK(service.backfill()->Progress().enqueued == kListed);
    CHECK(service.backfill()->Progress().known == 0);
    service.Stop();
  }
  app::Service again(config);
  again.Start();
  REQUIRE(testing::WaitUntil([&] { return again.backfill()->Progress().done; }, 30s));
  CHECK(again.backfill()->Progress().enqueued == 0);
  CHECK(again.backfill()->Progress().known == kListed);
  auto records = again.store().ListByState(PackageState::kComplete, 0, 100);
  REQUIRE(records.ok());
  CHECK(records->size() == kListed);
  for (const auto& record : *records) CHECK(record.generation == 1);  // each run once
  again.Stop();
}

TEST_CASE("backfill: two services on one store enqueue each package once", "[pipeline][backfill]") {
  testing::TempDir dir;
  testing::ReplayServer upstream(4);
  testing::ServeLeftPadUnderEveryName(upstream, "bf-");
  app::Config config = BackfillConfig(dir, upstream);
  app::Service a(config), b(config);
  a.Start();
  b.Start();
  REQUIRE(testing::WaitUntil([&] { return a.backfill()->Progress().done && b.backfill()->Progress().done; },
                             60s));
  REQUIRE(testing::WaitUntil([&] { return Complete(a.store()) == kListed; }, 60s));
  auto pa = a.backfill()->Progress(), pb = b.backfill()->Progress();
  CHECK(pa.enqueued + pb.enqueued == kListed);
  CHECK(pa.known + pb.known == kListed);  // what one enqueued, the other found known
  auto records = a.store().ListByState(PackageState::kComplete, 0, 100);
  REQUIRE(records.ok());
  CHECK(records->size() == kListed);
  for (const auto& record : *records) CHECK(record.generation == 1);
  b.Stop();
  a.Stop();
}

TEST_CASE("backfill: feed and user work pass ahead of it", "[pipeline][backfill]") {
  testing::TempDir dir;
  testing::ReplayServer upstream(4);
  testing::ServeLeftPadUnderEveryName(upstream, "bf-");
  // Every registry answer takes 100 ms and the registry stage reads two at a time: the
  // backfill's 30 packages take a while, and what comes later must not wait for them all.
  upstream.SetFaults({.latency_median = 100ms, .latency_p99 = 120ms});
  app::Config config = BackfillConfig(dir, upstream);
  for (auto& stage : config.stages)
    if (stage.name == "registry") stage.concurrency = 2;
  app::Service service(config);
  service.Start();
  REQUIRE(testing::WaitUntil([&] { return service.backfill()->Progress().submitted >= 8; }, 30s));
  store::EnqueueRequest feed{.key = {Ecosystem::kNpm, "bf-feed"}};  // as the webhook submits
  store::EnqueueRequest user{.key = {Ecosystem::kNpm, "bf-user"}, .priority = core::Priority::kPriority};
  REQUIRE(service.pipeline().SubmitOne(feed).ok());
  REQUIRE(service.pipeline().SubmitOne(user).ok());
  REQUIRE(testing::WaitUntil([&] { return Complete(service.store()) == kListed + 2; }, 90s));
  // The order the runs finished in: the change log.
  auto changes = service.store().ReadChanges(0, 1000);
  REQUIRE(changes.ok());
  int backfill_before_feed = -1, backfill_before_user = -1, backfill_done = 0;
  for (const auto& change : *changes) {
    if (change.state != PackageState::kComplete) continue;
    if (change.key.name == "bf-feed")
      backfill_before_feed = backfill_done;
    else if (change.key.name == "bf-user")
      backfill_before_user = backfill_done;
    else
      backfill_done++;
  }
  INFO("backfill packages finished before the feed package: "
       << backfill_before_feed << ", before the user's: " << backfill_before_user);
  CHECK(backfill_done == kListed);
  // Without the pace the feed package would queue behind all 30; with max_pending 8 at most
  // the 8 in flight when it came go first (a few more finish while it is read).
  CHECK(backfill_before_feed >= 0);
  CHECK(backfill_before_feed <= 12);
  // The user's package goes ahead of what waits: only what the stages were already reading.
  CHECK(backfill_before_user >= 0);
  CHECK(backfill_before_user <= 5);
  service.Stop();
}

TEST_CASE("pkgtrust backfill: once from the command line, then nothing new; usage errors",
          "[pipeline][backfill]") {
  testing::TempDir dir;
  testing::ReplayServer upstream(4);
  testing::ServeLeftPadUnderEveryName(upstream, "bf-");
  std::string list = "name\tdownloads\n";
  for (int i = 0; i < 12; ++i) list += fmt::format("bf-{}\t{}\n", i, 1000 - i);
  testing::WriteText(dir.File("list.tsv"), list);
  std::string yaml = fmt::format("database:\n  path: {}\nupstreams:\n", dir.File("cli.db"));
  for (const char* name : {"npm", "npm_downloads", "pypi", "pypi_files", "crates", "maven", "go", "github"})
    yaml += fmt::format("  {}: \"{}\"\n", name, upstream.BaseUrl());
  yaml += "index:\n  max_pending: 4\n  interval_ms: 20\n";
  testing::WriteText(dir.File("cli.yaml"), yaml);
  const std::string backfill = std::string(PKGTRUST_BINARY) + " backfill --config " + dir.File("cli.yaml");

  // Each run's summary, and its exit status 0.
  auto run = [&](const std::string& options, const std::string& summary) {
    auto done = testing::RunCommand(backfill + options);
    INFO(done.output);
    CHECK(done.exit_code == 0);
    CHECK_THAT(done.output, Catch::Contains(summary));
  };
  const std::string from_file = " --ecosystem npm --list " + dir.File("list.tsv");
  run(from_file + " --top 10",
      "backfill: 10 listed, 10 enqueued (10 complete, 0 not found, 0 failed), 0 already known");
  run(from_file, "backfill: 12 listed, 2 enqueued (2 complete, 0 not found, 0 failed), 10 already known");

  auto no_ecosystem = testing::RunCommand(backfill + " --list " + dir.File("list.tsv"));
  CHECK(no_ecosystem.exit_code == 2);
  CHECK_THAT(no_ecosystem.output, Catch::Contains("--list needs --ecosystem"));
  auto zero = testing::RunCommand(backfill + " --top 0");
  CHECK(zero.exit_code == 2);
  CHECK_THAT(zero.output, Catch::Contains("--top takes a whole number above 0"));
  auto crates = testing::RunCommand(backfill + " --ecosystem crates");
  CHECK(crates.exit_code == 2);
  CHECK_THAT(crates.output, Catch::Contains("no crates list is configured"));
}
