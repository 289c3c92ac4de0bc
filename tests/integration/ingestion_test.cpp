// The real registry, repository and scoring stages inside the service, over HTTP against the
// replay upstream: one package of each ecosystem is ingested and its facts stored, an
// unknown one ends not_found, and a spent GitHub budget holds the repository stage
// until the reset instead of failing packages.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "app/config.hpp"
#include "app/service.hpp"
#include "pkgtrust/github/repository_facts.hpp"
#include "pkgtrust/pipeline/stage_handlers.hpp"
#include "pkgtrust/registry/package_facts.hpp"
#include "pkgtrust/scoring/model.hpp"
#include "pkgtrust/scoring/osv.hpp"
#include "support/replay_server.hpp"
#include "support/test_stages.hpp"
#include "support/test_support.hpp"

using namespace pkgtrust;
using namespace std::chrono_literals;
using core::Ecosystem;
using testing::ReplayResponse;

namespace {

std::string Fixture(const std::string& name) { return testing::ReadText(testing::FixturePath(name)); }

std::string RepoJson(const std::string& full_name, int stars) {
  return fmt::format(
      R"({{"full_name":"{}","stargazers_count":{},"forks_count":3,"open_issues_count":1,"archived":false,
    "fork":false,"created_at":"2015-01-01T00:00:00Z","pushed_at":"2026-11-01T00:00:00Z","default_branch":"main",
    "license":{{"spdx_id":"MIT"}}}})",
      full_name, stars);
}

app::Config ConfigFor(const testing::TempDir& dir, const testing::ReplayServer& server) {
  app::Config config = app::DefaultConfig();
  config.database.path = dir.File("ingest.db");
  config.server.port = 0;  // any free port: tests run in parallel
  std::string base = server.BaseUrl();
  config.upstreams = {{"npm", base},
                      {"npm_downloads", base + "/npm-downloads"},
                      {"pypi", base},
                      {"crates", base},
                      {"maven", base + "/maven2"},
                      {"go", base},
                      {"github", base}};
  config.reconciler.interval = 1s;
  config.reconciler.stuck_after = 5s;
  for (auto& stage : config.stages) stage.retry_base = 10ms;
  config.log_level = core::LogLevel::kWarn;
  return config;
}

std::optional<std::string> FactOf(store::Store& db, const core::PackageKey& key, const char* kind) {
  auto facts = db.GetFacts(key);
  if (!facts.ok()) return std::nullopt;
  for (const auto& f : *facts)
    if (f.kind == kind) return f.json;
  return std::nullopt;
}

// A minimal packument for 02-echo, a package an OSV record (MAL-2025-191025) names.
void AddEchoPackument(testing::ReplayServer& server) {
  server.Add(
      "GET", "/02-echo",
      ReplayResponse{200, {}, R"({"name":"02-echo","dist-tags":{"latest":"0.0.7"},"versions":{"0.0.7":{}},
               "time":{"0.0.7":"2025-01-10T00:00:00.000Z"}})"});
}

}  // namespace

TEST_CASE("one package of each ecosystem is ingested through the real stages", "[integration]") {
  core::SetLogLevel(core::LogLevel::kWarn);
  testing::TempDir dir;
  testing::ReplayServer server(2);
  server.Add("GET", "/lodash", ReplayResponse{200, {}, Fixture("registry/npm/lodash.json")});
  server.Add("GET", "/npm-downloads/downloads/point/last-month/lodash",
             ReplayResponse{200, {}, R"({"downloads":42})"});
  server.Add("GET", "/pypi/flask/json", ReplayResponse{200, {}, Fixture("registry/pypi/flask.json")});
  server.Add("GET", "/api/v1/crates/libc", ReplayResponse{200, {}, Fixture("registry/crates/libc.json")});
  server.LoadCassette(testing::FixturePath("registry/maven/jaxb-runtime"));
  server.LoadCassette(testing::FixturePath("registry/go/gorp"));
  server.Add("GET", "/pypi/psycopg2/json", ReplayResponse{200, {}, Fixture("registry/pypi/psycopg2.json")});
  for (auto [repo, stars] : std::vector<std::pair<std::string, int>>{{"lodash/lodash", 59000},
                                                                     {"pallets/flask", 68000},
                                                                     {"rust-lang/libc", 2000},
                                                                     {"eclipse-ee4j/jaxb-ri", 200},
                                                                     {"go-gorp/gorp", 3700}})
    server.Add("GET", "/repos/" + repo, ReplayResponse{200, {}, RepoJson(repo, stars)});

  app::Service service(ConfigFor(dir, server));
  service.Start();
  std::vector<core::PackageKey> keys = {{Ecosystem::kNpm, "lodash"},
                                        {Ecosystem::kPypi, "flask"},
                                        {Ecosystem::kCrates, "libc"},
                                        {Ecosystem::kMaven, "org.glassfish.jaxb:jaxb-runtime"},
                                        {Ecosystem::kGo, "github.com/go-gorp/gorp/v3"},
                                        {Ecosystem::kPypi, "psycopg2"}};  // no repository: skips GitHub
  std::vector<store::EnqueueRequest> requests;
  for (const auto& key : keys) requests.push_back({key});
  requests.push_back({{Ecosystem::kNpm, "no-such-package-anywhere"}});
  REQUIRE(service.pipeline().Submit(std::move(requests), "test").ok());

  auto& db = service.store();
  bool done = testing::WaitUntil(
      [&] {
        auto counts = db.CountByState();
        return counts.ok() && counts->at(core::PackageState::kComplete) == 6 &&
               counts->at(core::PackageState::kNotFound) == 1;
      },
      60s);
  auto counts = *db.CountByState();
  INFO("complete " << counts[core::PackageState::kComplete] << ", not_found "
                   << counts[core::PackageState::kNotFound] << ", failed "
                   << counts[core::PackageState::kFailed]);
  REQUIRE(done);

  auto lodash = registry::PackageFacts::FromJson(*FactOf(db, keys[0], store::kRegistryFact));
  REQUIRE(lodash.ok());
  CHECK(lodash->latest_version == "4.17.21");
  CHECK(lodash->downloads_last_month == 42);
  auto lodash_repo = github::RepositoryFacts::FromJson(*FactOf(db, keys[0], store::kRepositoryFact));
  REQUIRE(lodash_repo.ok());
  CHECK(lodash_repo->stars == 59000);
  auto jaxb_repo = github::RepositoryFacts::FromJson(*FactOf(db, keys[3], store::kRepositoryFact));
  CHECK(jaxb_repo->full_name == "eclipse-ee4j/jaxb-ri");
  auto gorp = registry::PackageFacts::FromJson(*FactOf(db, keys[4], store::kRegistryFact));
  CHECK(gorp->FindVersion("v3.0.1")->yanked);
  CHECK_FALSE(FactOf(db, keys[5], store::kRepositoryFact).has_value());  // psycopg2: no repository
  CHECK(FactOf(db, keys[5], store::kRegistryFact).has_value());
  for (const auto& key : keys) {  // every complete package has its report
    auto score = FactOf(db, key, store::kScoreFact);
    REQUIRE(score.has_value());
    auto report = nlohmann::json::parse(*score);
    CHECK(report["model_version"] == scoring::kModelVersion);
    CHECK(report["score"].get<double>() >= 0);
    CHECK(report["score"].get<double>() <= 10);
  }
  CHECK_FALSE(FactOf(db, {Ecosystem::kNpm, "no-such-package-anywhere"}, store::kScoreFact).has_value());
  service.Stop();
}

TEST_CASE("an OSV-listed malicious package is ingested and scores 0 naming the advisory", "[integration]") {
  testing::TempDir dir;
  testing::ReplayServer server;
  AddEchoPackument(server);
  server.Add("GET", "/npm-downloads/downloads/point/last-month/02-echo",
             ReplayResponse{200, {}, R"({"downloads":900})"});
  app::Service service(ConfigFor(dir, server));
  service.Start();
  auto record = scoring::ParseOsvRecord(Fixture("osv/npm/MAL-2025-191025.json"));
  REQUIRE(record.ok());
  REQUIRE(service.store()
              .ImportAdvisoriesSync({{(*record)[0].key, (*record)[0].id, (*record)[0].summary, "[\"0.0.7\"]",
                                      (*record)[0].modified}})
              .ok());
  REQUIRE(service.pipeline().SubmitOne({{Ecosystem::kNpm, "02-echo"}}).ok());
  REQUIRE(testing::WaitUntil(
      [&] { return service.store().CountByState()->at(core::PackageState::kComplete) == 1; }, 30s));
  auto report =
      nlohmann::json::parse(*FactOf(service.store(), {Ecosystem::kNpm, "02-echo"}, store::kScoreFact));
  CHECK(report["score"] == 0.0);
  CHECK(report["flags"]["malicious"] == true);
  CHECK(report["flags"]["advisory"] == "MAL-2025-191025");
  service.Stop();
}

TEST_CASE("rescore applies an advisory imported after scoring, without asking an upstream", "[integration]") {
  testing::TempDir dir;
  testing::ReplayServer server;
  AddEchoPackument(server);
  app::Config config = ConfigFor(dir, server);
  {
    app::Service service(config);
    service.Start();
    REQUIRE(service.pipeline().SubmitOne({{Ecosystem::kNpm, "02-echo"}}).ok());
    REQUIRE(testing::WaitUntil(
        [&] { return service.store().CountByState()->at(core::PackageState::kComplete) == 1; }, 30s));
    service.Stop();
  }
  int requests_before = server.TotalRequests();
  auto db = store::Store::Open(config.database, core::SystemClock::Instance());
  REQUIRE(db.ok());
  auto before = nlohmann::json::parse(*FactOf(**db, {Ecosystem::kNpm, "02-echo"}, store::kScoreFact));
  CHECK(before["flags"]["malicious"] == false);
  REQUIRE((*db)
              ->ImportAdvisoriesSync(
                  {{{Ecosystem::kNpm, "02-echo"}, "MAL-2025-191025", "Malicious code", "[]", "2025-11-25T00:36:47Z"}})
              .ok());
  auto counts = pipeline::RescoreAll(**db, scoring::ModelOptions{}, core::SystemClock::Instance());
  REQUIRE(counts.ok());
  CHECK(counts->scored == 1);
  CHECK(counts->changed == 1);
  auto after = nlohmann::json::parse(*FactOf(**db, {Ecosystem::kNpm, "02-echo"}, store::kScoreFact));
  CHECK(after["score"] == 0.0);
  CHECK(after["flags"]["advisory"] == "MAL-2025-191025");
  CHECK(server.TotalRequests() == requests_before);  // nothing fetched
}

TEST_CASE("a spent GitHub budget holds the repository stage until the reset", "[integration]") {
  testing::TempDir dir;
  testing::ReplayServer server;
  server.Add("GET", "/lodash", ReplayResponse{200, {}, Fixture("registry/npm/lodash.json")});
  std::int64_t reset = std::time(nullptr) + 2;
  server.Add("GET", "/repos/lodash/lodash",
             std::vector<ReplayResponse>{
                 {403,
                  {{"X-RateLimit-Remaining", "0"}, {"X-RateLimit-Reset", std::to_string(reset)}},
                  R"({"message":"API rate limit exceeded"})"},
                 {200, {{"X-RateLimit-Remaining", "4999"}}, RepoJson("lodash/lodash", 1)}});
  app::Service service(ConfigFor(dir, server));
  service.Start();
  REQUIRE(service.pipeline().SubmitOne({{Ecosystem::kNpm, "lodash"}}).ok());
  REQUIRE(testing::WaitUntil(
      [&] { return service.store().CountByState()->at(core::PackageState::kComplete) == 1; }, 30s));
  CHECK(std::time(nullptr) >= reset);
  const pipeline::Stage* repository = nullptr;
  for (const auto& stage : service.pipeline().stages())
    if (stage->config().name == "repository") repository = stage.get();
  REQUIRE(repository != nullptr);
  CHECK(repository->Stats().postponed == 1);
  CHECK(repository->Stats().failed == 0);
  CHECK(server.Hits("GET", "/repos/lodash/lodash") == 2);  // nothing was sent while held
  service.Stop();
}
