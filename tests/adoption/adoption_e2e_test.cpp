// Adoption end to end with real clients: npm and pip through the gateway of a `pkgtrust serve`
// child process, from three simulated origins (nginx reverse proxies on loopback that set
// X-Forwarded-For, as a proxy in front of the gateway would); the same npm installs through
// an nginx static mirror whose access log `pkgtrust import-access-log` reads; an advisory
// imported afterwards raises an exposure alert; and no address used reaches the database,
// its WAL or the service's log.
#include <arpa/inet.h>
#include <fmt/format.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "pkgtrust/adoption/adoption.hpp"
#include "support/child_serve.hpp"
#include "support/gateway_fixtures.hpp"
#include "support/nginx.hpp"
#include "support/pkgtrust_process.hpp"
#include "support/sse_client.hpp"

using namespace pkgtrust;
using namespace std::chrono_literals;
using namespace testing::gateway_fixtures;
using nlohmann::json;

namespace {

// The three simulated clients, as a proxy would name them.
const std::vector<std::string> kOrigins = {"10.20.1.7", "10.20.2.7", "2001:db8:30::7"};

// A static npm mirror in `root`: each package's packument at <name>/index.json with its
// tarball URLs on "http://MIRROR" (nginx's sub_filter puts the host asked in its place), the
// tarballs packed by `npm pack` beside it.
void WriteStaticMirror(const testing::TempDir& dir, const std::string& root,
                       const std::vector<NpmFixture>& fixtures) {
  std::string specs;
  for (const NpmFixture& f : fixtures) {
    std::filesystem::path src = dir.path() / "mirror-src" / (f.name + "-" + f.version);
    std::filesystem::create_directories(src);
    json manifest = {{"name", f.name}, {"version", f.version}, {"main", "index.js"}, {"license", "MIT"}};
    if (!f.dependencies.empty()) manifest["dependencies"] = f.dependencies;
    testing::WriteText((src / "package.json").string(), manifest.dump());
    testing::WriteText((src / "index.js").string(), "module.exports = 1;\n");
    specs += " " + src.string();
  }
  std::filesystem::create_directories(dir.path() / "mirror-packs");
  Run pack = RunCommand(fmt::format("cd {} && npm pack --silent --pack-destination {} {}",
                                    dir.path().string(), (dir.path() / "mirror-packs").string(), specs));
  INFO(pack.output);
  REQUIRE(pack.exit_code == 0);
  std::map<std::string, json> packuments;
  for (const NpmFixture& f : fixtures) {
    std::string file = f.name + "-" + f.version + ".tgz";
    std::string tarball = testing::ReadText((dir.path() / "mirror-packs" / file).string());
    REQUIRE(!tarball.empty());
    std::filesystem::create_directories(root + "/" + f.name + "/-");
    testing::WriteText(root + "/" + f.name + "/-/" + file, tarball);
    json& doc = packuments[f.name];
    doc["name"] = f.name;
    json version = {{"name", f.name},
                    {"version", f.version},
                    {"dist",
                     {{"tarball", "http://MIRROR/" + f.name + "/-/" + file},
                      {"integrity", "sha512-" + Base64(Digest(EVP_sha512(), tarball))},
                      {"shasum", Hex(Digest(EVP_sha1(), tarball))}}}};
    if (!f.dependencies.empty()) version["dependencies"] = f.dependencies;
    doc["versions"][f.version] = version;
    doc["time"][f.version] = f.published;
    doc["dist-tags"]["latest"] = f.version;
  }
  for (const auto& [name, doc] : packuments)
    testing::WriteText(root + "/" + name + "/index.json", doc.dump());
}

std::string StaticServer(int port, const std::string& root, const std::string& log) {
  return fmt::format(
      "  server {{\n    listen 127.0.0.1:{};\n    root {};\n    {}\n"
      "    set_real_ip_from 127.0.0.1; real_ip_header X-Forwarded-For;\n"
      "    location / {{ default_type application/json; try_files $uri $uri/index.json =404;\n"
      "      sub_filter 'http://MIRROR' 'http://$http_host'; sub_filter_once off; sub_filter_types "
      "application/json; }}\n"
      "  }}\n",
      port, root, log);
}

std::string ProxyServer(int port, int to, const std::string& origin) {
  return fmt::format(
      "  server {{\n    listen 127.0.0.1:{};\n    access_log off;\n    location / {{ proxy_pass "
      "http://127.0.0.1:{};\n"
      "      proxy_set_header Host $http_host; proxy_set_header X-Forwarded-For {}; }}\n  }}\n",
      port, to, origin);
}

// npm install of `dependencies` in a project of its own, with a cache of its own (each
// origin downloads every file).
Run NpmInstall(const testing::TempDir& dir, const std::string& name, const std::string& registry,
               const json& dependencies) {
  std::string project = Project(dir, name, dependencies);
  return RunCommand(
      fmt::format("cd {} && npm install --no-audit --registry {} --cache {} --userconfig {} --no-fund "
                  "--no-update-notifier",
                  project, registry, dir.File(name + "-cache"), dir.File("npmrc")));
}

// The per-day figures both sides must agree on: downloads, origins and metadata of the
// package row and of each version row.
json Figures(const json& report) {
  json out = json::object();
  for (const auto& day : report["days"])
    out[day["day"].get<std::string>()] = {day["downloads"], day["origins"], day["metadata"]};
  for (const auto& v : report["versions"])
    for (const auto& day : v["days"])
      out[v["version"].get<std::string>() + "@" + day["day"].get<std::string>()] = {day["downloads"],
                                                                                    day["origins"]};
  return out;
}

// Whether `bytes` holds `needle`.
bool Holds(const std::string& bytes, const std::string& needle) {
  return bytes.find(needle) != std::string::npos;
}

}  // namespace

TEST_CASE(
    "adoption e2e: npm and pip through the gateway by three origins, an nginx mirror's log imported, an "
    "alert",
    "[adoption][clients]") {
  testing::TempDir dir;
  testing::WriteText(dir.File("npmrc"), "");
  std::string root = (dir.path() / "mirror").string();
  WriteStaticMirror(dir, root, {{"ad-leaf", "1.0.0"}, {"ad-top", "1.0.0", {{"ad-leaf", "^1.0.0"}}}});
  testing::ReplayServer pypi(1);
  std::string wheel = PublishWheel(pypi, dir, "ad-wheel", "1.0.0");

  // The gateway: its npm upstream is the mirror (server U of the nginx below).
  int upstream_port = testing::FreeLoopbackPort(), mirror_port = testing::FreeLoopbackPort();
  std::string more = fmt::format(
      "gateway:\n  trusted_proxies: [\"127.0.0.1\"]\n  policy:\n    min_release_age_hours: 0\n"
      "adoption:\n  flush_interval_ms: 50\n  process_interval_ms: 100\nlog:\n  level: debug\n");
  testing::ChildServe child(dir, pypi.BaseUrl(), "", more);
  // ChildServe points every upstream at the replay server; npm goes to the mirror instead.
  // (The config is read at start: rewrite it and start once more.)
  child.Kill(SIGTERM);
  std::string yaml = testing::ReadText(dir.File("child.yaml"));
  std::size_t npm_line = yaml.find("  npm: ");
  REQUIRE(npm_line != std::string::npos);
  yaml.replace(npm_line, yaml.find('\n', npm_line) - npm_line,
               fmt::format("  npm: \"http://127.0.0.1:{}\"", upstream_port));
  testing::WriteText(dir.File("child.yaml"), yaml);
  pid_t serve = testing::SpawnPkgtrust({"serve", "--config", dir.File("child.yaml")}, dir.File("serve.log"));
  std::string base = yaml.substr(yaml.find("listen: \"") + 9);
  base = "http://" + base.substr(0, base.find('"'));
  int gateway_port = std::stoi(base.substr(base.rfind(':') + 1));
  testing::ApiClient client(base);
  REQUIRE(testing::WaitUntil([&] { return client.Get("/readyz").status == 200; }, 30s));

  std::vector<int> gateway_proxies, mirror_proxies;
  std::string servers =
      StaticServer(upstream_port, root, "access_log off;") +
      StaticServer(mirror_port, root,
                   "access_log " + (dir.path() / "nginx/logs/mirror.log").string() + " combined;");
  for (const std::string& origin : kOrigins) {
    gateway_proxies.push_back(testing::FreeLoopbackPort());
    mirror_proxies.push_back(testing::FreeLoopbackPort());
    servers += ProxyServer(gateway_proxies.back(), gateway_port, origin);
    servers += ProxyServer(mirror_proxies.back(), mirror_port, origin);
  }
  std::vector<int> ports = {upstream_port, mirror_port};
  ports.insert(ports.end(), gateway_proxies.begin(), gateway_proxies.end());
  ports.insert(ports.end(), mirror_proxies.begin(), mirror_proxies.end());
  testing::Nginx nginx(dir, servers, ports);

  // Each origin installs ad-top (and with it ad-leaf) through the gateway, and once more
  // through the mirror; the first two also download the wheel through the gateway.
  for (std::size_t i = 0; i < kOrigins.size(); ++i) {
    Run through_gateway = NpmInstall(dir, fmt::format("gw{}", i),
                                     fmt::format("http://127.0.0.1:{}/registry/npm/", gateway_proxies[i]),
                                     {{"ad-top", "^1.0.0"}});
    INFO(through_gateway.output);
    REQUIRE(through_gateway.exit_code == 0);
    Run through_mirror =
        NpmInstall(dir, fmt::format("mirror{}", i), fmt::format("http://127.0.0.1:{}/", mirror_proxies[i]),
                   {{"ad-top", "^1.0.0"}});
    INFO(through_mirror.output);
    REQUIRE(through_mirror.exit_code == 0);
    if (i < 2) {
      Run pip = RunCommand(fmt::format(
          "COLUMNS=500 /usr/bin/python3 -m pip download --no-deps --no-cache-dir --disable-pip-version-check "
          "--isolated --index-url http://127.0.0.1:{}/registry/pypi/simple/ -d {} ad-wheel",
          gateway_proxies[i], dir.File(fmt::format("wheels{}", i))));
      INFO(pip.output);
      REQUIRE(pip.exit_code == 0);
      CHECK(std::filesystem::exists(dir.File(fmt::format("wheels{}/{}", i, wheel))));
    }
  }

  // Downloads, unique origins and metadata requests as the gateway counted them.
  auto report = [&](const std::string& path) { return json::parse(client.Get(path).body); };
  REQUIRE(testing::WaitUntil(
      [&] {
        return report("/v1/adoption/npm/ad-leaf")["totals"]["downloads"] == 3 &&
               report("/v1/adoption/pypi/ad-wheel")["totals"]["downloads"] == 2;
      },
      20s));
  json leaf = report("/v1/adoption/npm/ad-leaf");
  INFO(leaf.dump());
  REQUIRE(leaf["days"].size() == 1);
  CHECK(leaf["days"][0]["origins"] == 3);
  REQUIRE(leaf["versions"].size() == 1);
  CHECK(leaf["versions"][0]["version"] == "1.0.0");
  CHECK(leaf["versions"][0]["days"][0]["downloads"] == 3);
  CHECK(leaf["versions"][0]["days"][0]["origins"] == 3);
  json top = report("/v1/adoption/npm/ad-top");
  CHECK(top["totals"]["downloads"] == 3);
  CHECK(top["days"][0]["origins"] == 3);
  // npm resolves each package once per install: one packument request per origin.
  CHECK(leaf["totals"]["metadata"] == 3);
  CHECK(top["totals"]["metadata"] == 3);
  json wheel_report = report("/v1/adoption/pypi/ad-wheel");
  INFO(wheel_report.dump());
  CHECK(wheel_report["days"][0]["origins"] == 2);
  CHECK(wheel_report["versions"][0]["days"][0]["downloads"] == 2);
  CHECK(wheel_report["totals"]["metadata"] == 2);  // the project page, once per pip
  json ranking = report("/v1/adoption/top?ecosystem=npm");
  REQUIRE(ranking["packages"].size() == 2);
  CHECK(ranking["packages"][0]["downloads"] == 3);
  std::string metrics = client.Get("/metrics").body;
  CHECK(testing::MetricValue(metrics, "pkgtrust_adoption_events_total", "kind=\"download\"") == 8);
  CHECK(testing::MetricValue(metrics, "pkgtrust_adoption_first_seen_total") == 3);

  // The mirror's access log, imported into a database of its own, gives the same figures.
  std::string mirror_log = (dir.path() / "nginx/logs/mirror.log").string();
  std::string imported_db = dir.File("imported.db");
  REQUIRE(testing::RunPkgtrust({"import-access-log", mirror_log, "--format", "nginx-combined", "--ecosystem",
                                "npm", "--db", imported_db},
                               dir.File("import.log")) == 0);
  INFO(testing::ReadText(dir.File("import.log")));
  for (const char* name : {"ad-leaf", "ad-top"}) {
    REQUIRE(testing::RunPkgtrust({"adoption", "npm", name, "--json", "--db", imported_db},
                                 dir.File("adoption.json")) == 0);
    json imported = json::parse(testing::ReadText(dir.File("adoption.json")));
    json gateway = report(std::string("/v1/adoption/npm/") + name);
    CHECK(Figures(imported) == Figures(gateway));
    CHECK(imported["totals"]["downloads"] == 3);
  }

  // A malicious advisory for ad-leaf after the installs: an alert naming the version and
  // its three origins, on /v1/alerts and on the change stream.
  REQUIRE(testing::WaitUntil([&] { return client.Get("/v1/packages/npm/ad-leaf").status == 200; }, 30s));
  std::filesystem::create_directories(dir.path() / "osv");
  testing::WriteText(
      dir.File("osv/MAL-2026-9001.json"),
      json{
          {"id", "MAL-2026-9001"},
          {"modified", "2026-01-02T00:00:00Z"},
          {"published", "2026-01-02T00:00:00Z"},
          {"summary", "Malicious code in ad-leaf (npm)"},
          {"affected", {{{"package", {{"ecosystem", "npm"}, {"name", "ad-leaf"}}}, {"versions", {"1.0.0"}}}}}}
          .dump());
  REQUIRE(testing::RunPkgtrust({"import-osv", dir.File("osv"), "--config", dir.File("child.yaml")},
                               dir.File("import-osv.log")) == 0);
  REQUIRE(testing::WaitUntil([&] { return !report("/v1/alerts")["alerts"].empty(); }, 20s));
  json alerts = report("/v1/alerts?open=true");
  INFO(alerts.dump());
  REQUIRE(alerts["alerts"].size() == 1);
  json alert = alerts["alerts"][0];
  CHECK(alert["name"] == "ad-leaf");
  CHECK(alert["reason"] == "malicious");
  CHECK(alert["detail"] == "MAL-2026-9001");
  CHECK(alert["origins"] == 3);
  CHECK(alert["downloads"] == 3);
  REQUIRE(alert["versions"].size() == 1);
  CHECK(alert["versions"][0]["version"] == "1.0.0");
  CHECK(alert["versions"][0]["origins"] == 3);
  testing::SseClient stream(gateway_port, "/v1/changes?offset=0");
  bool seen = false;
  while (auto event = stream.Next(10s)) {
    if (event->event != "alert") continue;
    json data = json::parse(event->data);
    CHECK(data["name"] == "ad-leaf");
    CHECK(data["alert"]["origins"] == 3);
    CHECK(data["alert"]["versions"][0]["version"] == "1.0.0");
    seen = true;
    break;
  }
  CHECK(seen);

  // No address used was stored or logged: the database, its WAL and the service's log hold
  // none of them, neither as text nor as the address's bytes.
  kill(serve, SIGTERM);
  int status = 0;
  waitpid(serve, &status, 0);
  std::vector<std::string> needles;
  for (const std::string& origin : kOrigins) {
    needles.push_back(origin);
    unsigned char bytes[16];
    bool v6 = origin.find(':') != std::string::npos;
    REQUIRE(inet_pton(v6 ? AF_INET6 : AF_INET, origin.c_str(), bytes) == 1);
    needles.emplace_back(reinterpret_cast<char*>(bytes), v6 ? 16 : 4);
  }
  std::string db_path = dir.File("child.db");
  std::vector<std::string> files = {db_path, db_path + "-wal", dir.File("serve.log"), imported_db,
                                    imported_db + "-wal"};
  std::size_t searched = 0;
  for (const std::string& file : files) {
    std::string bytes = testing::ReadText(file);
    searched += bytes.size();
    for (const std::string& needle : needles) {
      INFO(file);
      CHECK_FALSE(Holds(bytes, needle));
    }
  }
  CHECK(searched > 100'000);  // the database and the log were there to search
  // The log they came through did hold them (the search finds what is there).
  CHECK(Holds(testing::ReadText(mirror_log), kOrigins[0]));
}
