// The web page in a real browser: `pkgtrust serve` with the replay upstream, Debian's
// chromium driven by puppeteer-core (tests/web/browser_test.mjs, which holds the steps and
// what each must show). This file prepares the world the page is tried in: the upstream's
// packages, an advisory already in force (for the check page), two to import while the
// live page watches (one while its connection is down), downloads for the adoption page, an admin token. It
// also checks the two API additions the page relies on (GET ...:versions, /v1/changes?snapshot=false) at
// their edges.
#include <fmt/format.h>
#include <signal.h>
#include <stdlib.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <ctime>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>

#include "support/child_serve.hpp"
#include "support/pkgtrust_process.hpp"
#include "support/replay_server.hpp"
#include "support/sse_client.hpp"
#include "support/test_support.hpp"

using namespace pkgtrust;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

constexpr const char* kAdminToken = "web-test-admin-token";

// left-pad's recorded packument under every webpad name (its repository, with three tags),
// expresss (a typosquat of express), gw-evil 1.0.0 and 1.0.1, and webpad-slow answered after
// four seconds: the page must show the wait first.
void ServeUpstream(testing::ReplayServer& upstream) {
  json packument = json::parse(testing::ReadText(testing::FixturePath("registry/npm/left-pad.json")));
  packument["repository"] = {{"type", "git"}, {"url", "git+https://github.com/stevemao/left-pad.git"}};
  upstream.Add("GET", "/repos/stevemao/left-pad",
               testing::ReplayResponse{200, {}, R"({"full_name":"stevemao/left-pad","stargazers_count":1200,
                 "forks_count":300,"open_issues_count":10,"archived":false,"fork":false,
                 "created_at":"2014-03-01T00:00:00Z","pushed_at":"2026-11-01T00:00:00Z",
                 "default_branch":"master","license":{"spdx_id":"WTFPL"}})"});
  upstream.Add(
      "GET", "/repos/stevemao/left-pad/tags?per_page=100",
      testing::ReplayResponse{200, {}, R"([{"name":"v1.3.0"},{"name":"v1.2.0"},{"name":"v1.1.3"}])"});
  upstream.SetGenerator([packument](const std::string& method,
                                    const std::string& target) -> std::optional<testing::ReplayResponse> {
    if (method != "GET") return std::nullopt;
    if (target.starts_with("/downloads/point/last-month/"))
      return testing::ReplayResponse{200, {}, R"({"downloads": 250000})"};
    std::string name = target.substr(1);
    if (name.starts_with("webpad")) {
      json doc = packument;
      doc["name"] = name;
      testing::ReplayResponse response{200, {}, doc.dump()};
      if (name == "webpad-slow") response.delay = 4s;
      return response;
    }
    if (name == "expresss" || name == "gw-evil") {
      json doc = {{"name", name}, {"dist-tags", {{"latest", name == "gw-evil" ? "1.0.1" : "1.0.0"}}}};
      for (const char* version : {"1.0.0", "1.0.1"}) {
        doc["versions"][version] = {{"name", name}, {"version", version}};
        doc["time"][version] = "2025-06-01T00:00:00.000Z";
      }
      return testing::ReplayResponse{200, {}, doc.dump()};
    }
    return std::nullopt;
  });
}

// An access log of the gateway's mirror: webpad's versions downloaded over the last ten days,
// webpad-core's over the last three.
std::string AccessLog() {
  std::string log;
  std::time_t now = std::time(nullptr);
  const char* versions[] = {"1.1.3", "1.2.0", "1.3.0"};
  for (int day = 9; day >= 0; --day) {
    std::time_t at = now - day * 86400 - 3600;
    std::tm tm{};
    gmtime_r(&at, &tm);
    char stamp[64];
    std::strftime(stamp, sizeof stamp, "%d/%b/%Y:%H:%M:%S +0000", &tm);
    for (int v = 0; v < 3; ++v) {
      // Older versions fade, the newest grows: 1.3.0 has (10 - day) origins that day.
      int origins = v == 2 ? 10 - day : v == 1 ? 3 + day / 3 : 1 + day / 2;
      for (int o = 0; o < origins; ++o)
        log += fmt::format(
            "10.{}.{}.5 - - [{}] \"GET /webpad/-/webpad-{}.tgz HTTP/1.1\" 200 1024 \"-\" \"npm/10.2.4 "
            "node/v20.10.0 "
            "linux x64\"\n",
            v + 1, o, stamp, versions[v]);
    }
    if (day < 3)  // webpad-core, which an advisory names later: an exposure alert
      for (int o = 0; o < 2; ++o)
        log += fmt::format(
            "10.9.{}.5 - - [{}] \"GET /webpad-core/-/webpad-core-1.3.0.tgz HTTP/1.1\" 200 1024 \"-\" "
            "\"npm/10.2.4\"\n",
            o, stamp);
  }
  return log;
}

void WriteAdvisory(const std::string& path, const std::string& id, const std::string& name) {
  testing::WriteText(path, json{{"id", id},
                                {"modified", "2026-11-30T08:00:00Z"},
                                {"published", "2026-11-30T08:00:00Z"},
                                {"summary", "Malicious code in " + name + " (npm)"},
                                {"affected", {{{"package", {{"ecosystem", "npm"}, {"name", name}}}}}}}
                               .dump());
}

}  // namespace

TEST_CASE("the web page in chromium: search, package, unknown package, live, check, adoption", "[browser]") {
  testing::TempDir dir;
  testing::ReplayServer upstream(4);
  ServeUpstream(upstream);
  setenv("PKGTRUST_ADMIN_TOKEN", kAdminToken, 1);
  testing::ChildServe serve(dir, upstream.BaseUrl(), "", "log:\n  level: warn\n");
  unsetenv("PKGTRUST_ADMIN_TOKEN");
  testing::ApiClient& client = serve.client();
  const std::string config = dir.File("child.yaml");

  // gw-evil's advisory in force before the page looks (the check page's malicious package).
  std::filesystem::create_directories(dir.path() / "osv-before");
  WriteAdvisory(dir.File("osv-before/MAL-2026-9200.json"), "MAL-2026-9200", "gw-evil");
  REQUIRE(testing::RunPkgtrust({"import-osv", dir.File("osv-before"), "--config", config},
                               dir.File("import-before.log")) == 0);
  for (const char* name : {"webpad", "webpad-core", "webpad-cli", "expresss", "gw-evil"}) {
    INFO(name);
    REQUIRE(client.Get(fmt::format("/v1/packages/npm/{}?wait=20", name)).status == 200);
  }

  // The version timeline: newest publish first (the recorded packument's times, where 0.0.2
  // is the newest); v1.3.0, v1.2.0 and v1.1.3 are the repository's tags (no dates without a
  // GitHub token: a named tag counts as near), the rest match none.
  json timeline = client.Get("/v1/packages/npm/webpad:versions?limit=15").Json();
  INFO(timeline.dump());
  REQUIRE(timeline["versions"].size() == 15);
  CHECK(timeline["total_versions"] == 15);
  CHECK(timeline["repository"] == "stevemao/left-pad");
  CHECK(timeline["repository_tags"] == 3);
  CHECK(timeline["versions"][0]["version"] == "0.0.2");
  CHECK(timeline["versions"][0]["published"] == "2026-09-07T12:29:19.736Z");
  CHECK(timeline["versions"][1]["published"] <= timeline["versions"][0]["published"]);
  std::map<std::string, json> by_version;
  for (const json& entry : timeline["versions"]) by_version[entry["version"]] = entry;
  CHECK(by_version["1.3.0"]["latest"] == true);
  CHECK(by_version["1.3.0"]["tag"]["name"] == "v1.3.0");
  CHECK(by_version["1.3.0"]["tag_match"] == "near");
  CHECK(by_version["1.2.0"]["tag_match"] == "near");
  CHECK(by_version["1.1.3"]["tag_match"] == "near");
  CHECK(by_version["1.1.1"]["tag_match"] == "none");
  CHECK(by_version["1.1.1"]["tag"].is_null());
  int near = 0;
  for (const auto& [version, entry] : by_version) near += entry["tag_match"] == "near";
  CHECK(near == 3);
  CHECK(client.Get("/v1/packages/npm/webpad:versions?limit=5").Json()["versions"].size() == 5);
  CHECK(client.Get("/v1/packages/npm/webpad:versions?limit=0").status == 400);
  CHECK(client.Get("/v1/packages/npm/webpad:versions?limit=1001").status == 400);
  CHECK(client.Get("/v1/packages/npm/webpad:versions?limit=1000").status == 200);
  CHECK(client.Get("/v1/packages/npm/webpad:versions?wait=1").status == 400);
  CHECK(client.Get("/v1/packages/npm/never-read:versions").status == 404);
  // A Maven artifact named "versions" is a package, not the timeline route.
  CHECK(client.Get("/v1/packages/maven/org.example:versions?wait=0").status == 202);
  CHECK(client.Get("/v1/packages/maven/org.example:versions:versions").Json()["error"]["code"] ==
        "package_not_read");
  json evil = client.Get("/v1/packages/npm/gw-evil:versions").Json();
  CHECK(evil["repository"].is_null());
  CHECK(evil["versions"][0]["tag_match"] == "no_repository");
  CHECK(evil["versions"][0]["malicious"] == true);

  // The change stream without the state: snapshot_end two offsets before the log's end,
  // then exactly those two changes.
  {
    testing::SseClient all(serve.port(), "/v1/changes");
    std::int64_t last = -1;
    while (auto event = all.Next(10s))
      if (event->event == "snapshot_end") {
        last = json::parse(event->data)["offset"];
        break;
      }
    REQUIRE(last >= 3);
    testing::SseClient tail(serve.port(), "/v1/changes?snapshot=false&tail=2");
    auto first = tail.Next(10s);
    REQUIRE(first);
    CHECK(first->event == "snapshot_end");
    CHECK(json::parse(first->data)["offset"] == last - 2);
    int changes = 0;
    while (auto event = tail.Next(2s)) {
      if (event->event == "snapshot") FAIL("the state was sent");
      if (event->event == "change") changes++;
    }
    CHECK(changes == 2);
  }
  CHECK(client.Get("/v1/changes?tail=2").status == 400);  // tail only without the state
  CHECK(client.Get("/v1/changes?snapshot=false&tail=10001").status == 400);
  CHECK(client.Get("/v1/changes?snapshot=maybe").status == 400);

  // Downloads for the adoption page.
  testing::WriteText(dir.File("access.log"), AccessLog());
  REQUIRE(testing::RunPkgtrust({"import-access-log", dir.File("access.log"), "--format", "nginx-combined",
                                "--ecosystem", "npm", "--config", config},
                               dir.File("import-log.log")) == 0);

  // The advisory the browser test imports while the live page watches.
  std::filesystem::create_directories(dir.path() / "osv-live");
  WriteAdvisory(dir.File("osv-live/MAL-2026-9201.json"), "MAL-2026-9201", "webpad-core");
  std::filesystem::create_directories(dir.path() / "osv-live-2");
  WriteAdvisory(dir.File("osv-live-2/MAL-2026-9202.json"), "MAL-2026-9202", "webpad-cli");

  const char* screenshots = std::getenv("PKGTRUST_SCREENSHOT_DIR");
  std::string command = fmt::format(
      "cd {source}/tests/web && PKGTRUST_WEB_BASE={base} PKGTRUST_BIN={bin} PKGTRUST_CONFIG={config} "
      "PKGTRUST_OSV_LIVE={osv} PKGTRUST_OSV_LIVE_2={osv2} PKGTRUST_SERVE_PID={pid} "
      "PKGTRUST_RESTART_PID={restart_pid} PKGTRUST_RESTART_LOG={restart_log} PKGTRUST_ADMIN_TOKEN={token} "
      "PKGTRUST_RESULTS={results} "
      "PKGTRUST_SCREENSHOT_DIR={shots} node browser_test.mjs",
      fmt::arg("source", PKGTRUST_SOURCE_DIR), fmt::arg("base", serve.BaseUrl()),
      fmt::arg("bin", PKGTRUST_BINARY), fmt::arg("config", config), fmt::arg("osv", dir.File("osv-live")),
      fmt::arg("osv2", dir.File("osv-live-2")), fmt::arg("pid", serve.pid()),
      fmt::arg("restart_pid", dir.File("restart.pid")), fmt::arg("restart_log", dir.File("restart.log")),
      fmt::arg("token", kAdminToken), fmt::arg("results", dir.File("results.json")),
      fmt::arg("shots", screenshots ? std::string(screenshots) : dir.File("screenshots")));
  testing::CommandRun run = testing::RunCommand(command);
  serve.Kill(SIGKILL);  // the live step killed it already, unless it failed before
  // The server the live step started again, on the same port and database (not this
  // process's child: gone when /proc no longer lists it, or lists it as a zombie).
  std::string restart_pid = testing::ReadText(dir.File("restart.pid"));
  if (!restart_pid.empty()) {
    pid_t restarted = std::stoi(restart_pid);
    kill(restarted, SIGTERM);
    testing::WaitUntil(
        [&] {
          std::string status = testing::ReadText(fmt::format("/proc/{}/status", restarted));
          return status.empty() || status.find("State:\tZ") != std::string::npos;
        },
        30s);
  }
  INFO(run.output);
  INFO(serve.Log());
  INFO(testing::ReadText(dir.File("restart.log")));
  CHECK(run.exit_code == 0);
  json results = json::parse(testing::ReadText(dir.File("results.json")), nullptr, false);
  REQUIRE(results.is_object());
  // The first load's transferred bytes (a budget, not a time): under 200 KB.
  CHECK(results["first_load"]["bytes"].get<std::int64_t>() > 10'000);
  CHECK(results["first_load"]["bytes"].get<std::int64_t>() < 200'000);
  CHECK(results["failures"].empty());
}
