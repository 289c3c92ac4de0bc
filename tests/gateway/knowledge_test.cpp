// What the gateway knows of a package, read from a real SQLite store: advisories in force
// (not withdrawn ones), the typosquat check, the stored score; and the policy deciding on it.
#include "pkgtrust/gateway/knowledge.hpp"

#include <catch2/catch.hpp>

#include "pkgtrust/scoring/model.hpp"
#include "support/test_support.hpp"

using namespace pkgtrust;

namespace {

struct StoreUnderTest {
  StoreUnderTest() {
    store::StoreConfig config;
    config.path = dir.File("gateway.db");
    auto opened = store::Store::Open(config, core::SystemClock::Instance());
    REQUIRE(opened.ok());
    store = std::move(opened).value();
  }
  ~StoreUnderTest() { store->Close(); }

  // Takes `key` through a run to complete with a score fact of `score`.
  void Complete(const core::PackageKey& key, double score) {
    auto started = store->EnqueueSync({key});
    REQUIRE(started.ok());
    std::int64_t generation = started->record.generation;
    REQUIRE(store
                ->TransitionSync({key, core::PackageState::kPendingRegistry, generation,
                                  core::PackageState::kPendingScore})
                .ok());
    scoring::Report report;
    report.score = score;
    REQUIRE(store
                ->TransitionSync({key,
                                  core::PackageState::kPendingScore,
                                  generation,
                                  core::PackageState::kComplete,
                                  {{store::kScoreFact, report.ToJson()}}})
                .ok());
  }

  testing::TempDir dir;
  std::unique_ptr<store::Store> store;
};

}  // namespace

TEST_CASE("gateway knowledge: advisories in force, the look-alike and the stored score", "[gateway]") {
  StoreUnderTest sut;
  core::PackageKey evil{core::Ecosystem::kNpm, "lodahs"};
  store::Advisory named{evil, "MAL-2025-1", "steals tokens", R"(["1.0.1"])", "2025-01-01T00:00:00Z"};
  store::Advisory withdrawn{evil, "MAL-2025-2",          "a mistake", "[]", "2025-01-02T00:00:00Z",
                            "[]", "2025-01-03T00:00:00Z"};
  REQUIRE(sut.store->ImportAdvisoriesSync({named, withdrawn}).ok());
  sut.Complete(evil, 2.5);
  scoring::PopularPackages popular;
  popular.Add(core::Ecosystem::kNpm, "lodash", 50'000'000);
  popular.Index();

  auto knowledge = gateway::KnowledgeOf(*sut.store, &popular, evil);
  REQUIRE(knowledge.ok());
  CHECK(knowledge->checked);
  REQUIRE(knowledge->advisories.size() == 1);  // the withdrawn one never blocks
  CHECK(knowledge->advisories[0].id == "MAL-2025-1");
  CHECK(knowledge->looks_like == "lodash");
  REQUIRE(knowledge->score.has_value());
  CHECK(*knowledge->score == 2.5);

  gateway::Policy policy;
  CHECK(gateway::Decide(policy, *knowledge, "1.0.1", 0, 0).rule == "malicious");
  auto other = gateway::Decide(policy, *knowledge, "1.0.0", 0, 0);
  CHECK_FALSE(other.refused);
  CHECK(other.rule == "typosquat");  // a warning by default

  // Without the popular lists there is no look-alike; a package never seen has no score.
  auto unseen = gateway::KnowledgeOf(*sut.store, nullptr, {core::Ecosystem::kNpm, "never-seen"});
  REQUIRE(unseen.ok());
  CHECK(unseen->looks_like.empty());
  CHECK_FALSE(unseen->score.has_value());
  CHECK(unseen->advisories.empty());
  CHECK_FALSE(unseen->checked);  // `unscored: deny` refuses it until its first report
}
