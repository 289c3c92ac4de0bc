// The package gateway with real clients: the npm that the scripts install and Debian's pip,
// run against `pkgtrust`'s service (in this process, on a loopback port) in front of the
// replay upstream. The npm packages are small fixture packages packed with `npm pack`; the
// wheel is built here; packuments and the PEP 691 page are written from their bytes.
#include <fmt/format.h>
#include <openssl/evp.h>
#include <sys/wait.h>

#include <array>
#include <catch2/catch.hpp>
#include <cstring>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <random>

#include "app/service.hpp"
#include "support/gateway_fixtures.hpp"
#include "support/http_test_client.hpp"
#include "support/loopback_socket.hpp"
#include "support/replay_server.hpp"
#include "support/test_stages.hpp"
#include "support/test_support.hpp"

using namespace pkgtrust;
using namespace std::chrono_literals;
using nlohmann::json;

using namespace testing::gateway_fixtures;

TEST_CASE("gateway clients: npm installs, audits and is refused through the gateway", "[gateway][clients]") {
  testing::TempDir dir;
  testing::WriteText(dir.File("npmrc"), "");
  testing::ReplayServer upstream(2);
  PublishNpm(upstream, dir,
             {{"gw-leaf", "1.0.0"},
              {"@gw/scoped", "2.0.0"},
              {"gw-mid", "1.0.0", {{"gw-leaf", "^1.0.0"}, {"@gw/scoped", "^2.0.0"}}},
              {"gw-top", "1.0.0", {{"gw-mid", "^1.0.0"}}},
              {"gw-evil", "1.0.0"},
              {"gw-newest", "1.0.0"},
              {"gw-newest", "1.1.0"},
              {"gw-fresh", "1.0.0"},
              {"gw-fresh", "1.1.0", {}, IsoNow(1h)},
              {"gw-corrupt", "1.0.0", {}, "2020-01-01T00:00:00.000Z", true}});
  app::Service service(GatewayConfigFor(dir, upstream));
  service.Start();
  REQUIRE(service.store()
              .ImportAdvisoriesSync({Malicious("gw-evil", "MAL-2099-0001"),
                                     Malicious("gw-newest", "MAL-2099-0002", R"(["1.1.0"])")})
              .ok());
  std::string registry = fmt::format("http://127.0.0.1:{}/registry/npm/", service.http_port());

  // A tree of four with transitive dependencies (one scoped) installs, and npm ls shows it.
  std::string app = Project(dir, "app", {{"gw-top", "^1.0.0"}});
  Run install = RunCommand(Npm(dir, app, registry, "install --no-audit"));
  INFO(install.output);
  REQUIRE(install.exit_code == 0);
  Run tree = RunCommand(Npm(dir, app, registry, "ls --all"));
  INFO(tree.output);
  CHECK(tree.output.find("gw-top@1.0.0") != std::string::npos);
  CHECK(tree.output.find("gw-mid@1.0.0") != std::string::npos);
  CHECK(tree.output.find("gw-leaf@1.0.0") != std::string::npos);
  CHECK(tree.output.find("@gw/scoped@2.0.0") != std::string::npos);  // npm asks for @gw%2fscoped
  CHECK(InstalledVersion(app, "gw-leaf") == "1.0.0");
  CHECK(InstalledVersion(app, "@gw/scoped") == "2.0.0");
  // The lockfile points back at the gateway, not at the upstream.
  std::string lock = testing::ReadText(app + "/package-lock.json");
  CHECK(lock.find(registry + "gw-leaf/-/gw-leaf-1.0.0.tgz") != std::string::npos);
  CHECK(lock.find(upstream.BaseUrl()) == std::string::npos);
  CHECK(service.gateway()->FileStats().stored == 4);

  // Every version malicious: the install fails and says which advisory.
  std::string evil = Project(dir, "evil", {{"gw-evil", "*"}});
  Run refused = RunCommand(Npm(dir, evil, registry, "install --no-audit"));
  INFO(refused.output);
  CHECK(refused.exit_code != 0);
  CHECK(refused.output.find("MAL-2099-0001") != std::string::npos);
  CHECK(upstream.Hits("GET", "/gw-evil/-/gw-evil-1.0.0.tgz") == 0);
  // A direct request for its file is refused with the reason.
  testing::ApiClient client(fmt::format("http://127.0.0.1:{}", service.http_port()));
  auto direct = client.Get("/registry/npm/gw-evil/-/gw-evil-1.0.0.tgz");
  CHECK(direct.status == 403);
  CHECK(direct.body.find("MAL-2099-0001") != std::string::npos);

  // Only the newest version malicious: npm installs the one before it.
  std::string newest = Project(dir, "newest", {{"gw-newest", "^1.0.0"}});
  Run stepped = RunCommand(Npm(dir, newest, registry, "install --no-audit"));
  INFO(stepped.output);
  REQUIRE(stepped.exit_code == 0);
  CHECK(InstalledVersion(newest, "gw-newest") == "1.0.0");

  // A version younger than min_release_age_hours (48) is not installed; the older one is.
  std::string fresh = Project(dir, "fresh", {{"gw-fresh", "^1.0.0"}});
  Run aged = RunCommand(Npm(dir, fresh, registry, "install --no-audit"));
  INFO(aged.output);
  REQUIRE(aged.exit_code == 0);
  CHECK(InstalledVersion(fresh, "gw-fresh") == "1.0.0");
  CHECK(upstream.Hits("GET", "/gw-fresh/-/gw-fresh-1.1.0.tgz") == 0);

  // A tarball whose bytes do not match the published hash is refused and never cached:
  // the next request goes to the upstream again.
  std::string corrupt = Project(dir, "corrupt", {{"gw-corrupt", "1.0.0"}});
  Run mismatch = RunCommand(Npm(dir, corrupt, registry, "install --no-audit"));
  INFO(mismatch.output);
  CHECK(mismatch.exit_code != 0);
  int fetched = upstream.Hits("GET", "/gw-corrupt/-/gw-corrupt-1.0.0.tgz");
  CHECK(fetched >= 1);
  // Straight at the gateway: the transfer is cut before its last byte (no whole answer).
  auto again = client.Get("/registry/npm/gw-corrupt/-/gw-corrupt-1.0.0.tgz");
  CHECK(again.status == 0);
  CHECK_FALSE(again.error.empty());
  CHECK(upstream.Hits("GET", "/gw-corrupt/-/gw-corrupt-1.0.0.tgz") == fetched + 1);
  CHECK(service.gateway()->FileStats().stored == 6);  // gw-newest@1.0.0 and gw-fresh@1.0.0 came in between
  std::string metrics = client.Get("/metrics").body;
  CHECK(testing::MetricValue(metrics, "pkgtrust_gateway_events_total", "event=\"integrity_mismatch\"") ==
        fetched + 1);

  // npm audit through the gateway reports an advisory imported after the install.
  REQUIRE(service.store().ImportAdvisoriesSync({Malicious("gw-leaf", "MAL-2099-0003")}).ok());
  Run audit = RunCommand(Npm(dir, app, registry, "audit"));
  INFO(audit.output);
  CHECK(audit.exit_code != 0);
  CHECK(audit.output.find("gw-leaf") != std::string::npos);
  CHECK(audit.output.find("MAL-2099-0003") != std::string::npos);
  service.Stop();
}

TEST_CASE("gateway clients: pip downloads a wheel through the gateway and is refused a blocked one",
          "[gateway][clients]") {
  testing::TempDir dir;
  testing::ReplayServer upstream(2);
  std::string wheel = PublishWheel(upstream, dir, "gw-wheel", "1.0.0");
  PublishWheel(upstream, dir, "gw-evil-py", "2.0.0");
  app::Service service(GatewayConfigFor(dir, upstream));
  service.Start();
  REQUIRE(service.store()
              .ImportAdvisoriesSync({Malicious("gw-evil-py", "MAL-2099-0101", "[]", core::Ecosystem::kPypi)})
              .ok());
  std::string index = fmt::format("http://127.0.0.1:{}/registry/pypi/simple/", service.http_port());
  auto pip = [&](const std::string& project, const std::string& into) {
    return RunCommand(fmt::format(
        "COLUMNS=500 /usr/bin/python3 -m pip download --no-deps --no-cache-dir --disable-pip-version-check "
        "--isolated --index-url {} -d {} {}",
        index, dir.File(into), project));
  };
  Run fetched = pip("gw-wheel", "wheels");
  INFO(fetched.output);
  REQUIRE(fetched.exit_code == 0);
  CHECK(std::filesystem::exists(dir.File("wheels/" + wheel)));
  CHECK(service.gateway()->FileStats().stored == 1);

  // Every file refused: the page lists them yanked with the reason, so pip finds nothing to
  // take unpinned, and pinned it takes the yanked file and prints the 403's reason.
  Run unpinned = pip("gw-evil-py", "refused");
  INFO(unpinned.output);
  CHECK(unpinned.exit_code != 0);
  Run refused = pip("gw-evil-py==2.0.0", "refused");
  INFO(refused.output);
  CHECK(refused.exit_code != 0);
  CHECK(
      refused.output.find("403 Client Error: blocked by the pkgtrust gateway: gw-evil-py 2.0.0 is malicious: "
                          "advisory MAL-2099-0101") != std::string::npos);
  CHECK_FALSE(std::filesystem::exists(dir.File("refused/gw_evil_py-2.0.0-py3-none-any.whl")));
  CHECK(upstream.Hits("GET", "/pypi-files/packages/ab/cd/gw_evil_py-2.0.0-py3-none-any.whl") == 0);
  service.Stop();
}

TEST_CASE("gateway: metadata revalidated with If-None-Match, served stale while the upstream is down",
          "[gateway]") {
  testing::TempDir dir;
  auto upstream = std::make_unique<testing::ReplayServer>(1);
  std::string packument =
      json{
          {"name", "gw-cached"},
          {"dist-tags", {{"latest", "1.0.0"}}},
          {"versions",
           {{"1.0.0",
             {{"name", "gw-cached"},
              {"version", "1.0.0"},
              {"dist",
               {{"tarball", upstream->BaseUrl() + "/gw-cached/-/gw-cached-1.0.0.tgz"}, {"shasum", "00"}}}}}}},
          {"time", {{"1.0.0", "2020-01-01T00:00:00.000Z"}}}}
          .dump();
  // The first answer carries an ETag; later ones say "not modified".
  upstream->Add("GET", "/gw-cached",
                std::vector<testing::ReplayResponse>{{200, {{"ETag", "\"rev-1\""}}, packument},
                                                     {304, {{"ETag", "\"rev-1\""}}, ""}});
  app::Config config = GatewayConfigFor(dir, *upstream);
  config.gateway.metadata_ttl = 0s;  // every request asks the upstream
  config.gateway.stale_if_error = 3600s;
  testing::TestStages stages;  // the pipeline's own stages never ask this upstream
  app::Service service(config, WithoutUpstream(stages));
  service.Start();
  testing::ApiClient client(fmt::format("http://127.0.0.1:{}", service.http_port()));
  auto first = client.Get("/registry/npm/gw-cached");
  REQUIRE(first.status == 200);
  auto second = client.Get("/registry/npm/gw-cached");
  REQUIRE(second.status == 200);
  CHECK(second.body == first.body);
  CHECK(upstream->Hits("GET", "/gw-cached") == 2);
  bool asked_if_changed = false;
  for (const auto& [name, value] : upstream->LastHeaders("GET", "/gw-cached"))
    if (name == "if-none-match" && value == "\"rev-1\"") asked_if_changed = true;
  CHECK(asked_if_changed);
  // A package the service has no report for was submitted to the pipeline.
  CHECK(testing::WaitUntil([&] { return stages.scoring.invocations() >= 1; }, 10s));

  upstream.reset();  // the upstream is gone: the cached copy is served within stale_if_error
  auto stale = client.Get("/registry/npm/gw-cached");
  CHECK(stale.status == 200);
  CHECK(stale.body == first.body);
  // Never fetched: nothing to fall back on.
  auto missing = client.Get("/registry/npm/gw-never-fetched");
  CHECK(missing.status == 502);
  CHECK(missing.body.find("upstream") != std::string::npos);
  std::string metrics = client.Get("/metrics").body;
  CHECK(testing::MetricValue(metrics, "pkgtrust_gateway_events_total", "event=\"metadata_revalidated\"") ==
        1);
  CHECK(testing::MetricValue(metrics, "pkgtrust_gateway_events_total", "event=\"metadata_stale_served\"") ==
        1);
  service.Stop();
}

TEST_CASE("gateway: past stale_if_error a failing upstream is an error, not old metadata", "[gateway]") {
  testing::TempDir dir;
  auto upstream = std::make_unique<testing::ReplayServer>(1);
  upstream->Add("GET", "/gw-cached",
                testing::ReplayResponse{200, {}, R"({"name":"gw-cached","versions":{}})"});
  app::Config config = GatewayConfigFor(dir, *upstream);
  config.gateway.metadata_ttl = 0s;
  config.gateway.stale_if_error = 0s;
  testing::TestStages stages;
  app::Service service(config, WithoutUpstream(stages));
  service.Start();
  testing::ApiClient client(fmt::format("http://127.0.0.1:{}", service.http_port()));
  REQUIRE(client.Get("/registry/npm/gw-cached").status == 200);
  upstream.reset();
  CHECK(client.Get("/registry/npm/gw-cached").status == 502);
  service.Stop();
}

TEST_CASE("gateway: a configured token is asked of clients, as npm and pip send it", "[gateway]") {
  testing::TempDir dir;
  testing::ReplayServer upstream(1);
  upstream.Add("GET", "/gw-private",
               testing::ReplayResponse{200, {}, R"({"name":"gw-private","versions":{}})"});
  setenv("PKGTRUST_TEST_GATEWAY_TOKEN", "s3cret", 1);
  app::Config config = GatewayConfigFor(dir, upstream);
  config.secrets.gateway_token_env = "PKGTRUST_TEST_GATEWAY_TOKEN";
  testing::TestStages stages;
  app::Service service(config, WithoutUpstream(stages));
  service.Start();
  testing::ApiClient client(fmt::format("http://127.0.0.1:{}", service.http_port()));
  auto anonymous = client.Get("/registry/npm/gw-private");
  CHECK(anonymous.status == 401);
  CHECK(client.Call("GET", "/registry/npm/gw-private", "", {{"Authorization", "Bearer wrong"}}).status ==
        401);
  CHECK(client.Call("GET", "/registry/npm/gw-private", "", {{"Authorization", "Bearer s3cret"}}).status ==
        200);
  // pip: http://anyone:s3cret@host/... ("anyone:s3cret" in base64)
  CHECK(client.Call("GET", "/registry/npm/gw-private", "", {{"Authorization", "Basic YW55b25lOnMzY3JldA=="}})
            .status == 200);
  CHECK(client.Call("GET", "/registry/npm/gw-private", "", {{"Authorization", "Basic YW55b25lOnMzY3JldDI="}})
            .status == 401);                        // anyone:s3cret2
  CHECK(upstream.Hits("GET", "/gw-private") == 1);  // refused requests never reach the upstream
  // The REST API is not behind the gateway's token.
  CHECK(client.Get("/healthz").status == 200);
  service.Stop();
  unsetenv("PKGTRUST_TEST_GATEWAY_TOKEN");
}

TEST_CASE("gateway: a 50 MB tarball streams through with the gateway's peak memory rising less than 10 MB",
          "[gateway]") {
  testing::TempDir dir;
  testing::ReplayServer upstream(1);
  std::string tarball(50u << 20, '\0');
  std::mt19937_64 random(19);
  for (std::size_t i = 0; i + 8 <= tarball.size(); i += 8) {
    std::uint64_t word = random();
    std::memcpy(tarball.data() + i, &word, 8);
  }
  std::string path = "/gw-big/-/gw-big-1.0.0.tgz";
  json packument = {{"name", "gw-big"},
                    {"dist-tags", {{"latest", "1.0.0"}}},
                    {"versions",
                     {{"1.0.0",
                       {{"name", "gw-big"},
                        {"version", "1.0.0"},
                        {"dist",
                         {{"tarball", upstream.BaseUrl() + path},
                          {"integrity", "sha512-" + Base64(Digest(EVP_sha512(), tarball))}}}}}}},
                    {"time", {{"1.0.0", "2020-01-01T00:00:00.000Z"}}}};
  upstream.Add("GET", "/gw-big", testing::ReplayResponse{200, {}, packument.dump()});
  upstream.Add("GET", path, testing::ReplayResponse{200, {}, std::move(tarball)});

  // The gateway in its own process (`pkgtrust serve`), so that its memory is its own.
  int port = testing::FreeLoopbackPort();
  std::string yaml = fmt::format(
      "server:\n  listen: \"127.0.0.1:{}\"\ndatabase:\n  path: {}\nlog:\n  level: warn\nupstreams:\n", port,
      dir.File("serve.db"));
  for (const char* name : {"npm", "npm_downloads", "pypi", "pypi_files", "crates", "maven", "go", "github"})
    yaml += fmt::format("  {}: \"{}\"\n", name, upstream.BaseUrl());
  testing::WriteText(dir.File("serve.yaml"), yaml);
  std::string config_path = dir.File("serve.yaml");
  // Under AddressSanitizer (the test build) freed memory waits in a quarantine before it is
  // reused, which would count every freed chunk as resident: no quarantine for this child.
  std::string asan = std::string("ASAN_OPTIONS=quarantine_size_mb=0:thread_local_quarantine_size_kb=0:") +
                     (std::getenv("ASAN_OPTIONS") ? std::getenv("ASAN_OPTIONS") : "");
  std::string path_env = std::string("PATH=") + (std::getenv("PATH") ? std::getenv("PATH") : "/usr/bin:/bin");
  char* child_env[] = {asan.data(), path_env.data(), nullptr};
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    execle(PKGTRUST_BINARY, PKGTRUST_BINARY, "serve", "--config", config_path.c_str(),
           static_cast<char*>(nullptr), child_env);
    _exit(127);
  }
  std::string base = fmt::format("http://127.0.0.1:{}", port);
  testing::ApiClient client(base);
  bool up = testing::WaitUntil([&] { return client.Get("/readyz").status == 200; }, 30s);
  if (up) {
    REQUIRE(client.Get("/registry/npm/gw-big").status == 200);  // the packument is cached now
    testing::WriteText(fmt::format("/proc/{}/clear_refs", pid), "5");
    long before = testing::ProcessStatusKib(pid, "VmRSS");
    Run download = RunCommand(fmt::format(
        "curl -s -o /dev/null -w '%{{http_code}} %{{size_download}}' {}/registry/npm{}", base, path));
    long peak = testing::ProcessStatusKib(pid, "VmHWM");
    INFO(download.output << "; RSS before " << before << " KiB, peak during " << peak << " KiB");
    CHECK(download.output == fmt::format("200 {}", 50u << 20));
    CHECK(before > 0);
    CHECK(peak - before < 10 * 1024);
    CHECK(upstream.Hits("GET", path) == 1);
  }
  kill(pid, SIGTERM);
  int status = 0;
  waitpid(pid, &status, 0);
  REQUIRE(up);
}

TEST_CASE("gateway: a typosquat is warned about in a header npm prints, counted, and still served",
          "[gateway]") {
  testing::TempDir dir;
  testing::ReplayServer upstream(1);
  std::string body =
      json{{"name", "expresss"},
           {"dist-tags", {{"latest", "1.0.0"}}},
           {"versions",
            {{"1.0.0",
              {{"name", "expresss"},
               {"version", "1.0.0"},
               {"dist",
                {{"tarball", upstream.BaseUrl() + "/expresss/-/expresss-1.0.0.tgz"}, {"shasum", "00"}}}}}}},
           {"time", {{"1.0.0", "2020-01-01T00:00:00.000Z"}}}}
          .dump();
  upstream.Add("GET", "/expresss", testing::ReplayResponse{200, {}, body});
  // A packument whose tarball lives on another host: the file is refused, never fetched.
  std::string elsewhere =
      json{{"name", "gw-elsewhere"},
           {"versions",
            {{"1.0.0",
              {{"name", "gw-elsewhere"},
               {"version", "1.0.0"},
               {"dist", {{"tarball", "http://127.0.0.1:9/gw-elsewhere-1.0.0.tgz"}, {"shasum", "00"}}}}}}}}
          .dump();
  upstream.Add("GET", "/gw-elsewhere", testing::ReplayResponse{200, {}, elsewhere});
  testing::TestStages stages;
  app::Service service(GatewayConfigFor(dir, upstream), WithoutUpstream(stages));
  service.Start();
  testing::ApiClient client(fmt::format("http://127.0.0.1:{}", service.http_port()));
  auto answer =
      client.Call("GET", "/registry/npm/expresss", "", {{"Accept", "application/vnd.npm.install-v1+json"}});
  REQUIRE(answer.status == 200);
  std::string warning, notice, type;
  for (const auto& [name, value] : answer.headers) {
    if (name == "x-pkgtrust-warning") warning = value;
    if (name == "npm-notice") notice = value;
    if (name == "content-type") type = value;
  }
  CHECK(type == "application/vnd.npm.install-v1+json");
  CHECK(warning.find("expresss@1.0.0") != std::string::npos);
  CHECK(warning.find("express") != std::string::npos);
  CHECK(notice == "pkgtrust: " + warning);
  CHECK(json::parse(answer.body)["versions"].contains("1.0.0"));
  std::string metrics = client.Get("/metrics").body;
  CHECK(testing::MetricValue(metrics, "pkgtrust_gateway_decisions_total",
                             "ecosystem=\"npm\",rule=\"typosquat\",action=\"warn\"") == 1);
  auto off_host = client.Get("/registry/npm/gw-elsewhere/-/gw-elsewhere-1.0.0.tgz");
  CHECK(off_host.status == 403);
  CHECK(off_host.body.find("not on the configured upstream registry") != std::string::npos);
  auto listed = client.Get("/registry/npm/gw-elsewhere");  // its only version is removed: nothing left
  CHECK(listed.status == 403);
  service.Stop();
}
