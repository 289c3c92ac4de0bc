// The whole service on loopback: the REST API and the package-feeds webhook over real
// HTTP, the real stages against the replay upstream, a temporary SQLite file. What a
// user of the API relies on: feed events all end scored, an unknown package is answered
// within the wait even behind a backlog, a missing one is a 404, malformed webhook bodies
// get their documented answers without losing valid events, and the flags show.
#include <fcntl.h>
#include <fmt/format.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio.hpp>
#include <catch2/catch.hpp>
#include <future>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "app/config.hpp"
#include "app/service.hpp"
#include "pkgtrust/core/package_name.hpp"
#include "pkgtrust/registry/registry_client.hpp"
#include "pkgtrust/scoring/osv.hpp"
#include "pkgtrust/store/store.hpp"
#include "support/child_serve.hpp"
#include "support/http_test_client.hpp"
#include "support/loopback_socket.hpp"
#include "support/replay_server.hpp"
#include "support/test_support.hpp"

using namespace pkgtrust;
using namespace std::chrono_literals;
using core::Ecosystem;
using core::PackageState;
using nlohmann::json;
using testing::ReplayResponse;

namespace {

constexpr const char* kFeedTokenEnv = "PKGTRUST_TEST_FEED_TOKEN";
constexpr const char* kAdminTokenEnv = "PKGTRUST_TEST_ADMIN_TOKEN";
constexpr const char* kRepoPath = "/repos/stevemao/left-pad";

// The recorded left-pad packument under another name, declaring left-pad's repository.
std::string PackumentFor(const std::string& name) {
  static const json kTemplate = [] {
    json t = json::parse(testing::ReadText(testing::FixturePath("registry/npm/left-pad.json")));
    t["repository"] = {{"type", "git"}, {"url", "git+https://github.com/stevemao/left-pad.git"}};
    return t;
  }();
  json doc = kTemplate;
  doc["name"] = name;
  return doc.dump();
}

// Unscoped, valid npm names from the recorded sample, in file order.
std::vector<std::string> RealNpmNames(std::size_t count) {
  std::vector<std::string> names;
  std::istringstream in(testing::ReadText(testing::FixturePath("names/npm-names-5000.txt")));
  std::set<std::string> seen;
  for (std::string line; names.size() < count && std::getline(in, line);) {
    if (line.empty() || line[0] == '@') continue;
    auto key = core::MakePackageKey(Ecosystem::kNpm, line);
    if (key.ok() && key->name == line && seen.insert(line).second) names.push_back(line);
  }
  REQUIRE(names.size() == count);
  return names;
}

std::string FeedEvent(const std::string& name, const std::string& type = "npm") {
  return json{{"name", name}, {"version", "1.3.0"}, {"created_date", "2026-11-20T10:00:00Z"},
              {"type", type}, {"artifact_id", ""},  {"schema_ver", "1.1"}}
      .dump();
}

class ServiceUnderTest {
 public:
  ServiceUnderTest() : upstream_(2) {
    config_ = app::DefaultConfig();
    config_.database.path = dir_.File("api.db");
    config_.server.port = 0;
    config_.server.request_timeout = 1s;  // the slowloris test waits for it
    std::string base = upstream_.BaseUrl();
    config_.upstreams = {{"npm", base},   {"npm_downloads", base + "/npm-downloads"},
                         {"pypi", base},  {"crates", base},
                         {"maven", base}, {"go", base},
                         {"github", base}};
    config_.scoring.popular_lists = {{"npm", "shipped"}, {"pypi", "off"}};
    config_.secrets.feed_token_env = kFeedTokenEnv;
    config_.secrets.admin_token_env = kAdminTokenEnv;
    config_.reconciler.interval = 1s;
    config_.reconciler.stuck_after = 30s;
    for (auto& stage : config_.stages) stage.retry_base = 10ms;
    config_.log_level = core::LogLevel::kWarn;
    core::SetLogLevel(core::LogLevel::kWarn);
    upstream_.Add("GET", kRepoPath,
                  ReplayResponse{200, {}, R"({"full_name":"stevemao/left-pad","stargazers_count":1200,
                    "forks_count":300,"open_issues_count":10,"archived":true,"fork":false,
                    "created_at":"2014-03-01T00:00:00Z","pushed_at":"2018-05-01T00:00:00Z",
                    "default_branch":"master","license":{"spdx_id":"WTFPL"}})"});
  }
  ~ServiceUnderTest() {
    if (service_) service_->Stop();
    unsetenv(kFeedTokenEnv);
    unsetenv(kAdminTokenEnv);
  }

  void AddNpmPackage(const std::string& name, std::chrono::milliseconds delay = 0ms) {
    ReplayResponse response{200, {}, PackumentFor(name)};
    response.delay = delay;
    upstream_.Add("GET", "/" + name, response);
  }

  void Start(bool with_admin_token = true) {
    setenv(kFeedTokenEnv, "feed-secret", 1);
    if (with_admin_token)
      setenv(kAdminTokenEnv, "admin-secret", 1);
    else
      unsetenv(kAdminTokenEnv);
    service_ = std::make_unique<app::Service>(config_);
    service_->Start();
    client_ = std::make_unique<testing::ApiClient>(fmt::format("http://127.0.0.1:{}", service_->http_port()));
  }

  std::int64_t Count(PackageState state) {
    auto counts = service_->store().CountByState();
    if (!counts.ok()) return -1;
    auto it = counts->find(state);
    return it == counts->end() ? 0 : it->second;
  }

  app::Config& config() { return config_; }
  testing::ReplayServer& upstream() { return upstream_; }
  app::Service& service() { return *service_; }
  testing::ApiClient& client() { return *client_; }

 private:
  testing::TempDir dir_;
  testing::ReplayServer upstream_;
  app::Config config_;
  std::unique_ptr<app::Service> service_;
  std::unique_ptr<testing::ApiClient> client_;
};

}  // namespace

TEST_CASE("500 package-feeds events, one per POST, all reach complete with scores", "[api]") {
  ServiceUnderTest sut;
  std::vector<std::string> names = RealNpmNames(500);
  for (const auto& name : names) sut.AddNpmPackage(name);
  sut.Start();

  // As package-feeds' http-client publisher sends them: one object per POST, token in the URL.
  for (const auto& name : names) {
    auto r = sut.client().Post("/v1/feeds/package-feeds?token=feed-secret", FeedEvent(name));
    INFO(name << ": " << r.status << " " << r.body << r.error);
    REQUIRE(r.status == 200);
    REQUIRE(r.Json()["accepted"] == 1);
  }
  bool done = testing::WaitUntil([&] { return sut.Count(PackageState::kComplete) == 500; }, 180s);
  INFO("complete " << sut.Count(PackageState::kComplete) << ", failed " << sut.Count(PackageState::kFailed));
  REQUIRE(done);
  for (const auto& name : names) {
    auto r = sut.client().Get("/v1/packages/npm/" + name);
    REQUIRE(r.status == 200);
    json report = r.Json();
    CHECK(report["name"] == name);
    CHECK(report["status"] == "complete");
    CHECK(report["score"]["value"].is_number());
    CHECK(report["score"]["model_version"] == "pkgtrust-3");
    CHECK(report["flags"]["archived"] == true);  // the repository answered archived
    CHECK(report["repository"]["read_at"].is_string());  // which read of the shared facts it used
  }
  // The upstream was asked once per package for its packument: no duplicate runs.
  int asked_once = 0;
  for (const auto& name : names) asked_once += sut.upstream().Hits("GET", "/" + name) == 1;
  CHECK(asked_once == 500);

  // A new version of a package already complete starts a new run: it is read again.
  auto again = sut.client().Post("/v1/feeds/package-feeds?token=feed-secret", FeedEvent(names[0]));
  REQUIRE(again.status == 200);
  CHECK(again.Json()["accepted"] == 1);
  REQUIRE(testing::WaitUntil([&] { return sut.upstream().Hits("GET", "/" + names[0]) == 2; }, 60s));
  REQUIRE(testing::WaitUntil([&] { return sut.Count(PackageState::kComplete) == 500; }, 60s));
  CHECK(sut.upstream().Hits("GET", "/" + names[1]) == 1);  // only that package
}

TEST_CASE("an unknown package goes ahead of 2,000 queued feed packages", "[api]") {
  ServiceUnderTest sut;
  std::vector<std::string> names = RealNpmNames(2001);
  std::string unknown = names.back();
  names.pop_back();
  // Each backlog packument takes 2 s: at 64 in flight, the backlog needs over 60 s, twice
  // the longest wait.
  for (const auto& name : names) sut.AddNpmPackage(name, 2s);
  sut.AddNpmPackage(unknown);
  sut.Start();

  for (std::size_t i = 0; i < names.size(); i += 500) {
    std::string batch = "[";
    for (std::size_t j = i; j < i + 500; ++j) batch += (j > i ? "," : "") + FeedEvent(names[j]);
    batch += "]";
    auto r = sut.client().Post("/v1/feeds/package-feeds", batch, {{"Authorization", "Bearer feed-secret"}});
    REQUIRE(r.status == 200);
    REQUIRE(r.Json()["accepted"] == 500);
  }
  // The longest wait: a slow machine answers late, not wrongly; what must hold is the order.
  auto r = sut.client().Get("/v1/packages/npm/" + unknown + "?wait=30");
  INFO("answered " << r.status << ": " << r.body);
  CHECK(r.status == 200);
  CHECK(r.Json()["status"] == "complete");
  // It went ahead of the backlog, which is still far from done (without priority it would
  // have waited for all of it, past the wait).
  CHECK(sut.Count(PackageState::kComplete) < 1000);
}

TEST_CASE("a package its registry does not have is a 404; concurrent requests share one run", "[api]") {
  ServiceUnderTest sut;
  sut.upstream().Add("GET", "/no-such-package-anywhere", ReplayResponse{404, {}, R"({"error":"Not found"})"});
  sut.Start();
  std::vector<std::thread> threads;
  std::vector<int> statuses(4);
  for (int i = 0; i < 4; ++i)
    threads.emplace_back([&, i] {
      testing::ApiClient client(fmt::format("http://127.0.0.1:{}", sut.service().http_port()));
      statuses[i] = client.Get("/v1/packages/npm/no-such-package-anywhere").status;
    });
  for (auto& t : threads) t.join();
  for (int status : statuses) CHECK(status == 404);
  CHECK(sut.upstream().Hits("GET", "/no-such-package-anywhere") == 1);
  auto again = sut.client().Get("/v1/packages/npm/no-such-package-anywhere");
  CHECK(again.status == 404);
  CHECK(again.Json()["error"]["code"] == "package_not_found");
  CHECK(sut.upstream().Hits("GET", "/no-such-package-anywhere") == 1);  // answered from the store
}

TEST_CASE("malformed webhook bodies get their documented answers and valid events are kept", "[api]") {
  ServiceUnderTest sut;
  sut.AddNpmPackage("kept-one");
  sut.AddNpmPackage("kept-two");
  sut.Start();
  auto post = [&](const std::string& body) {
    return sut.client().Post("/v1/feeds/package-feeds?token=feed-secret", body);
  };
  auto first = post(FeedEvent("kept-one"));
  REQUIRE(first.status == 200);

  auto bad_json = post(R"({"name": "x", )");
  CHECK(bad_json.status == 400);
  CHECK(bad_json.Json()["error"]["code"] == "invalid_body");

  auto missing = post(R"({"name": "x", "type": "npm"})");
  CHECK(missing.status == 400);
  CHECK(missing.Json()["error"]["code"] == "invalid_events");
  CHECK_THAT(missing.Json()["errors"][0]["message"].get<std::string>(),
             Catch::Contains("missing field 'version'"));

  json wrong_types = json::parse(FeedEvent("x"));
  wrong_types["name"] = 42;
  auto wrong = post(wrong_types.dump());
  CHECK(wrong.status == 400);
  CHECK_THAT(wrong.body, Catch::Contains("field 'name' must be a string"));

  json bad_date = json::parse(FeedEvent("x"));
  bad_date["created_date"] = "yesterday";
  CHECK(post(bad_date.dump()).status == 400);

  CHECK(post("42").status == 400);

  auto huge = post(std::string(10u << 20, ' '));
  CHECK(huge.status == 413);
  CHECK(huge.Json()["error"]["code"] == "body_too_large");

  // Feeds we do not score (and unknown ones) are ignored, with 200 so the publisher moves on.
  auto nuget = post(FeedEvent("Newtonsoft.Json", "nuget"));
  CHECK(nuget.status == 200);
  CHECK(nuget.Json()["ignored"] == 1);
  auto unknown = post(FeedEvent("x", "no-such-feed"));
  CHECK(unknown.status == 200);
  CHECK(unknown.Json()["ignored"] == 1);

  // A batch with one good event among bad ones: 200, the good one kept, the others named.
  auto mixed = post("[" + FeedEvent("kept-two") + R"(, {"name": "x"}, )" + FeedEvent("bad name!") + "]");
  CHECK(mixed.status == 200);
  CHECK(mixed.Json()["accepted"] == 1);
  CHECK(mixed.Json()["rejected"] == 2);
  CHECK(mixed.Json()["errors"][1]["index"] == 2);

  auto no_token = sut.client().Post("/v1/feeds/package-feeds", FeedEvent("x"));
  CHECK(no_token.status == 401);
  CHECK(sut.client().Post("/v1/feeds/package-feeds?token=wrong", FeedEvent("x")).status == 401);

  REQUIRE(testing::WaitUntil([&] { return sut.Count(PackageState::kComplete) == 2; }, 60s));
  CHECK(sut.client().Get("/v1/packages/npm/kept-one").status == 200);
  CHECK(sut.client().Get("/v1/packages/npm/kept-two").status == 200);
  auto metrics = sut.client().Get("/metrics").body;
  CHECK_THAT(metrics, Catch::Contains("pkgtrust_webhook_events_total{outcome=\"accepted\"} 2"));
  CHECK(testing::MetricValue(metrics, "pkgtrust_webhook_unauthorized_total") == 2);  // no token, a wrong one
  CHECK_THAT(metrics, Catch::Contains("pkgtrust_webhook_events_total{outcome=\"ignored\"} 2"));
}

TEST_CASE("an OSV-listed malicious package scores 0 and the report names the advisory", "[api]") {
  ServiceUnderTest sut;
  sut.upstream().Add("GET", "/02-echo",
                     ReplayResponse{200, {}, R"({"name":"02-echo","dist-tags":{"latest":"0.0.7"},
                       "versions":{"0.0.7":{}},"time":{"0.0.7":"2025-01-10T00:00:00.000Z"}})"});
  sut.config().lookup.report_cache_ttl = 1h;  // only this process's own changes may refresh the cache
  sut.Start();
  auto before = sut.client().Get("/v1/packages?purl=pkg:npm/02-echo&wait=10");
  REQUIRE(before.status == 200);
  CHECK(before.Json()["flags"]["malicious"] == false);

  // The advisory arrives later; a refresh re-scores, and the cached report is replaced.
  auto records =
      scoring::ParseOsvRecord(testing::ReadText(testing::FixturePath("osv/npm/MAL-2025-191025.json")));
  REQUIRE(records.ok());
  const auto& advisory = (*records)[0];
  REQUIRE(sut.service()
              .store()
              .ImportAdvisoriesSync({{advisory.key, advisory.id, advisory.summary, "[]", advisory.modified}})
              .ok());
  REQUIRE(sut.client()
              .Post("/v1/packages/npm/02-echo:refresh", "", {{"Authorization", "Bearer admin-secret"}})
              .status == 202);
  json report;
  bool flagged = testing::WaitUntil(
      [&] {
        auto r = sut.client().Get("/v1/packages/npm/02-echo");
        report = r.Json();
        return r.status == 200 && report["flags"]["malicious"] == true;
      },
      30s);
  INFO(report.dump());
  REQUIRE(flagged);
  CHECK(report["score"]["value"] == 0.0);
  CHECK(report["flags"]["advisory"] == "MAL-2025-191025");
  CHECK(report["purl"] == "pkg:npm/02-echo");
}

TEST_CASE("a typosquat of a popular npm name is flagged with its look-alike", "[api]") {
  ServiceUnderTest sut;
  sut.upstream().Add(
      "GET", "/loadsh",
      ReplayResponse{200, {}, testing::ReadText(testing::FixturePath("registry/npm/loadsh.json"))});
  sut.Start();
  auto r = sut.client().Get("/v1/packages/npm/loadsh?wait=10");
  REQUIRE(r.status == 200);
  json report = r.Json();
  CHECK(report["flags"]["typosquatting"] == true);
  CHECK(report["flags"]["looks_like"] == "lodash");
  CHECK(report["score"]["value"].get<double>() <= 1.0);
}

TEST_CASE("batch query, purl lookup, prefix search and refresh", "[api]") {
  ServiceUnderTest sut;
  for (const char* name : {"alpha-one", "alpha-two", "beta-one"}) sut.AddNpmPackage(name);
  sut.Start();

  json query = {{"packages",
                 {{{"ecosystem", "npm"}, {"name", "alpha-one"}},
                  "pkg:npm/alpha-two",
                  {{"purl", "pkg:npm/beta-one"}},
                  {{"ecosystem", "npm"}, {"name", "missing-one"}},
                  {{"ecosystem", "cobol"}, {"name", "x"}},
                  {{"ecosystem", "npm"}, {"name", "alpha-one"}}}},
                {"wait", 10}};
  auto r = sut.client().Post("/v1/packages:query", query.dump());
  REQUIRE(r.status == 200);
  json results = r.Json()["results"];
  REQUIRE(results.size() == 6);
  CHECK(results[0]["status"] == "complete");
  CHECK(results[1]["name"] == "alpha-two");
  CHECK(results[2]["name"] == "beta-one");
  CHECK(results[3]["status"] == "not_found");
  CHECK(results[4]["status"] == "invalid");
  CHECK_THAT(results[4]["error"]["message"].get<std::string>(), Catch::Contains("cobol"));
  CHECK(results[5]["name"] == "alpha-one");
  CHECK(sut.upstream().Hits("GET", "/alpha-one") == 1);

  json too_many = {{"packages", json::array()}};
  for (int i = 0; i < 1001; ++i) too_many["packages"].push_back("pkg:npm/x" + std::to_string(i));
  CHECK(sut.client().Post("/v1/packages:query", too_many.dump()).status == 413);
  CHECK(sut.client().Post("/v1/packages:query", "{}").status == 400);

  auto search = sut.client().Get("/v1/search?ecosystem=npm&prefix=alpha&limit=1");
  REQUIRE(search.status == 200);
  CHECK(search.Json()["packages"].size() == 1);
  CHECK(search.Json()["packages"][0]["name"] == "alpha-one");
  CHECK(search.Json()["packages"][0]["score"].is_number());
  auto page2 = sut.client().Get("/v1/search?ecosystem=npm&prefix=alpha&limit=1&after=alpha-one");
  CHECK(page2.Json()["packages"][0]["name"] == "alpha-two");
  CHECK(page2.Json()["next_after"].is_null());

  CHECK(sut.client().Post("/v1/packages/npm/alpha-one:refresh", "").status == 401);
  nlohmann::json before = sut.client().Get("/v1/packages/npm/alpha-one").Json();  // its report is cached now
  auto refresh =
      sut.client().Post("/v1/packages/npm/alpha-one:refresh", "", {{"Authorization", "Bearer admin-secret"}});
  CHECK(refresh.status == 202);
  CHECK(refresh.Json()["started"] == true);
  // The next answer is not the cached report of the run before: the new run in flight
  // ("refreshing", or 202), or its result.
  auto after = sut.client().Get("/v1/packages/npm/alpha-one?wait=0");
  INFO(after.body);
  CHECK_FALSE((after.status == 200 && !after.Json().contains("refreshing") &&
               after.Json()["timestamps"]["scored"] == before["timestamps"]["scored"]));
  REQUIRE(testing::WaitUntil([&] { return sut.upstream().Hits("GET", "/alpha-one") == 2; }, 30s));

  CHECK(sut.client().Get("/v1/packages/cobol/x").Json()["error"]["code"] == "invalid_package");
  CHECK(sut.client().Get("/v1/packages/npm/ok?wait=forever").status == 400);
  CHECK(sut.client().Get("/v1/packages?purl=nonsense").status == 400);
  CHECK(sut.client().Get("/v2/anything").status == 404);
  CHECK(sut.client().Post("/healthz", "{}").status == 405);
  CHECK(sut.client().Get("/readyz").status == 200);
  auto metrics = sut.client().Get("/metrics");
  CHECK_THAT(metrics.Header("content-type"), Catch::StartsWith("text/plain; version=0.0.4"));
  for (const char* family :
       {"pkgtrust_queue_messages{", "pkgtrust_stage_in_flight{stage=\"registry\"}",
        "pkgtrust_packages{state=\"complete\"}", "pkgtrust_store_writes_total{kind=\"transaction\"}",
        "pkgtrust_upstream_requests_total{upstream=\"npm\",outcome=\"2xx\"}",
        "pkgtrust_ondemand_duration_seconds_bucket",
        "pkgtrust_http_responses_total{route=\"query\",code=\"200\"}"})
    CHECK_THAT(metrics.body, Catch::Contains(family));
}

TEST_CASE("the server cuts off slow clients and oversized headers, and answers waiting requests on shutdown",
          "[api]") {
  namespace asio = boost::asio;
  ServiceUnderTest sut;
  sut.AddNpmPackage("slow-upstream", 20s);  // never answers in time
  sut.Start();
  asio::io_context ioc;
  asio::ip::tcp::endpoint endpoint(asio::ip::make_address("127.0.0.1"),
                                   static_cast<unsigned short>(sut.service().http_port()));

  // Slowloris: half a request line, then nothing. The server closes after request_timeout.
  asio::ip::tcp::socket slow(ioc);
  slow.connect(endpoint);
  asio::write(slow, asio::buffer(std::string("GET /healthz HTTP/1.1\r\nHost: x\r\n")));
  boost::system::error_code ec;
  // request_timeout is 1 s: the server closes well within ten.
  std::string said = testing::ReadUntilClosed(slow, 10s, ec);
  CHECK(ec == asio::error::eof);
  CHECK(said.empty());

  std::string big_header =
      "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(32 * 1024, 'a') + "\r\n\r\n";
  asio::ip::tcp::socket big(ioc);
  big.connect(endpoint);
  asio::write(big, asio::buffer(big_header), ec);
  std::string answer(64, '\0');
  std::size_t n = testing::ReadSomeWithin(big, asio::buffer(answer), 60s, ec);
  CHECK(answer.substr(0, n).starts_with("HTTP/1.1 431"));

  // A request waiting for a package is answered (202), not dropped, when the service stops.
  std::thread waiting([&] {
    testing::ApiClient client(fmt::format("http://127.0.0.1:{}", sut.service().http_port()));
    auto r = client.Get("/v1/packages/npm/slow-upstream?wait=30");
    CHECK(r.status == 202);
    CHECK(r.Header("retry-after") == "2");
  });
  REQUIRE(testing::WaitUntil([&] { return sut.upstream().Hits("GET", "/slow-upstream") == 1; }, 10s));
  sut.service().Stop();
  waiting.join();
}

TEST_CASE("pipelined requests are answered in order; too many waiting requests are shed with 429", "[api]") {
  namespace asio = boost::asio;
  ServiceUnderTest sut;
  sut.AddNpmPackage("slow-one", 20s);
  sut.AddNpmPackage("slow-two", 20s);
  sut.config().lookup.max_waiting = 1;
  sut.Start();
  asio::io_context ioc;
  asio::ip::tcp::socket socket(ioc);
  socket.connect(
      {asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(sut.service().http_port())});
  asio::write(socket,
              asio::buffer(std::string("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
                                       "GET /nowhere HTTP/1.1\r\nHost: x\r\n\r\n"
                                       "GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")));
  boost::system::error_code ec;
  std::string all = testing::ReadUntilClosed(socket, 60s, ec);
  CHECK(ec == asio::error::eof);
  auto first = all.find("HTTP/1.1 200"), second = all.find("HTTP/1.1 404"), third = all.rfind("HTTP/1.1 200");
  CHECK(first < second);
  CHECK(second < third);
  CHECK(third != first);

  std::thread waiting([&] {
    testing::ApiClient client(fmt::format("http://127.0.0.1:{}", sut.service().http_port()));
    CHECK(client.Get("/v1/packages/npm/slow-one?wait=30").status == 202);  // answered at shutdown
  });
  REQUIRE(testing::WaitUntil([&] { return sut.upstream().Hits("GET", "/slow-one") == 1; }, 10s));
  CHECK(testing::MetricValue(sut.client().Get("/metrics").body, "pkgtrust_shed_requests_total") == 0);
  auto shed = sut.client().Get("/v1/packages/npm/slow-two?wait=30");
  CHECK(shed.status == 429);
  CHECK(shed.Header("retry-after") == "1");
  CHECK(testing::MetricValue(sut.client().Get("/metrics").body, "pkgtrust_shed_requests_total") == 1);
  CHECK(sut.client().Get("/healthz").status == 200);  // requests that need no run still pass
  sut.service().Stop();
  waiting.join();
}

TEST_CASE("webhook events answered 200 survive a SIGKILL right after the answer", "[api]") {
  testing::TempDir dir;
  testing::ReplayServer upstream;  // answers 404 to everything: packages end not_found, if they get that far
  testing::ChildServe child(dir, upstream.BaseUrl());
  testing::ApiClient& client = child.client();

  std::vector<std::string> accepted;
  std::vector<std::string> names = RealNpmNames(300);
  for (std::size_t i = 0; i < names.size(); i += 3) {
    std::string batch =
        "[" + FeedEvent(names[i]) + "," + FeedEvent(names[i + 1]) + "," + FeedEvent(names[i + 2]) + "]";
    auto r = client.Post("/v1/feeds/package-feeds", batch);
    REQUIRE(r.status == 200);
    for (std::size_t j = i; j < i + 3; ++j) accepted.push_back(names[j]);
  }
  int status = child.Kill(SIGKILL);  // right after the last 200
  CHECK(WIFSIGNALED(status));

  auto db = store::Store::Open({.path = child.DatabasePath()}, core::SystemClock::Instance());
  REQUIRE(db.ok());
  for (const auto& name : accepted) {
    auto record = (*db)->Get({Ecosystem::kNpm, name});
    REQUIRE(record.ok());
    CHECK(record->has_value());
  }
  (*db)->Close();
}

TEST_CASE("SIGTERM answers the requests in flight, then the process exits 0", "[api]") {
  testing::TempDir dir;
  testing::ReplayServer upstream;
  ReplayResponse slow{200, {}, PackumentFor("slow-at-shutdown")};
  slow.delay = 20s;
  upstream.Add("GET", "/slow-at-shutdown", slow);
  testing::ChildServe child(dir, upstream.BaseUrl());
  std::thread waiting([&] {
    testing::ApiClient client(child.BaseUrl());
    auto r = client.Get("/v1/packages/npm/slow-at-shutdown?wait=30");
    CHECK(r.status == 202);  // answered with the state, not dropped
    CHECK(r.Json()["status"] == "pending_registry");
  });
  REQUIRE(testing::WaitUntil([&] { return upstream.Hits("GET", "/slow-at-shutdown") == 1; }, 10s));
  int status = child.Kill(SIGTERM);
  waiting.join();
  INFO(child.Log());
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  CHECK_THAT(child.Log(), Catch::Contains("stopped"));
}

TEST_CASE("awkward names and parameters get a 400 naming the problem, never a 500", "[api]") {
  ServiceUnderTest sut;
  sut.Start();
  struct Case {
    std::string path, code;
  };
  std::vector<Case> cases = {
      {"/v1/packages/%FF%FE/left-pad", "invalid_package"},  // not UTF-8, quoted back in the message
      {"/v1/packages/npm/left-pad?wait=%FF", "invalid_parameter"},
      {"/v1/packages?purl=pkg:%FF/x", "invalid_purl"},
      {"/v1/search?ecosystem=%FF", "invalid_parameter"},
      {"/v1/packages/npm/bad%00name", "invalid_package"},
      {"/v1/packages/npm/%zz", "invalid_parameter"},  // a bad %-escape is a malformed parameter
      {"/v1/packages/npm/left-pad%2", "invalid_parameter"},
      {"/v1/packages/np%m/left-pad", "invalid_parameter"},
      {"/v1/packages/npm/" + std::string(10'000, 'a'), "invalid_package"},
      {"/v1/packages/npm/left-pad?wait=-1", "invalid_parameter"},
      {"/v1/packages/npm/", "invalid_package"},
  };
  for (const Case& c : cases) {
    auto r = sut.client().Get(c.path);
    INFO(c.path.substr(0, 80) << " -> " << r.status << " " << r.body.substr(0, 200));
    CHECK(r.status == 400);
    json body = r.Json();
    REQUIRE(body.is_object());
    CHECK(body["error"]["code"] == c.code);
    CHECK_FALSE(body["error"]["message"].get<std::string>().empty());
  }
  CHECK(sut.client().Get("/healthz").status == 200);  // and the server is fine
}

TEST_CASE("scoped npm names, the default wait, a wait that runs out, and a stale report", "[api]") {
  ServiceUnderTest sut;
  sut.upstream().Add("GET", "/@acme%2Fwidget", ReplayResponse{200, {}, PackumentFor("@acme/widget")});
  sut.AddNpmPackage("takes-three-seconds", 3s);
  sut.AddNpmPackage("takes-a-second", 1s);
  sut.AddNpmPackage("gets-stale");
  // Reports older than this are refreshed on request. Long enough that takes-three-seconds
  // is not stale yet when the polling below first sees it complete, even on a loaded machine
  // (with 3 s, two full `ctest -j2` runs counted a second upstream hit below, most likely a
  // poll that came late and started a refresh).
  sut.config().reconciler.refresh_after = 8s;
  sut.config().reconciler.interval = 1h;       // by the request, not by the reconciler
  sut.Start();

  // A scoped name, in the path as typed or percent-encoded, and as a purl: one package.
  auto plain = sut.client().Get("/v1/packages/npm/@acme/widget?wait=10");
  REQUIRE(plain.status == 200);
  CHECK(plain.Json()["name"] == "@acme/widget");
  CHECK(plain.Json()["purl"] == "pkg:npm/%40acme/widget");
  CHECK(sut.client().Get("/v1/packages/npm/%40acme%2Fwidget").status == 200);
  CHECK(sut.client().Get("/v1/packages?purl=pkg:npm/%40acme/widget").status == 200);
  CHECK(sut.upstream().Hits("GET", "/@acme%2Fwidget") == 1);

  // Without ?wait the request waits the default 2 s, then answers 202 with the state.
  auto start = std::chrono::steady_clock::now();
  auto pending = sut.client().Get("/v1/packages/npm/takes-three-seconds");
  CHECK(std::chrono::steady_clock::now() - start >= 1900ms);  // it did wait
  CHECK(pending.status == 202);
  CHECK(pending.Header("retry-after") == "2");
  CHECK(pending.Json()["status"] == "pending_registry");
  REQUIRE(testing::WaitUntil(
      [&] { return sut.client().Get("/v1/packages/npm/takes-three-seconds?wait=0").status == 200; }, 30s));
  CHECK(sut.upstream().Hits("GET", "/takes-three-seconds") == 1);  // the retries joined the first run

  // A wait that runs out is counted (as was each poll above that answered 202).
  double timeouts =
      testing::MetricValue(sut.client().Get("/metrics").body, "pkgtrust_ondemand_timeouts_total");
  CHECK(timeouts >= 1);
  auto short_wait = sut.client().Get("/v1/packages/npm/takes-a-second?wait=0.1");
  CHECK(short_wait.status == 202);
  auto metrics = sut.client().Get("/metrics").body;
  CHECK(testing::MetricValue(metrics, "pkgtrust_ondemand_timeouts_total") == timeouts + 1);
  CHECK_THAT(metrics, Catch::Contains("pkgtrust_ondemand_requests_total"));

  // A stale report is still answered, marked as being refreshed, while a new run reads it again.
  REQUIRE(sut.client().Get("/v1/packages/npm/gets-stale?wait=10").status == 200);
  ReplayResponse slow{200, {}, PackumentFor("gets-stale")};
  slow.delay = 5s;
  sut.upstream().Add("GET", "/gets-stale", slow);
  json refreshing;
  REQUIRE(testing::WaitUntil(
      [&] {
        auto r = sut.client().Get("/v1/packages/npm/gets-stale?wait=0");
        refreshing = r.Json();
        return r.status == 200 && refreshing.value("refreshing", false);
      },
      30s));
  CHECK(refreshing["score"]["value"].is_number());
  CHECK(refreshing["timestamps"]["scored"].is_null());
}

TEST_CASE("refresh without a configured admin token is refused; a slow body and an idle connection are cut",
          "[api]") {
  namespace asio = boost::asio;
  ServiceUnderTest sut;
  sut.Start(/*with_admin_token=*/false);
  auto refused = sut.client().Post("/v1/packages/npm/left-pad:refresh", "", {{"Authorization", "Bearer x"}});
  CHECK(refused.status == 403);
  CHECK(refused.Json()["error"]["code"] == "admin_disabled");

  asio::io_context ioc;
  asio::ip::tcp::endpoint endpoint(asio::ip::make_address("127.0.0.1"),
                                   static_cast<unsigned short>(sut.service().http_port()));
  auto closes = [](asio::ip::tcp::socket& socket) {
    boost::system::error_code ec;
    testing::ReadUntilClosed(socket, 60s, ec);
    return ec == asio::error::eof || ec == asio::error::connection_reset;
  };
  // Headers promise 100 bytes of body; 10 arrive, then nothing.
  asio::ip::tcp::socket slow_body(ioc);
  slow_body.connect(endpoint);
  asio::write(slow_body, asio::buffer(std::string("POST /v1/feeds/package-feeds HTTP/1.1\r\nHost: x\r\n"
                                                  "Content-Length: 100\r\n\r\n{\"name\":\"x")));
  CHECK(closes(slow_body));

  // A keep-alive connection that asks nothing more is closed after the request timeout.
  asio::ip::tcp::socket idle(ioc);
  idle.connect(endpoint);
  asio::write(idle, asio::buffer(std::string("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")));
  CHECK(closes(idle));
  CHECK(sut.client().Get("/healthz").status == 200);
}

TEST_CASE("every route answers a method it does not take with 405 and Allow", "[api]") {
  ServiceUnderTest sut;
  sut.Start();
  struct Case {
    std::string method, path, allow;
  };
  const std::vector<Case> cases = {
      {"GET", "/v1/packages/npm/left-pad:refresh", "POST"},
      {"POST", "/v1/packages/npm/left-pad", "GET"},
      {"DELETE", "/v1/packages/npm/left-pad", "GET"},
      {"GET", "/v1/packages:query", "POST"},
      {"PUT", "/v1/packages:query", "POST"},
      {"GET", "/v1/feeds/package-feeds", "POST"},
      {"POST", "/v1/packages?purl=pkg:npm/left-pad", "GET"},
      {"POST", "/v1/search?prefix=le", "GET"},
      {"POST", "/v1/changes", "GET"},
      {"POST", "/healthz", "GET"},
      {"DELETE", "/readyz", "GET"},
      {"PUT", "/metrics", "GET"},
  };
  for (const Case& c : cases) {
    auto r = sut.client().Call(c.method, c.path);
    INFO(c.method << " " << c.path << " -> " << r.status << " " << r.body);
    CHECK(r.status == 405);
    CHECK(r.Header("allow") == c.allow);
    CHECK(r.Json()["error"]["code"] == "method_not_allowed");
  }
  // The right method still reaches the route (here: refresh asks for its token, then
  // reads the name).
  CHECK(sut.client().Post("/v1/packages/npm/left-pad:refresh", "").status == 401);
  auto bad_escape =
      sut.client().Post("/v1/packages/npm/%zz:refresh", "", {{"Authorization", "Bearer admin-secret"}});
  CHECK(bad_escape.status == 400);
  CHECK(bad_escape.Json()["error"]["code"] == "invalid_parameter");
  CHECK(sut.client().Call("GET", "/v1/nothing-here").status == 404);
}

TEST_CASE("a repository GitHub does not have leaves the report's repository facts null, not 0", "[api]") {
  ServiceUnderTest sut;
  json packument = json::parse(PackumentFor("repo-gone"));
  packument["repository"] = {{"type", "git"}, {"url", "git+https://github.com/nobody-here/repo-gone.git"}};
  sut.upstream().Add("GET", "/repo-gone", ReplayResponse{200, {}, packument.dump()});
  sut.upstream().Add(
      "GET", "/repos/nobody-here/repo-gone",
      ReplayResponse{404, {}, R"({"message":"Not Found","documentation_url":"https://docs.github.com"})"});
  sut.AddNpmPackage("left-pad");
  sut.Start();
  auto r = sut.client().Get("/v1/packages/npm/repo-gone?wait=20");
  INFO(r.body);
  REQUIRE(r.status == 200);
  json repository = r.Json()["repository"];
  REQUIRE(repository.is_object());
  CHECK(repository["status"] == "not_found");
  CHECK(repository["full_name"] == "nobody-here/repo-gone");  // the one the package declares
  for (const char* key : {"stars", "forks", "open_issues", "archived", "fork", "created", "pushed", "license",
                          "contributors", "commits_last_year", "tags", "releases"}) {
    INFO(key);
    CHECK(repository[key].is_null());
  }
  // A repository that was found keeps its numbers (the replay gives no contributors).
  auto found = sut.client().Get("/v1/packages/npm/left-pad?wait=20");
  REQUIRE(found.status == 200);
  json facts = found.Json()["repository"];
  CHECK(facts["stars"] == 1200);
  CHECK(facts["license"] == "WTFPL");
  CHECK(facts["archived"] == true);
  CHECK(facts["tags"].is_number());
}

TEST_CASE("X-Request-Id is carried into every stage's log lines about the run it started", "[api]") {
  testing::TempDir dir;
  testing::ReplayServer upstream;
  upstream.Add("GET", "/traced-package", ReplayResponse{200, {}, PackumentFor("traced-package")});
  upstream.Add("GET", "/untraced-package", ReplayResponse{200, {}, PackumentFor("untraced-package")});
  testing::ChildServe child(dir, upstream.BaseUrl(), "", "log:\n  level: debug\n");
  auto r = child.client().Call("GET", "/v1/packages/npm/traced-package?wait=20", "",
                               {{"X-Request-Id", "trace-7f3a-42"}});
  REQUIRE(r.status == 200);
  // A header that would break a log line is not taken: the server makes its own id.
  auto odd = child.client().Call("GET", "/v1/packages/npm/untraced-package?wait=20", "",
                                 {{"X-Request-Id", "two words"}});
  REQUIRE(odd.status == 200);
  std::string log = child.Log();
  INFO(log);
  for (const char* stage : {"[registry]", "[repository]", "[scoring]"}) {
    INFO(stage);
    bool found = false;
    std::istringstream lines(log);
    for (std::string line; std::getline(lines, line);)
      found |= line.find(stage) != std::string::npos &&
               line.find("npm/traced-package [request trace-7f3a-42] generation") != std::string::npos;
    CHECK(found);
  }
  CHECK_THAT(log, !Catch::Contains("two words"));
  CHECK_THAT(log, Catch::Contains("npm/untraced-package [request api-"));
}

TEST_CASE("after SIGTERM the listener stays open for shutdown_delay_seconds and /readyz answers 503",
          "[api]") {
  testing::TempDir dir;
  testing::ReplayServer upstream;
  testing::ChildServe child(dir, upstream.BaseUrl(), "  shutdown_delay_seconds: 3\n");
  REQUIRE(child.client().Get("/readyz").status == 200);
  child.Signal(SIGTERM);
  auto get = [&](const std::string& path) {
    return testing::ApiClient(child.BaseUrl()).Get(path);
  };  // a new connection
  testing::ApiResponse draining;
  REQUIRE(testing::WaitUntil(
      [&] {
        draining = get("/readyz");
        return draining.status != 200;
      },
      10s));
  INFO(draining.status << " " << draining.body << draining.error);
  CHECK(draining.status == 503);
  CHECK(draining.Json()["error"]["code"] == "not_ready");
  CHECK(draining.Header("connection") == "close");  // one answer per connection while draining
  CHECK(get("/healthz").status == 200);             // still answering meanwhile
  int status = child.Wait();
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  CHECK(get("/readyz").status == 0);  // then the port is closed
}

TEST_CASE("pending query entries, a refresh during a run, a failed package asked for, parameter bounds",
          "[api]") {
  namespace asio = boost::asio;
  ServiceUnderTest sut;
  sut.AddNpmPackage("held-one", 20s);  // runs that stay in flight for the whole test
  sut.AddNpmPackage("held-two", 20s);
  sut.AddNpmPackage("held-feed", 20s);
  sut.AddNpmPackage("joined-quick");
  sut.AddNpmPackage("joined-slow", 4s);
  sut.upstream().Add("GET", "/breaks-then-heals", ReplayResponse{500, {}, "{}"});
  sut.AddNpmPackage("searchable-one");
  sut.AddNpmPackage("searchable-two");
  sut.AddNpmPackage("searchable-three");
  sut.upstream().Add(
      "GET", "/pypi/flask/json",
      ReplayResponse{200, {}, testing::ReadText(testing::FixturePath("registry/pypi/flask.json"))});
  for (auto& stage : sut.config().stages)
    if (stage.name == "registry") stage.max_attempts = 2;  // gives up soon
  sut.Start();
  const net::Headers admin = {{"Authorization", "Bearer admin-secret"}};

  auto metric = [&](const char* name) {
    return testing::MetricValue(sut.client().Get("/metrics").body, name);
  };

  // A query waits once for all its entries: one waiting request, however many packages,
  // answered when the last of them is complete (joined-slow's registry answers after 4 s).
  testing::ApiClient other_client(fmt::format("http://127.0.0.1:{}", sut.service().http_port()));
  auto shared_wait = std::async(std::launch::async, [&] {
    return other_client.Post("/v1/packages:query?wait=30",
                             R"({"packages": ["pkg:npm/joined-quick", "pkg:npm/joined-slow"]})");
  });
  REQUIRE(testing::WaitUntil([&] { return metric("pkgtrust_waiting_requests") == 1; }, 30s));
  CHECK(metric("pkgtrust_ondemand_requests_total") == 1);

  // A query whose entries are still running: a pending body each, Retry-After on the answer.
  auto query =
      sut.client().Post("/v1/packages:query?wait=0.2",
                        R"({"packages": [{"ecosystem": "npm", "name": "held-one"}, "pkg:npm/held-two"]})");
  REQUIRE(query.status == 200);
  CHECK(query.Header("retry-after") == "2");
  json results = query.Json()["results"];
  REQUIRE(results.size() == 2);
  CHECK(results[0]["name"] == "held-one");
  CHECK(results[1]["name"] == "held-two");
  for (const json& result : results) {
    CHECK(result["status"] == "pending_registry");
    CHECK(result["retry_after_seconds"] == 2);
  }
  CHECK(metric("pkgtrust_ondemand_requests_total") == 2);
  CHECK(metric("pkgtrust_ondemand_timeouts_total") == 1);  // one per query, not one per entry

  // A refresh while a feed run is in flight starts no run: it raises that one to priority.
  REQUIRE(sut.client().Post("/v1/feeds/package-feeds?token=feed-secret", FeedEvent("held-feed")).status ==
          200);
  REQUIRE(testing::WaitUntil([&] { return sut.upstream().Hits("GET", "/held-feed") == 1; }, 30s));
  core::PackageKey held_feed{core::Ecosystem::kNpm, "held-feed"};
  auto before = sut.service().store().Get(held_feed);
  REQUIRE(before.ok());
  REQUIRE(before->has_value());
  CHECK((*before)->priority == core::Priority::kRegular);
  auto refresh = sut.client().Post("/v1/packages/npm/held-feed:refresh", "", admin);
  CHECK(refresh.status == 202);
  CHECK(refresh.Json()["started"] == false);
  CHECK(refresh.Json()["generation"] == (*before)->generation);
  auto after = sut.service().store().Get(held_feed);
  REQUIRE(after.ok());
  CHECK((*after)->priority == core::Priority::kPriority);
  CHECK((*after)->generation == (*before)->generation);

  // A failed package that a user asks for is run again at once (not at the reconciler's
  // retry time), and answered when the registry has healed.
  REQUIRE(
      sut.client().Post("/v1/feeds/package-feeds?token=feed-secret", FeedEvent("breaks-then-heals")).status ==
      200);
  REQUIRE(testing::WaitUntil([&] { return sut.Count(PackageState::kFailed) == 1; }, 60s));
  sut.AddNpmPackage("breaks-then-heals");
  auto healed = sut.client().Get("/v1/packages/npm/breaks-then-heals?wait=30");
  CHECK(healed.status == 200);
  CHECK(healed.Json()["status"] == "complete");

  // wait: 0 to api.max_wait_seconds, both ends included.
  auto too_long = sut.client().Get("/v1/packages/npm/held-two?wait=30.001");
  CHECK(too_long.status == 400);
  CHECK(too_long.Json()["error"]["code"] == "invalid_parameter");
  CHECK_THAT(too_long.Json()["error"]["message"].get<std::string>(), Catch::Contains("between 0 and 30"));
  CHECK(sut.client().Get("/v1/packages/npm/held-two?wait=-0.001").status == 400);

  // Search: limit 1 to 100, and the prefix normalized like a name (PEP 503 for PyPI).
  for (const char* name : {"searchable-one", "searchable-two", "searchable-three"})
    REQUIRE(sut.client().Get(std::string("/v1/packages/npm/") + name + "?wait=30").status == 200);
  CHECK(sut.client().Get("/v1/packages/npm/searchable-one?wait=30").status == 200);  // wait at its bound
  auto page = sut.client().Get("/v1/search?ecosystem=npm&prefix=searchable-&limit=2");
  REQUIRE(page.status == 200);
  REQUIRE(page.Json()["packages"].size() == 2);
  CHECK(page.Json()["packages"][0]["name"] == "searchable-one");
  CHECK(page.Json()["packages"][1]["name"] == "searchable-three");
  CHECK(sut.client().Get("/v1/search?ecosystem=npm&prefix=searchable-&limit=100").status == 200);
  CHECK(sut.client().Get("/v1/search?ecosystem=npm&prefix=searchable-&limit=101").status == 400);
  CHECK(sut.client().Get("/v1/search?ecosystem=npm&prefix=searchable-&limit=0").status == 400);
  REQUIRE(sut.client().Get("/v1/packages/pypi/Flask?wait=30").status == 200);
  auto pypi = sut.client().Get("/v1/search?ecosystem=pypi&prefix=FLASK");
  REQUIRE(pypi.status == 200);
  REQUIRE(pypi.Json()["packages"].size() == 1);
  CHECK(pypi.Json()["packages"][0]["name"] == "flask");

  // The shared wait ends when the last of its entries is complete: 200, both complete.
  auto answered = shared_wait.get();
  INFO(answered.body);
  REQUIRE(answered.status == 200);
  CHECK(answered.Header("retry-after").empty());
  json shared_results = answered.Json()["results"];
  REQUIRE(shared_results.size() == 2);
  CHECK(shared_results[0]["status"] == "complete");
  CHECK(shared_results[1]["status"] == "complete");
  CHECK(metric("pkgtrust_ondemand_timeouts_total") == 1);
}

TEST_CASE("server.max_connections: connections beyond it are closed at once; a freed place is taken again",
          "[api]") {
  namespace asio = boost::asio;
  ServiceUnderTest sut;
  sut.config().server.max_connections = 3;
  sut.config().server.request_timeout = 60s;  // no connection is closed for idling meanwhile
  sut.Start();                                // (its HTTP client connects only when used: not here)
  asio::io_context ioc;
  asio::ip::tcp::endpoint endpoint(asio::ip::make_address("127.0.0.1"),
                                   static_cast<unsigned short>(sut.service().http_port()));
  auto healthz = [&](asio::ip::tcp::socket& socket) {
    boost::system::error_code ec;
    asio::write(socket, asio::buffer(std::string("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")), ec);
    std::string answer(64, '\0');
    std::size_t n = testing::ReadSomeWithin(socket, asio::buffer(answer), 60s, ec);
    return answer.substr(0, n);
  };
  std::vector<std::unique_ptr<asio::ip::tcp::socket>> open;
  for (int i = 0; i < 3; ++i) {
    open.push_back(std::make_unique<asio::ip::tcp::socket>(ioc));
    open.back()->connect(endpoint);
    CHECK(healthz(*open.back()).starts_with("HTTP/1.1 200"));
  }
  asio::ip::tcp::socket fourth(ioc);
  fourth.connect(endpoint);
  boost::system::error_code ec;
  std::string said = testing::ReadUntilClosed(fourth, 60s, ec);
  CHECK((ec == asio::error::eof || ec == asio::error::connection_reset));
  CHECK(said.empty());
  // One closes: a new connection gets its place (once the server has seen the close).
  open.front()->close();
  CHECK(testing::WaitUntil(
      [&] {
        asio::ip::tcp::socket again(ioc);
        again.connect(endpoint);
        return healthz(again).starts_with("HTTP/1.1 200");
      },
      30s));
}

TEST_CASE(
    "a database that does not answer: the webhook says 503 store_unavailable, keeps nothing, then takes it",
    "[api]") {
  ServiceUnderTest sut;
  sut.AddNpmPackage("after-the-lock");
  sut.Start();
  // Another connection holds the write lock (the service waits its busy timeout, 5 s).
  sqlite3* holder = nullptr;
  REQUIRE(sqlite3_open(sut.config().database.path.c_str(), &holder) == SQLITE_OK);
  sqlite3_busy_timeout(holder, 30'000);
  REQUIRE(sqlite3_exec(holder, "BEGIN EXCLUSIVE", nullptr, nullptr, nullptr) == SQLITE_OK);
  auto refused = sut.client().Post("/v1/feeds/package-feeds?token=feed-secret", FeedEvent("after-the-lock"));
  sqlite3_exec(holder, "ROLLBACK", nullptr, nullptr, nullptr);
  sqlite3_close(holder);
  INFO(refused.body);
  CHECK(refused.status == 503);
  CHECK(refused.Json()["error"]["code"] == "store_unavailable");
  CHECK(refused.Header("retry-after") == "1");
  auto kept = sut.service().store().Get({core::Ecosystem::kNpm, "after-the-lock"});
  REQUIRE(kept.ok());
  CHECK_FALSE(kept->has_value());  // nothing half-recorded: the publisher sends it again

  auto again = sut.client().Post("/v1/feeds/package-feeds?token=feed-secret", FeedEvent("after-the-lock"));
  CHECK(again.status == 200);
  CHECK(again.Json()["accepted"] == 1);
  CHECK(testing::WaitUntil([&] { return sut.Count(PackageState::kComplete) == 1; }, 60s));
}

TEST_CASE("the transport's counters reach /metrics by value: a message no queue takes", "[api]") {
  ServiceUnderTest sut;
  sut.Start();
  auto unroutable = [&] {
    return testing::MetricValue(sut.client().Get("/metrics").body, "pkgtrust_messages_unroutable_total");
  };
  CHECK(unroutable() == 0);
  bus::Message message;
  message.body = "{}";
  message.attributes.SetString("priority", "3");  // no queue's filter policy takes priority 3
  message.attributes.SetString("package_type", "npm");
  REQUIRE(sut.service().transport().Publish("parse_registry", message).ok());
  CHECK(unroutable() == 1);
}

TEST_CASE("a message received more often than transport.max_receives is dead-lettered, by value in /metrics",
          "[api]") {
  ServiceUnderTest sut;
  sut.config().memory_transport.max_receives = 2;
  for (auto& stage : sut.config().stages)
    if (stage.name == "registry") stage.max_attempts = 10;  // the stage never gives up first
  sut.upstream().Add("GET", "/always-breaks", ReplayResponse{500, {}, "{}"});
  sut.Start();
  auto dead = [&] {
    return testing::MetricValue(sut.client().Get("/metrics").body, "pkgtrust_queue_dead_lettered_total",
                                R"(queue="regular_parse_package")");
  };
  CHECK(dead() == 0);
  REQUIRE(sut.client().Post("/v1/feeds/package-feeds?token=feed-secret", FeedEvent("always-breaks")).status ==
          200);
  REQUIRE(testing::WaitUntil([&] { return dead() == 1; }, 60s));
  // Two receives (each asking the registry max_attempts times), then the dead-letter queue.
  CHECK(sut.upstream().Hits("GET", "/always-breaks") == 2 * registry::RegistryOptions{}.max_attempts);
  CHECK(testing::MetricValue(sut.client().Get("/metrics").body, "pkgtrust_queue_dead_lettered_total",
                             R"(queue="priority_parse_package")") == 0);
}

TEST_CASE("a not_found answer is served for api.not_found_recheck_seconds, then the registry is asked again",
          "[api]") {
  for (auto [recheck, asked] : {std::pair{std::chrono::milliseconds(3600'000), 1}, std::pair{0ms, 2}}) {
    DYNAMIC_SECTION("recheck after " << recheck.count() << " ms") {
      ServiceUnderTest sut;
      sut.upstream().Add("GET", "/nowhere-to-be-found", ReplayResponse{404, {}, R"({"error":"Not found"})"});
      sut.config().lookup.not_found_recheck = recheck;
      sut.Start();
      CHECK(sut.client().Get("/v1/packages/npm/nowhere-to-be-found?wait=30").status == 404);
      CHECK(sut.client().Get("/v1/packages/npm/nowhere-to-be-found?wait=30").status == 404);
      CHECK(sut.upstream().Hits("GET", "/nowhere-to-be-found") == asked);
    }
  }
}
