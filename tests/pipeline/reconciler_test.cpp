#include "pkgtrust/pipeline/reconciler.hpp"

#include <catch2/catch.hpp>
#include <future>

#include "pkgtrust/bus/memory_transport.hpp"
#include "pkgtrust/pipeline/routing.hpp"
#include "support/stage_topics.hpp"
#include "support/test_support.hpp"

using namespace pkgtrust;
using namespace std::chrono_literals;
using core::PackageState;

namespace {

struct Fixture {
  Fixture() : transport(testing::OneQueuePerStageTopic(), {}, clock) {
    auto opened = store::Store::Open({.path = dir.File("r.db")}, clock);
    REQUIRE(opened.ok());
    db = std::move(opened).value();
    reconciler = std::make_unique<pipeline::Reconciler>(
        pipeline::ReconcilerConfig{
            .interval = 1s, .stuck_after = 60s, .refresh_after = 3600s, .batch_limit = 100},
        *db, transport, clock);
  }
  core::PackageKey Key(const char* name) { return {core::Ecosystem::kCrates, name}; }
  std::vector<bus::Delivery> Drain(const char* queue) { return transport.Receive(queue, 100); }

  testing::TempDir dir;
  core::ManualClock clock;
  bus::MemoryTransport transport;
  std::unique_ptr<store::Store> db;
  std::unique_ptr<pipeline::Reconciler> reconciler;
};

}  // namespace

TEST_CASE("stuck packages are re-published once per stuck period", "[pipeline][reconciler]") {
  Fixture f;
  REQUIRE(f.db->EnqueueSync({f.Key("lost")}).ok());  // committed, but its message was never published
  REQUIRE(f.db->EnqueueSync({f.Key("busy")}).ok());
  REQUIRE(f.db->TransitionSync(
                  {f.Key("busy"), PackageState::kPendingRegistry, 1, PackageState::kPendingRepository})
              .ok());
  CHECK(f.reconciler->RunOnce().republished == 0);
  f.clock.Advance(61'000);
  CHECK(f.reconciler->RunOnce().republished == 2);
  auto registry = f.Drain("parse_registry");
  auto repo = f.Drain("parse_repo");
  REQUIRE(registry.size() == 1);
  REQUIRE(repo.size() == 1);
  auto work = pipeline::DecodeWorkMessage(registry[0].message->body);
  REQUIRE(work.ok());
  CHECK(work->key.name == "lost");
  CHECK(work->generation == 1);
  CHECK(repo[0].message->attributes.Find("repo_engine")->value == "github");
  // Touched: not re-published again until another stuck period passes.
  REQUIRE(testing::WaitUntil([&] { return f.reconciler->RunOnce().republished == 0; }, 5s));
  f.clock.Advance(61'000);
  CHECK(f.reconciler->RunOnce().republished == 2);
}

TEST_CASE("failed packages are retried after their backoff", "[pipeline][reconciler]") {
  Fixture f;
  REQUIRE(f.db->EnqueueSync({f.Key("bad")}).ok());
  std::promise<core::Result<store::TransitionResult>> failed;
  f.db->RecordFailure(
      {f.Key("bad"), PackageState::kPendingRegistry, 1, "registry 500", true, 10'000, 100'000},
      [&](auto r) { failed.set_value(std::move(r)); });
  REQUIRE(failed.get_future().get().ok());
  CHECK(f.reconciler->RunOnce().retried == 0);
  f.clock.Advance(10'000);
  CHECK(f.reconciler->RunOnce().retried == 1);
  auto rec = f.db->Get(f.Key("bad"));
  CHECK((*rec)->state == PackageState::kPendingRegistry);
  CHECK((*rec)->generation == 2);
  auto msgs = f.Drain("parse_registry");
  REQUIRE(msgs.size() == 1);
  CHECK(msgs[0].message->attributes.Find("priority")->value == "2");
}

TEST_CASE("stale complete packages are refreshed at regular priority", "[pipeline][reconciler]") {
  Fixture f;
  REQUIRE(f.db->EnqueueSync({f.Key("done"), core::Priority::kPriority}).ok());
  REQUIRE(
      f.db->TransitionSync({f.Key("done"), PackageState::kPendingRegistry, 1, PackageState::kPendingScore})
          .ok());
  REQUIRE(
      f.db->TransitionSync({f.Key("done"), PackageState::kPendingScore, 1, PackageState::kComplete}).ok());
  f.clock.Advance(3'599'000);
  CHECK(f.reconciler->RunOnce().refreshed == 0);
  f.clock.Advance(2'000);
  CHECK(f.reconciler->RunOnce().refreshed == 1);
  auto rec = f.db->Get(f.Key("done"));
  CHECK((*rec)->generation == 2);
  CHECK((*rec)->priority == core::Priority::kRegular);
  CHECK(f.Drain("parse_registry").size() == 1);
}

TEST_CASE("at start the work of every in-flight package is published again, finished ones are left",
          "[pipeline][reconciler]") {
  Fixture f;
  // More packages than one listing page (batch_limit 100), in every pending state.
  for (int i = 0; i < 150; ++i) REQUIRE(f.db->EnqueueSync({f.Key(("p" + std::to_string(i)).c_str())}).ok());
  REQUIRE(
      f.db->TransitionSync({f.Key("p1"), PackageState::kPendingRegistry, 1, PackageState::kPendingRepository})
          .ok());
  REQUIRE(f.db->TransitionSync({f.Key("p2"), PackageState::kPendingRegistry, 1, PackageState::kPendingScore})
              .ok());
  REQUIRE(
      f.db->TransitionSync({f.Key("p3"), PackageState::kPendingRegistry, 1, PackageState::kNotFound}).ok());
  CHECK(f.reconciler->RepublishInFlight() == 149);
  std::size_t registry = 0;
  for (auto batch = f.Drain("parse_registry"); !batch.empty(); batch = f.Drain("parse_registry"))
    registry += batch.size();
  CHECK(registry == 147);
  CHECK(f.Drain("parse_repo").size() == 1);
  CHECK(f.Drain("score_package").size() == 1);
}

TEST_CASE("each pass compacts the change log by count and age", "[pipeline][reconciler]") {
  Fixture f;
  f.reconciler = std::make_unique<pipeline::Reconciler>(
      pipeline::ReconcilerConfig{.interval = 1s,
                                 .stuck_after = 60s,
                                 .refresh_after = 0s,
                                 .batch_limit = 100,
                                 .change_log_max_changes = 3,
                                 .change_log_max_age = 10s},
      *f.db, f.transport, f.clock);
  for (const char* name : {"a", "b", "c", "d", "e"}) {
    REQUIRE(f.db->EnqueueSync({f.Key(name)}).ok());
    REQUIRE(f.db->TransitionSync({f.Key(name), PackageState::kPendingRegistry, 1, PackageState::kNotFound}).ok());
  }
  CHECK(f.reconciler->RunOnce().changes_compacted == 2);  // by count: 3 stay
  CHECK(f.db->GetChangeLogBounds()->first == 3);
  f.clock.Advance(11'000);
  CHECK(f.reconciler->RunOnce().changes_compacted == 3);  // by age: all are older than 10 s
  auto bounds = f.db->GetChangeLogBounds();
  CHECK(bounds->last == 5);
  CHECK(bounds->first == 6);
  CHECK(f.reconciler->Totals().changes_compacted == 5);
}
