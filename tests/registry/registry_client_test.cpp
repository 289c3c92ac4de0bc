// The five registry adapters over real HTTP against the replay upstream, answering with
// recorded documents (and recorded-style edge cases where none was recorded).
#include "pkgtrust/registry/registry_client.hpp"

#include <catch2/catch.hpp>
#include <future>

#include "pkgtrust/core/json_limits.hpp"
#include "pkgtrust/core/time.hpp"
#include "pkgtrust/registry/parsers.hpp"
#include "support/replay_server.hpp"
#include "support/test_support.hpp"

using namespace pkgtrust;
using namespace std::chrono_literals;
using core::Ecosystem;
using testing::ReplayResponse;

namespace {

std::string Fixture(const std::string& name) {
  return testing::ReadText(testing::FixturePath("registry/" + name));
}

struct Upstream {
  explicit Upstream(std::size_t max_body_bytes = 1u << 20) : http(Config()) {
    std::string base = server.BaseUrl();
    endpoints = {base, base + "/npm-downloads", base, base, base + "/maven2", base};
    client = std::make_unique<registry::RegistryClient>(
        http, endpoints,
        registry::RegistryOptions{.timeout = 5s, .max_body_bytes = max_body_bytes, .max_attempts = 3});
  }
  static net::HttpClientConfig Config() {
    net::HttpClientConfig config;
    config.retry.base = 5ms;
    config.retry.max = 10ms;
    return config;
  }
  registry::RegistryResult Fetch(Ecosystem eco, const std::string& name) {
    std::promise<registry::RegistryResult> promise;
    client->Fetch({eco, name}, [&](registry::RegistryResult r) { promise.set_value(std::move(r)); });
    return promise.get_future().get();
  }
  registry::PackageFacts Found(Ecosystem eco, const std::string& name) {
    auto r = Fetch(eco, name);
    INFO(r.status().message());
    REQUIRE(r.ok());
    REQUIRE(r->has_value());
    return std::move(**r);
  }

  testing::ReplayServer server;
  net::BeastHttpClient http;
  registry::RegistryEndpoints endpoints;
  std::unique_ptr<registry::RegistryClient> client;
};

}  // namespace

TEST_CASE("npm adapter: packument and downloads, scoped names, 404, retries, bad bodies",
          "[registry][adapters]") {
  Upstream up;
  up.server.Add("GET", "/lodash",
                ReplayResponse{200, {{"Content-Type", "application/json"}}, Fixture("npm/lodash.json")});
  up.server.Add(
      "GET", "/npm-downloads/downloads/point/last-month/lodash",
      ReplayResponse{
          200, {}, R"({"downloads":250000000,"start":"2026-10-22","end":"2026-11-20","package":"lodash"})"});
  auto lodash = up.Found(Ecosystem::kNpm, "lodash");
  CHECK(lodash.latest_version == "4.17.21");
  CHECK(lodash.downloads_last_month == 250000000);

  // Scoped names are one encoded path segment; the downloads API being down is not fatal.
  up.server.Add("GET", "/@dependabot-fixtures%2Fexample",
                ReplayResponse{200, {}, Fixture("npm/attestation_changes.json")});
  up.server.Add("GET", "/npm-downloads/downloads/point/last-month/@dependabot-fixtures/example",
                ReplayResponse{503});
  auto scoped = up.Found(Ecosystem::kNpm, "@dependabot-fixtures/example");
  CHECK(scoped.latest_version == "1.3.0");
  CHECK(scoped.downloads_last_month == -1);

  up.server.Add("GET", "/no-such-package", ReplayResponse{404, {}, R"({"error":"Not found"})"});
  auto missing = up.Fetch(Ecosystem::kNpm, "no-such-package");
  REQUIRE(missing.ok());
  CHECK_FALSE(missing->has_value());

  up.server.Add("GET", "/flaky", std::vector<ReplayResponse>{{500}, {200, {}, Fixture("npm/crossenv.json")}});
  CHECK(up.Found(Ecosystem::kNpm, "flaky").security_holder);
  CHECK(up.server.Hits("GET", "/flaky") == 2);

  up.server.Add("GET", "/broken", ReplayResponse{200, {}, Fixture("npm/invalid.json")});
  auto broken = up.Fetch(Ecosystem::kNpm, "broken");
  REQUIRE_FALSE(broken.ok());
  CHECK_THAT(broken.status().message(), Catch::Contains("invalid JSON"));

  up.server.Add("GET", "/huge", ReplayResponse{200, {}, std::string(2u << 20, ' ')});
  auto huge = up.Fetch(Ecosystem::kNpm, "huge");
  REQUIRE_FALSE(huge.ok());
  CHECK(huge.status().code() == core::StatusCode::kResourceExhausted);

  up.server.Add("GET", "/forbidden", ReplayResponse{403, {}, "{}"});
  auto forbidden = up.Fetch(Ecosystem::kNpm, "forbidden");
  REQUIRE_FALSE(forbidden.ok());
  CHECK_THAT(forbidden.status().message(), Catch::Contains("HTTP 403"));
}

TEST_CASE("a README longer than 1 MiB is dropped before the packument is parsed; the rest is read",
          "[registry][adapters]") {
  Upstream up(8u << 20);
  auto packument = [](std::size_t readme_bytes) {
    return R"({"name":"wordy","dist-tags":{"latest":"2.0.0"},"readme":")" + std::string(readme_bytes, 'r') +
           R"(","versions":{"1.0.0":{"name":"wordy","version":"1.0.0"},"2.0.0":{"name":"wordy","version":"2.0.0",)"
           R"("scripts":{"postinstall":"node setup.js"}}},"time":{"2.0.0":"2026-01-02T00:00:00Z"}})";
  };
  up.server.Add("GET", "/wordy", ReplayResponse{200, {}, packument(core::kMaxJsonStringBytes + 1)});
  up.server.Add("GET", "/wordy-within", ReplayResponse{200, {}, packument(core::kMaxJsonStringBytes)});
  for (const char* name : {"wordy", "wordy-within"}) {
    INFO(name);
    auto facts = up.Found(Ecosystem::kNpm, name);
    CHECK(facts.latest_version == "2.0.0");
    REQUIRE(facts.versions.size() == 2);
    REQUIRE(facts.FindVersion("2.0.0") != nullptr);
    CHECK(facts.FindVersion("2.0.0")->install_scripts.size() == 1);
  }
}

TEST_CASE("pypi adapter", "[registry][adapters]") {
  Upstream up;
  up.server.Add("GET", "/pypi/flask/json", ReplayResponse{200, {}, Fixture("pypi/flask.json")});
  auto flask = up.Found(Ecosystem::kPypi, "flask");
  CHECK(flask.latest_version == "3.1.2");
  CHECK(flask.repository->Url() == "https://github.com/pallets/flask");
  auto missing = up.Fetch(Ecosystem::kPypi, "not-on-pypi");  // the replay answers 404 for unknown paths
  REQUIRE(missing.ok());
  CHECK_FALSE(missing->has_value());
  up.server.Add(
      "GET", "/pypi/slow/json",
      std::vector<ReplayResponse>{{429, {{"Retry-After", "0"}}}, {200, {}, Fixture("pypi/psycopg2.json")}});
  CHECK(up.Found(Ecosystem::kPypi, "slow").latest_version == "2.6.2");
}

TEST_CASE("crates adapter: crate document and owners", "[registry][adapters]") {
  Upstream up;
  up.server.Add("GET", "/api/v1/crates/libc", ReplayResponse{200, {}, Fixture("crates/libc.json")});
  up.server.Add(
      "GET", "/api/v1/crates/libc/owners",
      ReplayResponse{
          200,
          {},
          R"({"users":[{"id":1,"login":"rust-lang-owner","kind":"user"},{"id":2,"login":"JohnTitor"}]})"});
  auto libc = up.Found(Ecosystem::kCrates, "libc");
  CHECK(libc.latest_version == "0.2.147");
  CHECK(libc.maintainers == std::vector<std::string>{"rust-lang-owner", "JohnTitor"});
  up.server.Add("GET", "/api/v1/crates/nope", ReplayResponse{404, {}, Fixture("crates/not_found.json")});
  auto missing = up.Fetch(Ecosystem::kCrates, "nope");
  REQUIRE(missing.ok());
  CHECK_FALSE(missing->has_value());
}

TEST_CASE("maven adapter: metadata, the latest POM and its parent chain (recorded jaxb-runtime)",
          "[registry][adapters]") {
  Upstream up;
  up.server.LoadCassette(testing::FixturePath("registry/maven/jaxb-runtime"));
  auto jaxb = up.Found(Ecosystem::kMaven, "org.glassfish.jaxb:jaxb-runtime");
  CHECK(jaxb.latest_version == "4.0.5");
  CHECK(jaxb.versions.size() == 41);
  CHECK(jaxb.description == "JAXB (JSR 222) Reference Implementation");
  CHECK(jaxb.homepage == "https://eclipse-ee4j.github.io/jaxb-ri/");
  // Neither the POM nor its first parent has <scm> or <licenses>: both come from jaxb-parent.
  CHECK(jaxb.repository_declared == "https://github.com/eclipse-ee4j/jaxb-ri.git");
  REQUIRE(jaxb.repository);
  CHECK(jaxb.repository->Url() == "https://github.com/eclipse-ee4j/jaxb-ri");
  CHECK(jaxb.license == "Eclipse Distribution License - v 1.0");
  CHECK(jaxb.FindVersion("4.0.5")->published == *core::ParseTimestamp("2024-03-06T06:01:04Z"));
  CHECK(jaxb.modified == *core::ParseTimestamp("2024-03-07T07:52:57Z"));
  // The latest POM keeps failing: an error naming the URL (and nothing leaks).
  up.server.Add("GET", "/maven2/org/example/broken/maven-metadata.xml",
                ReplayResponse{200,
                               {},
                               "<metadata><versioning><release>1.0</release><versions><version>1.0</version>"
                               "</versions></versioning></metadata>"});
  up.server.Add("GET", "/maven2/org/example/broken/1.0/broken-1.0.pom", ReplayResponse{503});
  auto broken = up.Fetch(Ecosystem::kMaven, "org.example:broken");
  REQUIRE_FALSE(broken.ok());
  CHECK_THAT(broken.status().message(), Catch::Contains("broken-1.0.pom answered HTTP 503"));
  auto missing = up.Fetch(Ecosystem::kMaven, "org.example:missing");
  REQUIRE(missing.ok());
  CHECK_FALSE(missing->has_value());
}

TEST_CASE("go adapter: list, latest, retractions and publish times (recorded gorp/v3)",
          "[registry][adapters]") {
  Upstream up;
  up.server.LoadCassette(testing::FixturePath("registry/go/gorp"));
  auto gorp = up.Found(Ecosystem::kGo, "github.com/go-gorp/gorp/v3");
  CHECK(gorp.latest_version == "v3.1.0");
  REQUIRE(gorp.versions.size() == 6);
  CHECK(gorp.repository->Url() == "https://github.com/go-gorp/gorp");
  for (const char* v : {"v3.0.0", "v3.0.1", "v3.0.2"}) CHECK(gorp.FindVersion(v)->yanked);
  for (const char* v : {"v3.0.4", "v3.0.5", "v3.1.0"}) CHECK_FALSE(gorp.FindVersion(v)->yanked);
  CHECK(gorp.FindVersion("v3.1.0")->published == *core::ParseTimestamp("2022-10-18T18:02:56Z"));
  CHECK(gorp.FindVersion("v3.0.4")->published == *core::ParseTimestamp("2022-10-18T17:42:17Z"));
  CHECK(gorp.FindVersion("v3.0.0")->published == 0);  // no .info was recorded for it
  CHECK(gorp.modified == *core::ParseTimestamp("2022-10-18T18:02:56Z"));
  auto missing = up.Fetch(Ecosystem::kGo, "github.com/nobody/nothing");
  REQUIRE(missing.ok());
  CHECK_FALSE(missing->has_value());
  CHECK(registry::EscapeGoModulePath("github.com/BurntSushi/toml") == "github.com/!burnt!sushi/toml");
}

TEST_CASE("go version order and go.mod retractions", "[registry]") {
  CHECK(registry::CompareGoVersions("v1.10.0", "v1.9.0") > 0);
  CHECK(registry::CompareGoVersions("v1.0.0-rc1", "v1.0.0") < 0);
  CHECK(registry::CompareGoVersions("v2.0.0+incompatible", "v2.0.0") == 0);
  auto mod = registry::ParseGoMod(
      "module example.com/m\n\nretract v1.0.1 // oops\nretract (\n  [v1.1.0, v1.1.5]\n)\n");
  CHECK(mod.module == "example.com/m");
  CHECK(registry::IsRetracted(mod, "v1.0.1"));
  CHECK(registry::IsRetracted(mod, "v1.1.3"));
  CHECK_FALSE(registry::IsRetracted(mod, "v1.1.6"));
  CHECK(registry::ParseGoVersionList("v1.0.0\nv0.9.0\n\nv1.0.0\n") ==
        std::vector<std::string>{"v0.9.0", "v1.0.0"});
}
