#include "pkgtrust/pipeline/stage.hpp"

#include <catch2/catch.hpp>

#include "pkgtrust/bus/memory_transport.hpp"
#include "pkgtrust/pipeline/pipeline.hpp"
#include "pkgtrust/pipeline/routing.hpp"
#include "support/test_stages.hpp"
#include "support/test_support.hpp"

using namespace pkgtrust;
using namespace std::chrono_literals;
using core::PackageState;
using core::Priority;

namespace {

bus::Topology RegistryTopology() {
  bus::Topology t;
  t.queues.push_back(
      {"priority_parse_package", {"parse_registry"}, *bus::FilterPolicy::Parse(R"({"priority":["1"]})")});
  t.queues.push_back(
      {"regular_parse_package", {"parse_registry"}, *bus::FilterPolicy::Parse(R"({"priority":["2"]})")});
  return t;
}

// One registry stage over a memory transport and a temp database, driven by a handler.
struct Harness {
  explicit Harness(pipeline::StageHandler& handler, pipeline::StageConfig config = {})
      : transport(RegistryTopology(), {.visibility_timeout = 30s, .max_receives = 0}) {
    auto opened = store::Store::Open({.path = dir.File("stage.db")}, core::SystemClock::Instance());
    REQUIRE(opened.ok());
    db = std::move(opened).value();
    config.name = "registry";
    config.state = PackageState::kPendingRegistry;
    config.priority_queue = "priority_parse_package";
    config.regular_queue = "regular_parse_package";
    pipe = std::make_unique<pipeline::Pipeline>(*db, transport, executor, core::SystemClock::Instance(),
                                                pipeline::ReconcilerConfig{.interval = 3600s});
    stage = &pipe->AddStage(config, handler);
    stage->SetObserver([this](const pipeline::StageEvent& e) {
      std::lock_guard lock(mu);
      events.push_back(e);
    });
  }
  ~Harness() {
    pipe->Stop();
    db->Close();
    executor.Stop();
  }
  void Submit(const std::string& name, Priority priority) {
    REQUIRE(pipe->SubmitOne({{core::Ecosystem::kNpm, name}, priority}).ok());
  }
  std::vector<pipeline::StageEvent> Events() {
    std::lock_guard lock(mu);
    return events;
  }
  std::size_t Count(pipeline::StageEvent::Kind kind) {
    auto all = Events();
    return std::count_if(all.begin(), all.end(), [&](const auto& e) { return e.kind == kind; });
  }

  testing::TempDir dir;
  bus::MemoryTransport transport;
  std::unique_ptr<store::Store> db;
  core::ThreadPoolExecutor executor{2};
  std::unique_ptr<pipeline::Pipeline> pipe;
  pipeline::Stage* stage = nullptr;
  std::mutex mu;
  std::vector<pipeline::StageEvent> events;
};

pipeline::StageResult NotFound() { return pipeline::StageResult::Advance(PackageState::kNotFound); }

class FuncHandler : public pipeline::StageHandler {
 public:
  explicit FuncHandler(
      std::function<void(const pipeline::WorkItem&, std::function<void(pipeline::StageResult)>)> f)
      : f_(std::move(f)) {}
  void Handle(const pipeline::WorkItem& item, std::function<void(pipeline::StageResult)> done) override {
    calls++;
    f_(item, std::move(done));
  }
  std::atomic<int> calls{0};

 private:
  std::function<void(const pipeline::WorkItem&, std::function<void(pipeline::StageResult)>)> f_;
};

}  // namespace

TEST_CASE("priority work goes first, regular work keeps its minimum share", "[pipeline][stage]") {
  FuncHandler handler([](const pipeline::WorkItem&, auto done) { done(NotFound()); });
  double share = GENERATE(0.0, 0.2);
  Harness h(handler, {.concurrency = 1, .regular_share = share, .receive_batch = 1});
  for (int i = 0; i < 60; ++i) h.Submit("regular-" + std::to_string(i), Priority::kRegular);
  for (int i = 0; i < 60; ++i) h.Submit("priority-" + std::to_string(i), Priority::kPriority);
  h.pipe->Start();
  REQUIRE(testing::WaitUntil([&] { return h.Count(pipeline::StageEvent::Kind::kCompleted) == 120; }, 30s));
  auto events = h.Events();
  int regular_in_first_50 = 0;
  for (int i = 0; i < 50; ++i) regular_in_first_50 += events[i].priority == Priority::kRegular ? 1 : 0;
  INFO("share " << share);
  if (share == 0.0) {
    CHECK(regular_in_first_50 == 0);
  } else {
    CHECK(regular_in_first_50 >= 8);
    CHECK(regular_in_first_50 <= 12);
  }
}

TEST_CASE("a stage never has more work in flight than its concurrency", "[pipeline][stage]") {
  testing::Timer timer;
  std::atomic<int> running{0}, peak{0};
  FuncHandler handler([&](const pipeline::WorkItem&, auto done) {
    int now = ++running;
    int seen = peak.load();
    while (now > seen && !peak.compare_exchange_weak(seen, now)) {
    }
    timer.Schedule(20ms, [&running, done = std::move(done)] {
      --running;
      done(NotFound());
    });
  });
  Harness h(handler, {.concurrency = 4});
  for (int i = 0; i < 40; ++i) h.Submit("c" + std::to_string(i), Priority::kRegular);
  h.pipe->Start();
  REQUIRE(testing::WaitUntil([&] { return h.Count(pipeline::StageEvent::Kind::kCompleted) == 40; }, 30s));
  CHECK(peak.load() == 4);
}

TEST_CASE("transient failures are retried, then the package goes to failed", "[pipeline][stage]") {
  FuncHandler handler([](const pipeline::WorkItem& item, auto done) {
    done(pipeline::StageResult::Retry("upstream 503 on attempt " + std::to_string(item.attempt)));
  });
  Harness h(handler, {.max_attempts = 3, .retry_base = 1ms, .retry_max = 5ms});
  h.Submit("flaky", Priority::kRegular);
  h.pipe->Start();
  REQUIRE(testing::WaitUntil([&] { return h.Count(pipeline::StageEvent::Kind::kFailed) == 1; }, 30s));
  CHECK(h.Count(pipeline::StageEvent::Kind::kRetried) == 2);
  CHECK(handler.calls == 3);
  auto rec = h.db->Get({core::Ecosystem::kNpm, "flaky"});
  REQUIRE(rec->has_value());
  CHECK((*rec)->state == PackageState::kFailed);
  CHECK((*rec)->attempts == 3);
  CHECK((*rec)->last_error == "upstream 503 on attempt 3");
  // The event comes before the ack: wait for the ack rather than race it.
  CHECK(testing::WaitUntil([&] { return h.transport.Stats().queues["regular_parse_package"].in_flight == 0; }, 10s));
}

TEST_CASE("a permanent failure goes to failed at once", "[pipeline][stage]") {
  FuncHandler handler(
      [](const pipeline::WorkItem&, auto done) { done(pipeline::StageResult::Fail("bad data")); });
  Harness h(handler);
  h.Submit("broken", Priority::kRegular);
  h.pipe->Start();
  REQUIRE(testing::WaitUntil([&] { return h.Count(pipeline::StageEvent::Kind::kFailed) == 1; }, 30s));
  CHECK(handler.calls == 1);
}

TEST_CASE("stale, malformed and duplicate messages are acked and dropped", "[pipeline][stage]") {
  testing::Timer timer;
  FuncHandler handler([&](const pipeline::WorkItem&, auto done) {
    timer.Schedule(50ms, [done = std::move(done)] { done(NotFound()); });
  });
  Harness h(handler, {.concurrency = 8});
  auto started = h.db->EnqueueSync({{core::Ecosystem::kNpm, "dup"}});
  REQUIRE(started.ok());
  bus::Message work = pipeline::BuildWorkMessage(started->record, "test");
  for (int i = 0; i < 5; ++i) REQUIRE(h.transport.Publish("parse_registry", work).ok());
  store::PackageRecord old_generation = started->record;
  old_generation.generation = 7;
  REQUIRE(h.transport.Publish("parse_registry", pipeline::BuildWorkMessage(old_generation, "stale")).ok());
  bus::Message garbage = work;
  garbage.body = "{not json";
  REQUIRE(h.transport.Publish("parse_registry", garbage).ok());
  garbage.body = R"({"ecosystem":"npm","name":"@@bad","generation":1})";
  REQUIRE(h.transport.Publish("parse_registry", garbage).ok());

  h.pipe->Start();
  REQUIRE(testing::WaitUntil(
      [&] {
        auto q = h.transport.Stats().queues["regular_parse_package"];
        return q.visible == 0 && q.in_flight == 0 && q.delayed == 0 && h.stage->Stats().in_flight == 0;
      },
      30s));
  CHECK(handler.calls == 1);
  CHECK(h.Count(pipeline::StageEvent::Kind::kCompleted) == 1);
  CHECK(h.Count(pipeline::StageEvent::Kind::kMalformed) == 2);
  CHECK(h.Count(pipeline::StageEvent::Kind::kDuplicate) + h.Count(pipeline::StageEvent::Kind::kStale) == 5);
}
