// Several stores on one database, as several processes (or hosts) share it: part of the
// conformance suite, so each runs on SQLite (one file) and on PostgreSQL. The [postgres]
// ones need a server: LISTEN/NOTIFY across connections and a restart of the server.
#include <fmt/format.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <map>
#include <set>
#include <thread>

#include "pkgtrust/store/store.hpp"
#include "support/store_under_test.hpp"
#include "support/test_support.hpp"

using namespace pkgtrust;
using core::PackageState;
using store::TransitionOutcome;

namespace {

core::PackageKey Pypi(const std::string& name) { return {core::Ecosystem::kPypi, name}; }

// Runs `name` through to complete with a score of `score`.
void Finish(store::Store& s, const std::string& name, double score) {
  auto started = s.EnqueueSync({Pypi(name)});
  REQUIRE(started.ok());
  std::int64_t generation = started->record.generation;
  REQUIRE(s.TransitionSync(
               {Pypi(name), PackageState::kPendingRegistry, generation, PackageState::kPendingScore, {}})
              ->outcome == TransitionOutcome::kApplied);
  std::string report = R"({"score":)" + std::to_string(score) + R"(,"flags":{}})";
  REQUIRE(s.TransitionSync({Pypi(name),
                            PackageState::kPendingScore,
                            generation,
                            PackageState::kComplete,
                            {{"score", report}}})
              ->outcome == TransitionOutcome::kApplied);
}

}  // namespace

TEST_CASE("two stores on one database claim each stuck package once", "[store]") {
  testing::StoreUnderTest db;
  core::ManualClock clock;
  auto a = db.Open(clock);
  auto b = db.Open(clock);
  constexpr int kPackages = 300;
  std::vector<store::EnqueueRequest> requests;
  for (int i = 0; i < kPackages; ++i) requests.push_back({Pypi("stuck-" + std::to_string(i))});
  REQUIRE(a->EnqueueManySync(requests).ok());
  clock.Advance(60'000);
  core::Millis since = clock.NowMillis() - 30'000;

  // Both claim at once, in small batches, until nothing is left.
  std::map<std::string, int> claims;
  std::mutex mu;
  std::atomic<int> by_a{0}, by_b{0}, errors{0};
  // No Catch assertions on these threads (they are not thread-safe): errors are counted.
  auto claimer = [&](store::Store& s, std::atomic<int>& count) {
    while (true) {
      auto claimed = s.ClaimStuckSync(since, 7);
      if (!claimed.ok()) {
        errors++;
        return;
      }
      if (claimed->empty()) return;
      std::lock_guard lock(mu);
      for (const auto& record : *claimed) claims[record.key.name]++;
      count += static_cast<int>(claimed->size());
    }
  };
  std::thread ta([&] { claimer(*a, by_a); });
  std::thread tb([&] { claimer(*b, by_b); });
  ta.join();
  tb.join();
  CHECK(errors == 0);
  CHECK(claims.size() == kPackages);
  CHECK(by_a + by_b == kPackages);  // nobody claimed twice
  for (const auto& [name, count] : claims) {
    INFO(name);
    CHECK(count == 1);
  }
  // A claim marks the package re-published: not stuck again until stuck_after has passed.
  CHECK(a->ClaimStuckSync(since, 1000)->empty());
  CHECK(a->ClaimStuckSync(clock.NowMillis() + 1, 1000)->size() == kPackages);
}

TEST_CASE("a reader of the change log never skips a change committed by another store", "[store]") {
  testing::StoreUnderTest db;
  core::ManualClock clock;
  auto reader = db.Open(clock);
  constexpr int kWriters = 3, kPerWriter = 150;
  std::vector<std::unique_ptr<store::Store>> writers;
  for (int w = 0; w < kWriters; ++w) writers.push_back(db.Open(clock));

  // Each writer finishes its packages with concurrent asynchronous transitions (so batches
  // of different stores interleave); the reader follows the log by offset meanwhile.
  std::atomic<int> writers_done{0}, errors{0};
  std::vector<std::thread> threads;
  for (int w = 0; w < kWriters; ++w)
    threads.emplace_back([&, w] {
      store::Store& s = *writers[w];
      std::vector<store::EnqueueRequest> requests;
      for (int i = 0; i < kPerWriter; ++i) requests.push_back({Pypi(fmt::format("w{}-{}", w, i))});
      if (!s.EnqueueManySync(requests).ok()) errors++;
      std::atomic<int> finished{0};
      for (int i = 0; i < kPerWriter; ++i)
        s.Transition({Pypi(fmt::format("w{}-{}", w, i)),
                      PackageState::kPendingRegistry,
                      1,
                      PackageState::kNotFound,
                      {}},
                     [&](core::Result<store::TransitionResult> r) {
                       if (!r.ok() || r->outcome != TransitionOutcome::kApplied) errors++;
                       finished++;
                     });
      if (!testing::WaitUntil([&] { return finished.load() == kPerWriter; }, std::chrono::seconds(60)))
        errors++;
      writers_done++;
    });
  std::set<std::string> seen;
  std::int64_t after = 0;
  int duplicates = 0;
  auto read_some = [&] {
    auto changes = reader->ReadChanges(after, 50);
    REQUIRE(changes.ok());
    for (const auto& change : *changes) {
      CHECK(change.offset > after);
      after = change.offset;
      if (!seen.insert(change.key.name).second) duplicates++;
    }
  };
  while (writers_done.load() < kWriters) read_some();
  for (auto& t : threads) t.join();
  read_some();
  read_some();
  CHECK(errors == 0);
  CHECK(duplicates == 0);
  CHECK(seen.size() == kWriters * kPerWriter);  // fails when a change was committed below `after`
  auto bounds = reader->GetChangeLogBounds();
  REQUIRE(bounds.ok());
  CHECK(bounds->last == kWriters * kPerWriter);
  CHECK(after == bounds->last);
}

TEST_CASE("a change committed through one PostgreSQL store wakes the change listener of another",
          "[store][postgres]") {
  testing::StoreUnderTest db(true);
  core::ManualClock clock;
  std::atomic<int> woken{0};  // declared before the stores: their threads may call the listener until closed
  auto watcher = db.Open(clock);
  auto writer = db.Open(clock);
  watcher->SetChangeListener([&] { woken++; });
  Finish(*writer, "far-away", 6.5);
  REQUIRE(testing::WaitUntil([&] { return woken.load() >= 1; }, std::chrono::seconds(5)));
  auto changes = watcher->ReadChanges(0, 10);
  REQUIRE(changes.ok());
  REQUIRE(changes->size() == 1);
  CHECK(changes->front().key.name == "far-away");
  CHECK(woken == 1);
  // Enqueues and steps are no change: no notification. Notifications come in commit order
  // on the listener's connection, so had these notified, the count would be past 3 by the
  // time the third run's arrives.
  REQUIRE(writer->EnqueueSync({Pypi("pending-only")}).ok());
  REQUIRE(writer
              ->TransitionSync(
                  {Pypi("pending-only"), PackageState::kPendingRegistry, 1, PackageState::kPendingScore, {}})
              .ok());
  Finish(*writer, "second", 3);
  Finish(*writer, "third", 4);
  REQUIRE(testing::WaitUntil([&] { return woken.load() >= 3; }, std::chrono::seconds(5)));
  CHECK(woken == 3);
  CHECK(watcher->ReadChanges(1, 10)->size() == 2);
  watcher->SetChangeListener(nullptr);
}

TEST_CASE("a PostgreSQL restart: the store reconnects and its writes are neither lost nor doubled",
          "[store][postgres]") {
  const char* restart = std::getenv("PKGTRUST_TEST_POSTGRES_CTL");
  INFO("PKGTRUST_TEST_POSTGRES_CTL (set by tests/scripts/with_postgres.sh) restarts the server");
  REQUIRE(restart != nullptr);
  testing::StoreUnderTest db(true);
  core::ManualClock clock;
  auto s = db.Open(clock);
  constexpr int kPackages = 400;
  std::atomic<int> ok{0}, failed{0}, unknown{0};
  std::atomic<bool> restarted{false};
  std::atomic<int> restart_status{-1};
  std::thread restarter([&] {
    // Once a part of the writes is in, restart the server under the store.
    testing::WaitUntil([&] { return ok.load() >= kPackages / 4; }, std::chrono::seconds(30));
    restart_status = std::system(restart);
    restarted = true;
  });
  for (int i = 0; i < kPackages; ++i) {
    auto r = s->EnqueueSync({Pypi("r-" + std::to_string(i))});
    if (r.ok() && r->outcome == store::EnqueueOutcome::kStarted)
      ok++;
    else if (!r.ok() && r.status().message().find("outcome unknown") != std::string::npos)
      unknown++;  // committed while its answer was lost: the package is checked below
    else
      failed++;  // a batch run twice would answer in_flight here
    if (i == kPackages / 2) testing::WaitUntil([&] { return restarted.load(); }, std::chrono::seconds(30));
  }
  restarter.join();
  CHECK(restarted);
  CHECK(restart_status == 0);
  CHECK(failed == 0);  // every write went through, after the reconnect, and once
  CHECK(ok + unknown == kPackages);
  CHECK(unknown <= 1);
  auto counts = s->CountByState();
  REQUIRE(counts.ok());
  CHECK(counts->at(PackageState::kPendingRegistry) == kPackages);
  for (int i = 0; i < kPackages; i += 37) {
    auto record = s->Get(Pypi("r-" + std::to_string(i)));
    REQUIRE(record.ok());
    REQUIRE(record->has_value());
    CHECK((*record)->generation == 1);
  }
  CHECK(s->GetWriterStats().retried_batches >= 1);
}

TEST_CASE("an unreachable PostgreSQL server is a clear error naming it", "[store][postgres]") {
  core::ManualClock clock;
  store::StoreConfig config;
  config.kind = store::StoreKind::kPostgres;
  config.postgres_url = "host=127.0.0.1 port=1 dbname=none connect_timeout=2";
  auto opened = store::Store::Open(config, clock);
  REQUIRE_FALSE(opened.ok());
  CHECK_THAT(opened.status().message(), Catch::Contains("postgres") && Catch::Contains("127.0.0.1"));
  config.postgres_url.clear();
  opened = store::Store::Open(config, clock);
  REQUIRE_FALSE(opened.ok());
  CHECK_THAT(opened.status().message(), Catch::Contains("postgres_url_env"));
}
