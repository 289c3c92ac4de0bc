// Recorded edge cases (tests/fixtures/replay/edge-cases/routes.json) through the registry
// adapters, and what the pipeline does with answers that stay bad.
#include <catch2/catch.hpp>
#include <future>

#include "app/config.hpp"
#include "app/service.hpp"
#include "pkgtrust/registry/registry_client.hpp"
#include "support/replay_server.hpp"
#include "support/test_stages.hpp"
#include "support/test_support.hpp"

using namespace pkgtrust;
using namespace std::chrono_literals;
using core::Ecosystem;

namespace {

registry::RegistryResult Fetch(registry::RegistryClient& client, Ecosystem eco, const char* name) {
  std::promise<registry::RegistryResult> promise;
  client.Fetch({eco, name}, [&](registry::RegistryResult r) { promise.set_value(std::move(r)); });
  return promise.get_future().get();
}

}  // namespace

TEST_CASE("recorded edge cases through the adapters", "[registry][adapters]") {
  testing::ReplayServer server;
  server.LoadFolder(testing::FixturePath("replay/edge-cases"));
  net::HttpClientConfig config;
  config.retry.base = 5ms;
  config.retry.max = 10ms;
  net::BeastHttpClient http(config);
  std::string base = server.BaseUrl();
  registry::RegistryClient client(http, {base, base, base, base, base, base},
                                  {.timeout = 5s, .max_attempts = 3});

  auto jade = Fetch(client, Ecosystem::kNpm, "jade");
  REQUIRE(jade.ok());
  CHECK_THAT((*jade)->deprecated, Catch::StartsWith("Jade has been renamed to pug"));
  auto libc = Fetch(client, Ecosystem::kCrates, "libc");
  REQUIRE(libc.ok());
  CHECK((*libc)->FindVersion("0.2.145")->yanked);
  auto deptry = Fetch(client, Ecosystem::kPypi, "deptry");
  REQUIRE(deptry.ok());
  CHECK((*deptry)->FindVersion("0.5.8")->yanked);
  auto psycopg2 = Fetch(client, Ecosystem::kPypi, "psycopg2");
  REQUIRE(psycopg2.ok());
  CHECK_FALSE((*psycopg2)->repository.has_value());
  auto nope = Fetch(client, Ecosystem::kCrates, "nope");
  REQUIRE(nope.ok());
  CHECK_FALSE(nope->has_value());
  auto crossenv = Fetch(client, Ecosystem::kNpm, "crossenv");  // 500, then 200
  REQUIRE(crossenv.ok());
  CHECK((*crossenv)->security_holder);
  CHECK(server.Hits("GET", "/crossenv") == 2);
  auto flask = Fetch(client, Ecosystem::kPypi, "flask");  // 429 with Retry-After, then 200
  REQUIRE(flask.ok());
  CHECK((*flask)->latest_version == "3.1.2");
  auto broken = Fetch(client, Ecosystem::kNpm, "broken");
  REQUIRE_FALSE(broken.ok());
  CHECK_THAT(broken.status().message(), Catch::Contains("invalid JSON"));
  auto cut = Fetch(client, Ecosystem::kNpm, "cut-short");
  REQUIRE_FALSE(cut.ok());
  CHECK(server.Hits("GET", "/cut-short") == 3);  // a truncated body is a transport error: retried
}

TEST_CASE("answers that stay bad end failed with the error recorded; nothing crashes",
          "[registry][adapters]") {
  testing::TempDir dir;
  testing::ReplayServer server;
  server.LoadFolder(testing::FixturePath("replay/edge-cases"));
  server.Add("GET", "/enormous", testing::ReplayResponse{200, {}, std::string(3u << 20, ' ')});
  app::Config config = app::DefaultConfig();
  config.database.path = dir.File("bad.db");
  config.server.port = 0;  // any free port: tests run in parallel
  for (const char* upstream : {"npm", "npm_downloads", "pypi", "crates", "maven", "go", "github"})
    config.upstreams[upstream] = server.BaseUrl();  // never the internet
  for (auto& stage : config.stages) {
    stage.max_attempts = 2;
    stage.retry_base = 10ms;
  }
  app::Service service(config);
  service.Start();
  REQUIRE(
      service.pipeline()
          .Submit(
              {{{Ecosystem::kNpm, "broken"}}, {{Ecosystem::kNpm, "cut-short"}}, {{Ecosystem::kNpm, "jade"}}})
          .ok());
  REQUIRE(testing::WaitUntil(
      [&] {
        auto c = service.store().CountByState();
        return c.ok() && c->at(core::PackageState::kFailed) == 2 && c->at(core::PackageState::kComplete) == 1;
      },
      60s));
  auto broken = service.store().Get({Ecosystem::kNpm, "broken"});
  CHECK((*broken)->attempts == 2);
  CHECK_THAT((*broken)->last_error, Catch::Contains("invalid JSON"));
  auto cut = service.store().Get({Ecosystem::kNpm, "cut-short"});
  CHECK_THAT((*cut)->last_error, Catch::Contains("GET " + server.BaseUrl() + "/cut-short"));
  service.Stop();
}
