#include <sqlite3.h>

#include <catch2/catch.hpp>
#include <future>
#include <mutex>
#include <thread>

#include "pkgtrust/store/store.hpp"
#include "support/store_under_test.hpp"
#include "support/test_support.hpp"

using namespace pkgtrust;
using core::PackageState;
using core::Priority;
using store::EnqueueOutcome;
using store::TransitionOutcome;

namespace {

core::PackageKey Npm(const char* name) { return {core::Ecosystem::kNpm, name}; }

store::TransitionOutcome Move(store::Store& s, const char* name, PackageState from, std::int64_t gen,
                              PackageState to) {
  auto r = s.TransitionSync({Npm(name), from, gen, to, {}});
  REQUIRE(r.ok());
  return r->outcome;
}

}  // namespace

TEST_CASE("opening applies migrations once and keeps data across reopen", "[store]") {
  testing::StoreUnderTest db;
  core::ManualClock clock;
  {
    auto s = db.Open(clock);
    CHECK(s->SchemaVersion() == db.LatestSchemaVersion());
    REQUIRE(s->EnqueueSync({Npm("left-pad")}).ok());
  }
  auto s = db.Open(clock);
  CHECK(s->SchemaVersion() == db.LatestSchemaVersion());
  auto rec = s->Get(Npm("left-pad"));
  REQUIRE(rec.ok());
  REQUIRE(rec->has_value());
  CHECK((*rec)->state == PackageState::kPendingRegistry);
  CHECK((*rec)->generation == 1);
}

TEST_CASE("opening one new database from many threads at once migrates it once", "[store]") {
  testing::StoreUnderTest db;
  core::ManualClock clock;
  std::vector<std::thread> openers;
  std::atomic<int> opened{0};
  std::mutex mu;
  std::string errors;
  for (int i = 0; i < 4; ++i)
    openers.emplace_back([&] {
      auto s = store::Store::Open(db.Config(1), clock);
      if (s.ok() && (*s)->SchemaVersion() == db.LatestSchemaVersion()) opened++;
      std::lock_guard lock(mu);
      if (!s.ok()) errors += s.status().message() + "\n";
    });
  for (auto& t : openers) t.join();
  INFO(errors);
  CHECK(opened == 4);
}

TEST_CASE("reads see writes committed after earlier reads on the same connection", "[store]") {
  testing::StoreUnderTest under_test;
  core::ManualClock clock;
  auto s = under_test.Open(clock, 1);
  auto& db = *s;
  CHECK(db.SchemaVersion() == under_test.LatestSchemaVersion());  // a one-row read
  CHECK_FALSE(db.Get(Npm("later"))->has_value());                 // a read that finds nothing
  REQUIRE(db.EnqueueSync({Npm("later")}).ok());
  CHECK(db.Get(Npm("later"))->has_value());  // must not read an old snapshot
  CHECK(db.CountByState()->at(PackageState::kPendingRegistry) == 1);
  CHECK(db.SchemaVersion() == under_test.LatestSchemaVersion());
  REQUIRE(db.EnqueueSync({Npm("later-still")}).ok());
  CHECK(db.CountByState()->at(PackageState::kPendingRegistry) == 2);
}

TEST_CASE("a database from a newer pkgtrust is refused with a clear message", "[store]") {
  testing::StoreUnderTest db;
  core::ManualClock clock;
  { db.Open(clock); }
  db.Exec(db.postgres() ? "INSERT INTO schema_migrations (version, description) VALUES (99, 'future')"
                        : "INSERT INTO schema_migrations VALUES (99, 'future', 'now')");
  auto opened = store::Store::Open(db.Config(), clock);
  REQUIRE_FALSE(opened.ok());
  CHECK_THAT(opened.status().message(), Catch::Contains("newer") && Catch::Contains("version 99"));
  if (!db.postgres()) CHECK_THAT(opened.status().message(), Catch::Contains(db.path()));
}

TEST_CASE("a database that cannot be opened names the file", "[store][sqlite]") {
  core::ManualClock clock;
  auto opened = store::Store::Open({.path = "/nonexistent-dir/x/y.db"}, clock);
  REQUIRE_FALSE(opened.ok());
  CHECK_THAT(opened.status().message(), Catch::Contains("/nonexistent-dir/x/y.db"));
}

TEST_CASE("enqueue starts a run once; in-flight requests do not start another", "[store]") {
  testing::StoreUnderTest db;
  core::ManualClock clock;
  auto s = db.Open(clock);

  auto first = s->EnqueueSync({Npm("a"), Priority::kRegular});
  REQUIRE(first.ok());
  CHECK(first->outcome == EnqueueOutcome::kStarted);
  CHECK(first->record.generation == 1);
  CHECK(first->record.priority == Priority::kRegular);

  auto again = s->EnqueueSync({Npm("a"), Priority::kRegular});
  REQUIRE(again.ok());
  CHECK(again->outcome == EnqueueOutcome::kAlreadyInFlight);

  SECTION("a priority request raises a regular run") {
    auto raised = s->EnqueueSync({Npm("a"), Priority::kPriority});
    REQUIRE(raised.ok());
    CHECK(raised->outcome == EnqueueOutcome::kRaised);
    CHECK(raised->record.priority == Priority::kPriority);
    CHECK(raised->record.generation == 1);
    auto twice = s->EnqueueSync({Npm("a"), Priority::kPriority});
    CHECK(twice->outcome == EnqueueOutcome::kAlreadyInFlight);
  }

  SECTION("a finished package starts a new generation only when asked") {
    CHECK(Move(*s, "a", PackageState::kPendingRegistry, 1, PackageState::kPendingScore) ==
          TransitionOutcome::kApplied);
    CHECK(Move(*s, "a", PackageState::kPendingScore, 1, PackageState::kComplete) ==
          TransitionOutcome::kApplied);
    auto keep = s->EnqueueSync({Npm("a"), Priority::kPriority, /*restart_finished=*/false});
    CHECK(keep->outcome == EnqueueOutcome::kUnchanged);
    CHECK(keep->record.state == PackageState::kComplete);
    auto restart = s->EnqueueSync({Npm("a"), Priority::kRegular, true, "2.0.0"});
    CHECK(restart->outcome == EnqueueOutcome::kStarted);
    CHECK(restart->record.generation == 2);
    CHECK(restart->record.state == PackageState::kPendingRegistry);
    CHECK(restart->record.requested_version == "2.0.0");
  }
}

TEST_CASE("transitions are conditional on state and generation", "[store]") {
  testing::StoreUnderTest db;
  core::ManualClock clock;
  auto s = db.Open(clock);
  REQUIRE(s->EnqueueSync({Npm("p")}).ok());

  // A duplicate of the registry message: the first applies, the copy is stale.
  CHECK(Move(*s, "p", PackageState::kPendingRegistry, 1, PackageState::kPendingRepository) ==
        TransitionOutcome::kApplied);
  CHECK(Move(*s, "p", PackageState::kPendingRegistry, 1, PackageState::kPendingRepository) ==
        TransitionOutcome::kStale);
  // A message of an older generation is stale too.
  CHECK(Move(*s, "p", PackageState::kPendingRepository, 0, PackageState::kPendingScore) ==
        TransitionOutcome::kStale);
  // Facts commit with the transition.
  auto r = s->TransitionSync({Npm("p"),
                              PackageState::kPendingRepository,
                              1,
                              PackageState::kPendingScore,
                              {{"repository", R"({"stars":5})"}}});
  REQUIRE(r.ok());
  CHECK(r->outcome == TransitionOutcome::kApplied);
  CHECK(r->record.state == PackageState::kPendingScore);
  auto facts = s->GetFacts(Npm("p"));
  REQUIRE(facts.ok());
  REQUIRE(facts->size() == 1);
  CHECK((*facts)[0].kind == "repository");
  CHECK((*facts)[0].json == R"({"stars":5})");
  // Illegal transitions are refused, not applied.
  auto bad =
      s->TransitionSync({Npm("p"), PackageState::kPendingScore, 1, PackageState::kPendingRegistry, {}});
  CHECK_FALSE(bad.ok());
  CHECK(s->GetWriterStats().stale == 2);
}

TEST_CASE("failures count attempts; giving up moves to failed with a growing backoff", "[store]") {
  testing::StoreUnderTest db;
  core::ManualClock clock;
  auto s = db.Open(clock);
  REQUIRE(s->EnqueueSync({Npm("f")}).ok());
  auto fail = [&](bool give_up) {
    std::promise<core::Result<store::TransitionResult>> p;
    s->RecordFailure({Npm("f"), PackageState::kPendingRegistry, 1, "boom", give_up, 1000, 60000},
                     [&](core::Result<store::TransitionResult> r) { p.set_value(std::move(r)); });
    return p.get_future().get();
  };
  // An error quoting broken bytes of an upstream answer (and a NUL), cut at 2,000 bytes in
  // the middle of a character: stored (PostgreSQL refuses text that is not UTF-8), readable.
  {
    REQUIRE(s->EnqueueSync({Npm("g")}).ok());
    std::string error = std::string("bad \xFF\xFE bytes, a NUL ") + '\0' + " and more ";
    error += std::string(1999 - error.size(), 'x') + "\xC3\xA9";
    REQUIRE(error.size() == 2001);
    auto broken =
        s->RecordFailureSync({Npm("g"), PackageState::kPendingRegistry, 1, error, false, 1000, 60000});
    INFO(broken.status().message());
    REQUIRE(broken.ok());
    CHECK(broken->outcome == TransitionOutcome::kApplied);
    CHECK(broken->record.attempts == 1);
    CHECK(broken->record.last_error.starts_with("bad "));
    CHECK(broken->record.last_error.ends_with("xxx"));
    CHECK(broken->record.last_error.size() <= 2000);
  }
  auto first = fail(false);
  REQUIRE(first.ok());
  CHECK(first->record.state == PackageState::kPendingRegistry);
  CHECK(first->record.attempts == 1);
  CHECK(first->record.last_error == "boom");
  core::Millis now = clock.NowMillis();
  auto second = fail(true);
  REQUIRE(second.ok());
  CHECK(second->record.state == PackageState::kFailed);
  CHECK(second->record.attempts == 2);
  CHECK(second->record.next_attempt_at == now + 2000);  // base * 2^(attempts before)

  CHECK(s->ListRetryable(now + 1999, 10)->empty());
  REQUIRE(s->ListRetryable(now + 2000, 10)->size() == 1);
  // Restarting a failed package keeps its attempts so the next backoff is longer.
  auto restart = s->EnqueueSync({Npm("f")});
  CHECK(restart->outcome == EnqueueOutcome::kStarted);
  CHECK(restart->record.generation == 2);
  CHECK(restart->record.attempts == 2);
}

TEST_CASE("stuck and stale packages are listed by age", "[store]") {
  testing::StoreUnderTest db;
  core::ManualClock clock;
  auto s = db.Open(clock);
  REQUIRE(s->EnqueueSync({Npm("old")}).ok());
  clock.Advance(10'000);
  REQUIRE(s->EnqueueSync({Npm("new")}).ok());
  auto stuck = s->ListStuck(clock.NowMillis() - 5'000, 10);
  REQUIRE(stuck.ok());
  REQUIRE(stuck->size() == 1);
  CHECK((*stuck)[0].key.name == "old");

  std::promise<core::Result<bool>> touched;
  s->Touch(Npm("old"), PackageState::kPendingRegistry, 1,
           [&](core::Result<bool> r) { touched.set_value(r); });
  CHECK(*touched.get_future().get());
  CHECK(s->ListStuck(clock.NowMillis() - 5'000, 10)->empty());

  CHECK(Move(*s, "new", PackageState::kPendingRegistry, 1, PackageState::kPendingScore) ==
        TransitionOutcome::kApplied);
  CHECK(Move(*s, "new", PackageState::kPendingScore, 1, PackageState::kComplete) ==
        TransitionOutcome::kApplied);
  clock.Advance(1000);
  CHECK(s->ListStale(clock.NowMillis() - 2000, 10)->empty());
  CHECK(s->ListStale(clock.NowMillis(), 10)->size() == 1);
  auto counts = s->CountByState();
  REQUIRE(counts.ok());
  CHECK((*counts)[PackageState::kComplete] == 1);
  CHECK((*counts)[PackageState::kPendingRegistry] == 1);
}

TEST_CASE("many concurrent writers are committed in batches", "[store]") {
  testing::StoreUnderTest db;
  core::ManualClock clock;
  auto s = db.Open(clock);
  constexpr int kCount = 2000;
  std::atomic<int> done{0};
  for (int i = 0; i < kCount; ++i)
    s->Enqueue({{core::Ecosystem::kPypi, "pkg-" + std::to_string(i)}},
               [&](core::Result<store::EnqueueResult> r) { done += r.ok() ? 1 : 0; });
  REQUIRE(testing::WaitUntil([&] { return done.load() == kCount; }, std::chrono::seconds(30)));
  CHECK(s->GetWriterStats().transactions < kCount);
  CHECK(s->CountByState()->at(PackageState::kPendingRegistry) == kCount);
  s->Close();
  std::promise<bool> after;
  s->Enqueue({Npm("late")}, [&](core::Result<store::EnqueueResult> r) { after.set_value(r.ok()); });
  CHECK_FALSE(after.get_future().get());
}

TEST_CASE("a write that fails half-way leaves nothing behind, and the rest of its batch commits", "[store]") {
  testing::StoreUnderTest db;
  core::ManualClock clock;
  auto s = db.Open(clock);
  REQUIRE(s->EnqueueSync({Npm("half")}).ok());
  REQUIRE(s->EnqueueSync({Npm("whole")}).ok());
  // Another connection makes the second fact insert of one transition fail.
  if (db.postgres())
    db.Exec(
        "CREATE FUNCTION refuse_boom() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN RAISE EXCEPTION 'boom refused'; END $$; "
        "CREATE TRIGGER refuse_boom BEFORE INSERT ON package_facts FOR EACH ROW WHEN (NEW.kind = 'boom') "
        "EXECUTE FUNCTION refuse_boom()");
  else
    db.Exec(
        "CREATE TRIGGER refuse_boom BEFORE INSERT ON package_facts WHEN NEW.kind = 'boom' "
        "BEGIN SELECT RAISE(ABORT, 'boom refused'); END");

  std::promise<core::Result<store::TransitionResult>> half, whole;
  s->Transition({Npm("half"),
                 PackageState::kPendingRegistry,
                 1,
                 PackageState::kPendingRepository,
                 {{"registry", "{}"}, {"boom", "{}"}}},
                [&](auto r) { half.set_value(std::move(r)); });
  s->Transition({Npm("whole"),
                 PackageState::kPendingRegistry,
                 1,
                 PackageState::kPendingRepository,
                 {{"registry", "{}"}}},
                [&](auto r) { whole.set_value(std::move(r)); });
  auto half_result = half.get_future().get();
  auto whole_result = whole.get_future().get();
  CHECK_FALSE(half_result.ok());
  INFO(whole_result.status().message());
  REQUIRE(whole_result.ok());
  CHECK(whole_result->outcome == TransitionOutcome::kApplied);

  auto half_now = s->Get(Npm("half"));
  REQUIRE(half_now.ok());
  CHECK((*half_now)->state == PackageState::kPendingRegistry);  // the state change was rolled back too
  auto half_facts = s->GetFacts(Npm("half"));
  REQUIRE(half_facts.ok());
  CHECK(half_facts->empty());
  CHECK((*s->Get(Npm("whole")))->state == PackageState::kPendingRepository);
  CHECK(s->GetFacts(Npm("whole"))->size() == 1);
}

TEST_CASE("a restart for a run the caller saw finish is skipped when another run finished since", "[store]") {
  testing::StoreUnderTest db;
  core::ManualClock clock;
  auto s = db.Open(clock);
  REQUIRE(s->EnqueueSync({Npm("a")}).ok());
  REQUIRE(Move(*s, "a", PackageState::kPendingRegistry, 1, PackageState::kNotFound) ==
          TransitionOutcome::kApplied);
  // Two requests saw generation 1 finished; the first restarts it and that run finishes.
  store::EnqueueRequest first{Npm("a"), Priority::kPriority};
  first.restart_generation = 1;
  auto started = s->EnqueueSync(first);
  REQUIRE(started.ok());
  CHECK(started->outcome == EnqueueOutcome::kStarted);
  REQUIRE(Move(*s, "a", PackageState::kPendingRegistry, 2, PackageState::kNotFound) ==
          TransitionOutcome::kApplied);
  // The second finds generation 2 finished: it shares that run instead of starting a third.
  auto second = s->EnqueueSync(first);
  REQUIRE(second.ok());
  CHECK(second->outcome == EnqueueOutcome::kUnchanged);
  CHECK(second->record.generation == 2);
  // "Saw no package" (0) never restarts an existing one; a new one is still created.
  store::EnqueueRequest unseen{Npm("a"), Priority::kPriority};
  unseen.restart_generation = 0;
  CHECK(s->EnqueueSync(unseen)->outcome == EnqueueOutcome::kUnchanged);
  unseen.key = Npm("b");
  CHECK(s->EnqueueSync(unseen)->outcome == EnqueueOutcome::kStarted);
}

TEST_CASE("a version 2 database keeps its packages and facts when it moves to the rowid facts table",
          "[store][sqlite]") {
  testing::TempDir dir;
  core::ManualClock clock;
  sqlite3* raw = nullptr;
  REQUIRE(sqlite3_open(dir.File("v2.db").c_str(), &raw) == SQLITE_OK);
  // The version 2 schema as it was shipped, with one complete package and its facts.
  REQUIRE(sqlite3_exec(raw, R"sql(
CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied_at TEXT NOT NULL);
INSERT INTO schema_migrations VALUES (1, 'packages state machine and facts', 'then'), (2, 'advisories', 'then');
CREATE TABLE packages (id INTEGER PRIMARY KEY, ecosystem TEXT NOT NULL, name TEXT NOT NULL, state TEXT NOT NULL,
  generation INTEGER NOT NULL, priority INTEGER NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
  state_since INTEGER NOT NULL, last_error TEXT, next_attempt_at INTEGER, requested_version TEXT,
  created_at INTEGER NOT NULL, UNIQUE (ecosystem, name));
CREATE INDEX packages_by_state ON packages (state, state_since);
CREATE TABLE package_facts (package_id INTEGER NOT NULL REFERENCES packages (id), kind TEXT NOT NULL,
  generation INTEGER NOT NULL, data TEXT NOT NULL, updated_at INTEGER NOT NULL, PRIMARY KEY (package_id, kind))
  WITHOUT ROWID;
CREATE TABLE advisories (ecosystem TEXT NOT NULL, name TEXT NOT NULL, id TEXT NOT NULL, summary TEXT NOT NULL,
  versions TEXT NOT NULL, modified TEXT NOT NULL, PRIMARY KEY (ecosystem, name, id)) WITHOUT ROWID;
INSERT INTO packages (id, ecosystem, name, state, generation, priority, state_since, created_at)
  VALUES (7, 'npm', 'kept', 'complete', 3, 2, 1, 1);
INSERT INTO package_facts VALUES (7, 'registry', 3, '{"a":1}', 1), (7, 'score', 3, '{"score":5}', 1);
)sql",
                       nullptr, nullptr, nullptr) == SQLITE_OK);
  sqlite3_close(raw);

  auto opened = store::Store::Open({.path = dir.File("v2.db"), .read_connections = 2}, clock);
  REQUIRE(opened.ok());
  auto& s = *opened;
  CHECK(s->SchemaVersion() == 8);
  auto facts = s->GetFacts(Npm("kept"));
  REQUIRE(facts.ok());
  REQUIRE(facts->size() == 2);
  CHECK(*s->GetFact(Npm("kept"), "score") == std::optional<std::string>(R"({"score":5})"));
  // Facts are still replaced, not duplicated, per (package, kind).
  REQUIRE(s->PutCompleteFactSync(Npm("kept"), 3, {"score", R"({"score":6})"}).ok());
  CHECK(s->GetFacts(Npm("kept"))->size() == 2);
  CHECK(*s->GetFact(Npm("kept"), "score") == std::optional<std::string>(R"({"score":6})"));
}

TEST_CASE("every finished run and every new score appends to the change log, in its transaction", "[store]") {
  testing::StoreUnderTest db;
  core::ManualClock clock;
  auto s = db.Open(clock);
  auto bounds = s->GetChangeLogBounds();
  REQUIRE(bounds.ok());
  CHECK(bounds->last == 0);
  CHECK(bounds->first == 1);  // empty

  REQUIRE(s->EnqueueSync({Npm("a"), Priority::kRegular}).ok());
  REQUIRE(s->EnqueueSync({Npm("b"), Priority::kRegular}).ok());
  // In flight: nothing for the log yet.
  CHECK(Move(*s, "a", PackageState::kPendingRegistry, 1, PackageState::kPendingScore) ==
        TransitionOutcome::kApplied);
  CHECK(s->ReadChanges(0, 10)->empty());

  const char* report = R"({"score":7.5,"flags":{"malicious":false,"archived":true},"explanation":[]})";
  auto done = s->TransitionSync(
      {Npm("a"), PackageState::kPendingScore, 1, PackageState::kComplete, {{"score", report}}});
  REQUIRE(done.ok());
  CHECK(done->outcome == TransitionOutcome::kApplied);
  CHECK(Move(*s, "b", PackageState::kPendingRegistry, 1, PackageState::kNotFound) ==
        TransitionOutcome::kApplied);
  // A stale transition writes nothing, to the log either.
  CHECK(Move(*s, "b", PackageState::kPendingRegistry, 1, PackageState::kNotFound) ==
        TransitionOutcome::kStale);

  auto changes = s->ReadChanges(0, 10);
  REQUIRE(changes.ok());
  REQUIRE(changes->size() == 2);
  CHECK((*changes)[0].offset == 1);
  CHECK((*changes)[0].key.name == "a");
  CHECK((*changes)[0].state == PackageState::kComplete);
  REQUIRE((*changes)[0].score.has_value());
  CHECK(*(*changes)[0].score == Approx(7.5));
  CHECK_THAT((*changes)[0].flags_json, Catch::Contains("\"archived\":true"));
  CHECK((*changes)[1].offset == 2);
  CHECK((*changes)[1].key.name == "b");
  CHECK((*changes)[1].state == PackageState::kNotFound);
  CHECK_FALSE((*changes)[1].score.has_value());
  CHECK(s->ReadChanges(1, 10)->size() == 1);

  // A rescore with the same score and flags is no change; another score is.
  REQUIRE(s->PutCompleteFactSync(Npm("a"), 1, {"score", report}).ok());
  CHECK(s->GetChangeLogBounds()->last == 2);
  REQUIRE(s->PutCompleteFactSync(Npm("a"), 1, {"score", R"({"score":0,"flags":{"malicious":true}})"}).ok());
  auto rescored = s->ReadChanges(2, 10);
  REQUIRE(rescored.ok());
  REQUIRE(rescored->size() == 1);
  CHECK((*rescored)[0].offset == 3);
  CHECK(*(*rescored)[0].score == 0);
  CHECK_THAT((*rescored)[0].flags_json, Catch::Contains("\"malicious\":true"));
}

TEST_CASE("compacting the change log drops a prefix by count and age and never reuses an offset", "[store]") {
  testing::StoreUnderTest db;
  core::ManualClock clock;
  auto s = db.Open(clock);
  for (int i = 0; i < 10; ++i) {
    std::string name = "p" + std::to_string(i);
    REQUIRE(s->EnqueueSync({Npm(name.c_str()), Priority::kRegular}).ok());
    CHECK(Move(*s, name.c_str(), PackageState::kPendingRegistry, 1, PackageState::kNotFound) ==
          TransitionOutcome::kApplied);
    clock.Advance(1000);
  }
  CHECK(s->GetChangeLogBounds()->last == 10);

  // By count: the newest 6 stay.
  CHECK(*s->CompactChangesSync(6, 0) == 4);
  auto bounds = s->GetChangeLogBounds();
  CHECK(bounds->first == 5);
  CHECK(bounds->last == 10);
  // By age: changes committed before the 8th go.
  core::Millis eighth = (*s->ReadChanges(7, 1))[0].committed_at;
  CHECK(*s->CompactChangesSync(100, eighth) == 3);
  CHECK(s->GetChangeLogBounds()->first == 8);
  // Everything: the log is empty, and the next change still gets a new offset.
  CHECK(*s->CompactChangesSync(0, 0) == 3);
  bounds = s->GetChangeLogBounds();
  CHECK(bounds->first == 11);
  CHECK(bounds->last == 10);
  REQUIRE(s->EnqueueSync({Npm("p0"), Priority::kRegular}).ok());
  CHECK(Move(*s, "p0", PackageState::kPendingRegistry, 2, PackageState::kNotFound) ==
        TransitionOutcome::kApplied);
  auto after = s->ReadChanges(0, 10);
  REQUIRE(after->size() == 1);
  CHECK((*after)[0].offset == 11);
  CHECK((*after)[0].generation == 2);
}

TEST_CASE("the compacted state lists finished packages with their last change, a page at a time", "[store]") {
  testing::StoreUnderTest db;
  core::ManualClock clock;
  auto s = db.Open(clock);
  for (const char* name : {"a", "b", "c", "d"}) REQUIRE(s->EnqueueSync({Npm(name), Priority::kRegular}).ok());
  CHECK(Move(*s, "a", PackageState::kPendingRegistry, 1, PackageState::kPendingScore) ==
        TransitionOutcome::kApplied);
  REQUIRE(s->TransitionSync({Npm("a"),
                             PackageState::kPendingScore,
                             1,
                             PackageState::kComplete,
                             {{"score", R"({"score":4,"flags":{"deprecated":true}})"}}})
              .ok());
  CHECK(Move(*s, "c", PackageState::kPendingRegistry, 1, PackageState::kNotFound) ==
        TransitionOutcome::kApplied);
  CHECK(Move(*s, "d", PackageState::kPendingRegistry, 1, PackageState::kNotFound) ==
        TransitionOutcome::kApplied);
  // "b" is still in flight: not part of the state.

  auto first = s->ReadState(0, 2);
  REQUIRE(first.ok());
  REQUIRE(first->packages.size() == 2);
  CHECK_FALSE(first->done);
  CHECK(first->packages[0].key.name == "a");
  CHECK(*first->packages[0].score == 4);
  CHECK_THAT(first->packages[0].flags_json, Catch::Contains("deprecated"));
  CHECK(first->packages[0].offset == 1);
  CHECK(first->packages[1].key.name == "c");
  CHECK(first->packages[1].offset == 2);
  auto second = s->ReadState(first->next_after_id, 2);
  REQUIRE(second.ok());
  REQUIRE(second->packages.size() == 1);
  CHECK(second->packages[0].key.name == "d");
  CHECK(second->done);
}

TEST_CASE("a package being refreshed keeps its last report in the compacted state", "[store]") {
  testing::StoreUnderTest db;
  core::ManualClock clock;
  auto s = db.Open(clock);
  REQUIRE(s->EnqueueSync({Npm("a"), Priority::kRegular}).ok());
  CHECK(Move(*s, "a", PackageState::kPendingRegistry, 1, PackageState::kPendingScore) ==
        TransitionOutcome::kApplied);
  REQUIRE(s->TransitionSync({Npm("a"),
                             PackageState::kPendingScore,
                             1,
                             PackageState::kComplete,
                             {{"score", R"({"score":9,"flags":{}})"}}})
              .ok());
  REQUIRE(s->EnqueueSync({Npm("a"), Priority::kRegular}).ok());  // a refresh: generation 2 in flight
  auto state = s->ReadState(0, 10);
  REQUIRE(state.ok());
  REQUIRE(state->packages.size() == 1);
  CHECK(state->packages[0].state == PackageState::kComplete);
  CHECK(state->packages[0].generation == 1);
  CHECK(*state->packages[0].score == 9);
}

TEST_CASE("repository read claims: one owner at a time, until they end or lapse", "[store]") {
  testing::StoreUnderTest db;
  core::ManualClock clock;
  auto opened = db.Open(clock);
  store::Store& s = *opened;
  const std::string a = "github.com/acme/a", b = "github.com/acme/b";
  auto claim = [&](std::vector<std::string> keys, const std::string& owner, core::Millis until,
                   core::Millis now) {
    auto r = s.ClaimRepositoryReadsSync(std::move(keys), owner, until, now);
    REQUIRE(r.ok());
    return *r;
  };
  CHECK(claim({a, b}, "one", 1000, 0) == std::vector<core::Millis>{0, 0});
  CHECK(claim({a}, "two", 2000, 500) == std::vector<core::Millis>{1000});   // held: the holder's end
  CHECK(claim({a}, "two", 2000, 1000) == std::vector<core::Millis>{1000});  // at its end: still held
  CHECK(claim({a}, "one", 1500, 999) == std::vector<core::Millis>{0});      // the holder again: extended
  CHECK(claim({a}, "two", 2500, 1501) == std::vector<core::Millis>{0});     // lapsed: taken over
  // Ending: only the owner's claims go.
  REQUIRE(s.EndRepositoryReadsSync({a, b}, "one").ok());
  CHECK(claim({a}, "three", 3000, 1600) == std::vector<core::Millis>{2500});  // two's claim stays
  CHECK(claim({b}, "three", 3000, 1600) == std::vector<core::Millis>{0});     // one's went
}

TEST_CASE("writes queued together mean what they would one after another", "[store]") {
  testing::StoreUnderTest db;
  core::ManualClock clock;
  auto s = db.Open(clock);
  std::vector<store::EnqueueRequest> requests;
  for (const char* name : {"a", "b", "c"}) requests.push_back({Npm(name)});
  REQUIRE(s->EnqueueManySync(requests).ok());
  // Queued behind a write whose callback holds the writer thread, so that they all wait and
  // go in one batch: for "a" two steps in a row and a duplicate of the first; for "b" a step
  // of another generation; for "c" a step and the run's end.
  std::promise<void> release, held;
  std::shared_future<void> released = release.get_future().share();
  s->Touch(Npm("b"), PackageState::kPendingRegistry, 1, [&held, released](core::Result<bool>) {
    held.set_value();
    released.wait();
  });
  held.get_future().wait();
  std::vector<std::pair<std::string, std::promise<core::Result<store::TransitionResult>>>> sent(6);
  auto queue = [&](std::size_t i, const char* name, PackageState from, std::int64_t generation,
                   PackageState to, std::vector<store::Fact> facts) {
    sent[i].first = name;
    s->Transition(
        {Npm(name), from, generation, to, std::move(facts)},
        [&sent, i](core::Result<store::TransitionResult> r) { sent[i].second.set_value(std::move(r)); });
  };
  queue(0, "a", PackageState::kPendingRegistry, 1, PackageState::kPendingRepository,
        {{"registry", R"({"n":1})"}});
  queue(1, "a", PackageState::kPendingRepository, 1, PackageState::kPendingScore,
        {{"repository", R"({"n":2})"}});
  queue(2, "a", PackageState::kPendingRegistry, 1, PackageState::kPendingRepository,
        {{"registry", R"({"n":3})"}});
  queue(3, "b", PackageState::kPendingRegistry, 2, PackageState::kPendingRepository, {});
  queue(4, "c", PackageState::kPendingRegistry, 1, PackageState::kPendingScore, {});
  queue(5, "c", PackageState::kPendingScore, 1, PackageState::kComplete,
        {{"score", R"({"score":5,"flags":{}})"}});
  release.set_value();
  std::vector<TransitionOutcome> outcomes;
  for (auto& [name, promise] : sent) {
    auto r = promise.get_future().get();
    REQUIRE(r.ok());
    outcomes.push_back(r->outcome);
  }
  CHECK(outcomes == std::vector<TransitionOutcome>{TransitionOutcome::kApplied, TransitionOutcome::kApplied,
                                                   TransitionOutcome::kStale, TransitionOutcome::kStale,
                                                   TransitionOutcome::kApplied, TransitionOutcome::kApplied});
  CHECK((*s->Get(Npm("a")))->state == PackageState::kPendingScore);
  CHECK(*s->GetFact(Npm("a"), "registry") ==
        std::optional<std::string>(R"({"n":1})"));  // not the duplicate's
  CHECK(*s->GetFact(Npm("a"), "repository") == std::optional<std::string>(R"({"n":2})"));
  CHECK((*s->Get(Npm("b")))->state == PackageState::kPendingRegistry);
  CHECK((*s->Get(Npm("c")))->state == PackageState::kComplete);
  CHECK(s->ReadChanges(0, 10)->size() == 1);
  CHECK(s->GetWriterStats().stale == 2);
}
