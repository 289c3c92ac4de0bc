// PackageLookup on its own: a run that another process finishes (no stage event reaches
// this one) still answers a waiting lookup when recheck_interval is set.
#include "pkgtrust/pipeline/package_lookup.hpp"

#include <catch2/catch.hpp>
#include <future>

#include "pkgtrust/bus/memory_transport.hpp"
#include "support/test_support.hpp"

using namespace pkgtrust;
using namespace std::chrono_literals;

namespace {

struct LookupUnderTest {
  explicit LookupUnderTest(std::chrono::milliseconds recheck) : transport(bus::Topology{}, {}) {
    auto opened = store::Store::Open({.path = dir.File("lookup.db")}, core::SystemClock::Instance());
    REQUIRE(opened.ok());
    store = std::move(opened).value();
    // No stages: nothing in this process runs the work, as when another host takes it.
    pipeline =
        std::make_unique<pipeline::Pipeline>(*store, transport, executor, core::SystemClock::Instance(),
                                             pipeline::ReconcilerConfig{.interval = 3600s});
    lookup =
        std::make_unique<pipeline::PackageLookup>(pipeline::LookupConfig{.recheck_interval = recheck}, *store,
                                                  *pipeline, executor, core::SystemClock::Instance());
  }
  // A lookup for `key` with a long wait, once its submit has committed; its answer comes
  // through the future.
  std::future<pipeline::LookupAnswer> WaitFor(const core::PackageKey& key) {
    auto answered = std::make_shared<std::promise<pipeline::LookupAnswer>>();
    lookup->Lookup({key, ""}, 600s, "test",
                   [answered](pipeline::LookupAnswer answer) { answered->set_value(std::move(answer)); });
    REQUIRE(testing::WaitUntil(
        [&] { return lookup->GetStats().waiting == 1 && (*store->Get(key)).has_value(); }, 30s));
    return answered->get_future();
  }
  // Finishes the run as another process would: in the store, with no stage event here.
  void FinishInStore(const core::PackageKey& key) {
    auto record = store->Get(key);
    REQUIRE((*record)->state == core::PackageState::kPendingRegistry);
    REQUIRE(store
                ->TransitionSync({key, core::PackageState::kPendingRegistry, (*record)->generation,
                                  core::PackageState::kNotFound})
                .ok());
  }
  ~LookupUnderTest() {
    lookup->StopWaiting();
    store->Close();
    executor.Stop();
  }
  testing::TempDir dir;
  bus::MemoryTransport transport;
  core::ThreadPoolExecutor executor{2};
  std::unique_ptr<store::Store> store;
  std::unique_ptr<pipeline::Pipeline> pipeline;
  std::unique_ptr<pipeline::PackageLookup> lookup;
};

}  // namespace

TEST_CASE("a lookup waiting on a run another process finishes is answered by the recheck", "[pipeline]") {
  LookupUnderTest sut(20ms);
  const core::PackageKey key{core::Ecosystem::kNpm, "finished-elsewhere"};
  auto answered = sut.WaitFor(key);
  sut.FinishInStore(key);
  // Without the recheck it would be answered only at its 600 s deadline.
  REQUIRE(answered.wait_for(60s) == std::future_status::ready);
  CHECK(answered.get().kind == pipeline::LookupAnswer::Kind::kNotFound);
  CHECK(sut.lookup->GetStats().waiting == 0);
  CHECK(sut.lookup->GetStats().timeouts == 0);
}

TEST_CASE("without a recheck, only a stage event of this process wakes a lookup", "[pipeline]") {
  LookupUnderTest sut(0ms);
  const core::PackageKey key{core::Ecosystem::kNpm, "finished-here"};
  auto answered = sut.WaitFor(key);
  sut.FinishInStore(key);
  CHECK(sut.lookup->GetStats().waiting == 1);  // still waiting: nothing told it
  pipeline::StageEvent event;
  event.kind = pipeline::StageEvent::Kind::kCompleted;
  event.key = key;
  event.to = core::PackageState::kNotFound;
  sut.lookup->OnStageEvent(event);
  REQUIRE(answered.wait_for(60s) == std::future_status::ready);
  CHECK(answered.get().kind == pipeline::LookupAnswer::Kind::kNotFound);
}
