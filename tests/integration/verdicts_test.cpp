// Verdicts users can trust, end to end: OSV records (the recorded ones and hand-written
// withdrawn and ranged ones) imported with `pkgtrust import-osv` into the database of a
// running service, then the answers through REST and `pkgtrust score`: react clean once its
// record is withdrawn (and the change on the change log), fsevents malicious only in the
// versions its record's range names.
#include <sys/wait.h>

#include <array>
#include <catch2/catch.hpp>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "app/config.hpp"
#include "app/service.hpp"
#include "support/http_test_client.hpp"
#include "support/replay_server.hpp"
#include "support/test_support.hpp"

using namespace pkgtrust;
using namespace std::chrono_literals;
using core::Ecosystem;
using nlohmann::json;
using testing::ReplayResponse;

namespace {

testing::CommandRun Pkgtrust(const std::string& args) {
  return testing::RunCommand(std::string(PKGTRUST_BINARY) + " " + args);
}

// The report of `path` once `condition` holds for it (the service's report cache lives 2 s).
json ReportWhen(testing::ApiClient& client, const std::string& path, const std::function<bool(const json&)>& condition) {
  json report;
  testing::WaitUntil(
      [&] {
        auto r = client.Get(path);
        report = r.Json();
        return r.status == 200 && condition(report);
      },
      30s);
  return report;
}

}  // namespace

TEST_CASE("advisories end to end: withdrawn records never flag, ranges judge each version", "[integration]") {
  core::SetLogLevel(core::LogLevel::kWarn);
  testing::TempDir dir;
  testing::ReplayServer upstream(2);
  upstream.Add("GET", "/react",
               ReplayResponse{200, {}, testing::ReadText(testing::FixturePath("registry/npm/react.json.gz")), true});
  upstream.Add("GET", "/fsevents",
               ReplayResponse{200, {}, testing::ReadText(testing::FixturePath("registry/npm/fsevents.json"))});
  upstream.Add("GET", "/repos/fsevents/fsevents",
               ReplayResponse{200, {}, R"({"full_name":"fsevents/fsevents","stargazers_count":600,"forks_count":150,
                 "open_issues_count":10,"archived":false,"fork":false,"created_at":"2012-01-01T00:00:00Z",
                 "pushed_at":"2026-10-01T00:00:00Z","default_branch":"master","license":{"spdx_id":"MIT"}})"});
  app::Config config = app::DefaultConfig();
  config.database.path = dir.File("verdicts.db");
  config.server.port = 0;
  std::string base = upstream.BaseUrl();
  config.upstreams = {{"npm", base}, {"npm_downloads", base + "/npm-downloads"}, {"pypi", base}, {"crates", base},
                      {"maven", base}, {"go", base},                               {"github", base}};
  config.log_level = core::LogLevel::kWarn;
  auto service = std::make_unique<app::Service>(config);
  service->Start();
  testing::ApiClient client(fmt::format("http://127.0.0.1:{}", service->http_port()));

  auto react = client.Get("/v1/packages/npm/react?wait=20");
  REQUIRE(react.status == 200);
  CHECK(react.Json()["flags"]["malicious"] == false);
  auto fsevents = client.Get("/v1/packages/npm/fsevents?wait=20");
  REQUIRE(fsevents.status == 200);

  // The recorded records and the hand-written ones: react named in every version, fsevents
  // from 1.0.0 up to 1.2.11.
  std::string db = " --db " + config.database.path;
  auto imported = Pkgtrust("import-osv " + testing::FixturePath("osv") + db);
  INFO(imported.output);
  REQUIRE(imported.exit_code == 0);
  imported = Pkgtrust("import-osv " + testing::FixturePath("osv-handwritten/first") + db);
  INFO(imported.output);
  REQUIRE(imported.exit_code == 0);
  CHECK_THAT(imported.output, Catch::Contains("2 stored packages re-scored, 2 reports changed"));
  json flagged = ReportWhen(client, "/v1/packages/npm/react", [](const json& r) { return r["flags"]["malicious"] == true; });
  CHECK(flagged["flags"]["advisory"] == "MAL-9000-0001");
  CHECK(flagged["score"]["value"] == 0.0);
  auto offset_before = service->store().GetChangeLogBounds()->last;

  // The record is withdrawn by a newer copy: the flag goes, and the change is logged.
  imported = Pkgtrust("import-osv " + testing::FixturePath("osv-handwritten/withdrawing") + db);
  INFO(imported.output);
  REQUIRE(imported.exit_code == 0);
  CHECK_THAT(imported.output, Catch::Contains("0 new, 1 updated, 0 unchanged; 1 stored packages re-scored, 1 reports changed"));
  json clean = ReportWhen(client, "/v1/packages/npm/react", [](const json& r) { return r["flags"]["malicious"] == false; });
  CHECK(clean["flags"]["has_malicious_versions"] == false);
  CHECK(clean["advisories"].empty());
  CHECK(clean["score"]["value"].get<double>() > 0);
  auto changes = service->store().ReadChanges(offset_before, 10);
  REQUIRE(changes.ok());
  REQUIRE(changes->size() == 1);
  CHECK((*changes)[0].key.name == "react");
  CHECK(json::parse((*changes)[0].flags_json)["malicious"] == false);

  // fsevents: the package is not malicious as a whole; the named versions are.
  json report = ReportWhen(client, "/v1/packages/npm/fsevents",
                           [](const json& r) { return r["flags"]["has_malicious_versions"] == true; });
  CHECK(report["flags"]["malicious"] == false);
  CHECK(report["flags"]["malicious_versions"] ==
        json({"1.0.0", "1.0.1", "1.1.0", "1.1.1", "1.2.0", "1.2.4", "1.2.9", "1.2.10"}));
  CHECK(report["flags"]["latest_clean_version"] == "2.3.3");
  CHECK(report["score"]["value"].get<double>() > 0);  // the package is judged by its latest version
  auto version = [&](const std::string& path) { return client.Get(path).Json()["version"]; };
  json v100 = version("/v1/packages/npm/fsevents?version=1.0.0");
  CHECK(v100["exists"] == true);
  CHECK(v100["malicious"] == true);
  CHECK(v100["advisories"] == json({"MAL-9000-0002"}));
  CHECK(v100["score"] == 0.0);
  CHECK(v100["published"] == "2015-01-15T12:00:00.000Z");
  CHECK(v100["install_scripts"]["install"] == "node install.js");
  json v1211 = version("/v1/packages/npm/fsevents?version=1.2.11");
  CHECK(v1211["malicious"] == false);
  CHECK(v1211["score"] == report["score"]["value"]);
  CHECK(version("/v1/packages?purl=pkg:npm/fsevents@1.2.9")["malicious"] == true);
  json unknown = version("/v1/packages/npm/fsevents?version=1.1.7");  // not in the registry, inside the range
  CHECK(unknown["exists"] == false);
  CHECK(unknown["malicious"] == true);
  auto query = client.Post("/v1/packages:query",
                           R"({"packages":["pkg:npm/fsevents@1.2.9",{"ecosystem":"npm","name":"fsevents","version":"2.3.3"},
                               {"purl":"pkg:npm/fsevents@1.0.0","version":"2.3.3"}]})");
  REQUIRE(query.status == 200);
  json results = query.Json()["results"];
  CHECK(results[0]["version"]["malicious"] == true);
  CHECK(results[1]["version"]["malicious"] == false);
  CHECK(results[1]["version"]["latest"] == true);
  CHECK(results[2]["status"] == "invalid");  // two different versions asked at once
  CHECK(client.Get("/v1/packages?purl=pkg:npm/fsevents@1.0.0&version=2.3.3").status == 400);
  CHECK(client.Get("/v1/packages/npm/fsevents?version=").status == 400);
  service->Stop();

  // pkgtrust score answers the same, from the stored report.
  auto score = Pkgtrust("score pkg:npm/fsevents@1.0.0" + db);
  INFO(score.output);
  CHECK(score.exit_code == 0);
  CHECK_THAT(score.output, Catch::Contains("version 1.0.0: score 0.0; MALICIOUS (MAL-9000-0002)"));
  score = Pkgtrust("score npm fsevents 2.3.3 --json" + db);
  REQUIRE(score.exit_code == 0);
  json scored = json::parse(score.output.substr(score.output.find('{')));
  CHECK(scored["version"]["malicious"] == false);
  CHECK(scored["flags"]["latest_clean_version"] == "2.3.3");
  score = Pkgtrust("score npm react" + db);
  CHECK(score.exit_code == 0);
  CHECK_THAT(score.output, !Catch::Contains("MALICIOUS"));
}

TEST_CASE("a version the stored facts do not list is read again once they are old enough", "[integration]") {
  // The registry publishes 1.0.1 after the first run; a lookup of 1.0.1 then reads it again
  // when the facts are older than api.unlisted_version_recheck_seconds, not before.
  auto packument = [](std::vector<std::string> versions) {
    json doc = {{"name", "late-release"}, {"dist-tags", {{"latest", versions.back()}}}};
    for (const std::string& v : versions) {
      doc["versions"][v] = {{"name", "late-release"}, {"version", v}};
      doc["time"][v] = "2026-01-01T00:00:00.000Z";
    }
    return ReplayResponse{200, {}, doc.dump()};
  };
  for (bool due : {false, true}) {
    INFO("facts old enough for a recheck: " << due);
    testing::TempDir dir;
    testing::ReplayServer upstream(1);
    upstream.Add("GET", "/late-release",
                 std::vector<ReplayResponse>{packument({"1.0.0"}), packument({"1.0.0", "1.0.1"})});
    app::Config config = app::DefaultConfig();
    config.database.path = dir.File("late.db");
    config.server.port = 0;
    config.lookup.unlisted_version_recheck =
        due ? std::chrono::milliseconds(0) : std::chrono::milliseconds(3600'000);
    std::string base = upstream.BaseUrl();
    config.upstreams = {{"npm", base},   {"npm_downloads", base + "/npm-downloads"},
                        {"pypi", base},  {"crates", base},
                        {"maven", base}, {"go", base},
                        {"github", base}};
    config.log_level = core::LogLevel::kWarn;
    app::Service service(config);
    service.Start();
    testing::ApiClient client(fmt::format("http://127.0.0.1:{}", service.http_port()));
    REQUIRE(client.Get("/v1/packages/npm/late-release?wait=20").status == 200);
    REQUIRE(upstream.Hits("GET", "/late-release") == 1);
    // A version the facts list never causes a read.
    CHECK(client.Get("/v1/packages/npm/late-release?version=1.0.0&wait=20").Json()["version"]["exists"] ==
          true);
    CHECK(upstream.Hits("GET", "/late-release") == 1);
    auto answer = client.Get("/v1/packages/npm/late-release?version=1.0.1&wait=20");
    REQUIRE(answer.status == 200);
    CHECK(answer.Json()["version"]["exists"] == due);
    CHECK(upstream.Hits("GET", "/late-release") == (due ? 2 : 1));
    // The same through a batch query (the path `pkgtrust check` takes).
    auto query =
        client.Post("/v1/packages:query", R"({"packages": ["pkg:npm/late-release@1.0.1"], "wait": 20})");
    REQUIRE(query.status == 200);
    CHECK(query.Json()["results"][0]["version"]["exists"] == due);
    service.Stop();
  }
}
