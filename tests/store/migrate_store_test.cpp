// `pkgtrust migrate-store`: a SQLite store copied into PostgreSQL reads the same, an
// interrupted copy continues, and counts that differ are an error naming the table.
#include "pkgtrust/store/migrate_store.hpp"

#include <catch2/catch.hpp>
#include <cstdlib>
#include <stdexcept>

#include "pkgtrust/store/store.hpp"
#include "support/store_under_test.hpp"
#include "support/test_support.hpp"

using namespace pkgtrust;
using core::PackageState;

namespace {

core::PackageKey Npm(const std::string& name) { return {core::Ecosystem::kNpm, name}; }

// A SQLite store with 250 packages in several states, facts, a rescore, advisories, a
// repository and a compacted change log.
void Fill(store::Store& s, core::ManualClock& clock) {
  for (int i = 0; i < 250; ++i) {
    std::string name = "pkg-" + std::to_string(i);
    REQUIRE(s.EnqueueSync({Npm(name)}).ok());
    if (i % 5 == 4) continue;  // left in flight
    if (i % 7 == 0) {
      REQUIRE(
          s.TransitionSync({Npm(name), PackageState::kPendingRegistry, 1, PackageState::kNotFound, {}}).ok());
      continue;
    }
    REQUIRE(s.TransitionSync({Npm(name),
                              PackageState::kPendingRegistry,
                              1,
                              PackageState::kPendingScore,
                              {{"registry", R"({"versions":["1.0.0"],"i":)" + std::to_string(i) + "}"}}})
                .ok());
    // One score with 17 significant digits: SQLite's text of a REAL has 15.
    std::string score = i == 3 ? "0.30000000000000004" : std::to_string(i % 10) + ".5";
    REQUIRE(s.TransitionSync({Npm(name),
                              PackageState::kPendingScore,
                              1,
                              PackageState::kComplete,
                              {{"score", R"({"score":)" + score + R"(,"flags":{"deprecated":)" +
                                             (i % 2 ? "true" : "false") + "}}"}}})
                .ok());
    clock.Advance(10);
  }
  REQUIRE(
      s.PutCompleteFactSync(Npm("pkg-1"), 1, {"score", R"({"score":0,"flags":{"malicious":true}})"}).ok());
  REQUIRE(s.ImportAdvisoriesSync({{Npm("pkg-1"), "MAL-2026-1", "bad", R"(["1.0.0"])", "2026-11-01T00:00:00Z"},
                                  {Npm("pkg-2"), "MAL-2026-2", "worse", "[]", "2026-11-02T00:00:00Z"}})
              .ok());
  REQUIRE(s.PutRepositorySync({"github.com/acme/pkg", R"({"stars":3})", "found", 1234}).ok());
  REQUIRE(s.CompactChangesSync(150, 0).ok());  // the log starts past offset 1 now
}

}  // namespace

TEST_CASE("a SQLite store copied into PostgreSQL reads the same, and a second copy changes nothing",
          "[store][postgres]") {
  testing::StoreUnderTest sqlite(false), postgres(true);
  core::ManualClock clock;
  {
    auto source = sqlite.Open(clock);
    Fill(*source, clock);
  }
  // Interrupted after the first chunk of packages; run again, it continues.
  int chunks = 0;
  auto interrupt = [&](const std::string&, std::int64_t, std::int64_t) {
    if (++chunks == 1) throw std::runtime_error("interrupted");
  };
  CHECK_THROWS_WITH(store::CopySqliteToPostgres(sqlite.path(), postgres.url(), interrupt, 100),
                    "interrupted");
  auto copied = store::CopySqliteToPostgres(sqlite.path(), postgres.url(), nullptr, 100);
  INFO(copied.status().message());
  REQUIRE(copied.ok());
  std::map<std::string, store::CopiedTable> tables;
  for (const auto& t : *copied) tables[t.name] = t;
  CHECK(tables["packages"].source_rows == 250);
  CHECK(tables["packages"].target_rows == 250);
  CHECK(tables["packages"].copied == 150);  // the first 100 came with the interrupted run
  CHECK(tables["package_facts"].target_rows == tables["package_facts"].source_rows);
  CHECK(tables["package_changes"].target_rows == 150);
  CHECK(tables["advisories"].target_rows == 2);
  CHECK(tables["repositories"].target_rows == 1);

  auto source = sqlite.Open(clock);
  auto target = postgres.Open(clock);
  for (const char* name : {"pkg-0", "pkg-1", "pkg-4", "pkg-7", "pkg-249"}) {
    INFO(name);
    auto a = source->Get(Npm(name));
    auto b = target->Get(Npm(name));
    REQUIRE(a.ok());
    REQUIRE(b.ok());
    REQUIRE(a->has_value());
    REQUIRE(b->has_value());
    CHECK((*a)->id == (*b)->id);
    CHECK((*a)->state == (*b)->state);
    CHECK((*a)->generation == (*b)->generation);
    CHECK((*a)->state_since == (*b)->state_since);
    auto fa = source->GetFacts(Npm(name));
    auto fb = target->GetFacts(Npm(name));
    REQUIRE(fa->size() == fb->size());
    for (std::size_t i = 0; i < fa->size(); ++i) CHECK((*fa)[i].json == (*fb)[i].json);
  }
  auto ba = source->GetChangeLogBounds();
  auto bb = target->GetChangeLogBounds();
  CHECK(ba->first == bb->first);
  CHECK(ba->last == bb->last);
  auto ca = source->ReadChanges(0, 1000);
  auto cb = target->ReadChanges(0, 1000);
  REQUIRE(ca->size() == cb->size());
  for (std::size_t i = 0; i < ca->size(); ++i) {
    CHECK((*ca)[i].offset == (*cb)[i].offset);
    CHECK((*ca)[i].key.name == (*cb)[i].key.name);
    CHECK((*ca)[i].score == (*cb)[i].score);
    CHECK((*ca)[i].flags_json == (*cb)[i].flags_json);
  }
  auto sa = source->ReadState(0, 1000);
  auto sb = target->ReadState(0, 1000);
  REQUIRE(sa->packages.size() == sb->packages.size());
  for (std::size_t i = 0; i < sa->packages.size(); ++i) {
    CHECK(sa->packages[i].score == sb->packages[i].score);
    CHECK(sa->packages[i].offset == sb->packages[i].offset);
  }
  CHECK(target->FindAdvisories(Npm("pkg-1"))->size() == 1);
  CHECK((*target->GetRepository("github.com/acme/pkg"))->facts_json == R"({"stars":3})");
  // New packages and changes continue after the copied ids and offsets.
  auto fresh = target->EnqueueSync({Npm("after-the-copy")});
  REQUIRE(fresh.ok());
  CHECK(fresh->record.id == 251);
  REQUIRE(target
              ->TransitionSync(
                  {Npm("after-the-copy"), PackageState::kPendingRegistry, 1, PackageState::kNotFound, {}})
              .ok());
  CHECK(target->GetChangeLogBounds()->last == ba->last + 1);

  // A second copy finds everything there: nothing copied, but the counts now differ by the
  // package added since, which is an error naming the table.
  auto again = store::CopySqliteToPostgres(sqlite.path(), postgres.url());
  REQUIRE_FALSE(again.ok());
  CHECK_THAT(again.status().message(),
             Catch::Contains("packages has 250 rows") && Catch::Contains("251 in PostgreSQL"));
}

TEST_CASE("migrate-store on the command line", "[store][postgres]") {
  testing::StoreUnderTest sqlite(false), postgres(true);
  core::ManualClock clock;
  {
    auto source = sqlite.Open(clock);
    Fill(*source, clock);
  }
  std::string binary = PKGTRUST_BINARY;
  auto run = [&](const std::string& env, const std::string& args) {
    return testing::RunCommand(env + " " + binary + " migrate-store " + args);
  };
  auto missing = run("env -u PKGTRUST_DATABASE_URL", "--from sqlite:" + sqlite.path() + " --to postgres");
  CHECK(missing.exit_code == 1);
  CHECK_THAT(missing.output, Catch::Contains("PKGTRUST_DATABASE_URL"));
  auto bad = run("", "--from " + sqlite.path() + " --to postgres");
  CHECK(bad.exit_code == 2);
  CHECK_THAT(bad.output, Catch::Contains("sqlite:PATH"));
  auto ok = run("PKGTRUST_DATABASE_URL='" + postgres.url() + "'",
                "--from sqlite:" + sqlite.path() + " --to postgres");
  INFO(ok.output);
  CHECK(ok.exit_code == 0);
  CHECK_THAT(ok.output, Catch::Contains("verified") && Catch::Contains("packages"));
}
