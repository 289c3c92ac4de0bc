// What an unauthenticated attacker on the network can send, against the whole service on
// loopback: each finding of the attack on the first wave, answered with its error and the
// process still serving (the requests come over raw sockets, as an attacker sends them).
#include <arpa/inet.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <thread>

#include "app/config.hpp"
#include "app/service.hpp"
#include "pkgtrust/core/package_name.hpp"
#include "pkgtrust/pipeline/stage_handlers.hpp"
#include "pkgtrust/scoring/model.hpp"
#include "support/http_test_client.hpp"
#include "support/replay_server.hpp"
#include "support/sse_client.hpp"
#include "support/test_support.hpp"

using namespace pkgtrust;
using namespace std::chrono_literals;
using nlohmann::json;
using testing::ReplayResponse;

namespace {

constexpr const char* kAdminTokenEnv = "PKGTRUST_TEST_HOSTILE_ADMIN";

// A socket to the service with a deadline on every read: a test fails, it never hangs.
class RawClient {
 public:
  explicit RawClient(int port) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<std::uint16_t>(port));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(fd_ >= 0);
    REQUIRE(connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
  }
  ~RawClient() { close(fd_); }
  RawClient(const RawClient&) = delete;
  RawClient& operator=(const RawClient&) = delete;

  // Sends all of `bytes` (false when the server closed first, which some tests expect).
  bool Send(std::string_view bytes) {
    while (!bytes.empty()) {
      ssize_t n = send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      bytes.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }
  // Reads until the server closes, `stop` appears, or the deadline passes.
  std::string Read(std::chrono::milliseconds deadline = 10s, std::string_view stop = {}) {
    std::string out;
    auto until = std::chrono::steady_clock::now() + deadline;
    char buffer[65536];
    while (std::chrono::steady_clock::now() < until) {
      pollfd p{fd_, POLLIN, 0};
      int left = static_cast<int>(
          std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now())
              .count());
      if (poll(&p, 1, std::max(1, left)) <= 0) break;
      ssize_t n = recv(fd_, buffer, sizeof buffer, 0);
      if (n <= 0) break;
      out.append(buffer, static_cast<std::size_t>(n));
      if (!stop.empty() && out.find(stop) != std::string::npos) break;
    }
    return out;
  }
  int fd() const { return fd_; }

 private:
  int fd_ = -1;
};

int StatusOf(const std::string& response) {
  if (!response.starts_with("HTTP/1.1 ")) return 0;
  return std::atoi(response.c_str() + 9);
}

class Target {
 public:
  explicit Target(std::function<void(app::Config&)> tweak = {}) : upstream_(1) {
    config_ = app::DefaultConfig();
    config_.database.path = dir_.File("hostile.db");
    config_.server.port = 0;
    std::string base = upstream_.BaseUrl();
    config_.upstreams = {{"npm", base},    {"npm_downloads", base}, {"pypi", base},
                         {"crates", base}, {"maven", base},         {"go", base},
                         {"github", base}};
    config_.scoring.popular_lists = {{"npm", "off"}, {"pypi", "off"}};
    config_.secrets.admin_token_env = kAdminTokenEnv;
    config_.log_level = core::LogLevel::kWarn;
    core::SetLogLevel(core::LogLevel::kWarn);
    if (tweak) tweak(config_);
    setenv(kAdminTokenEnv, "admin-secret", 1);
    service_ = std::make_unique<app::Service>(config_);
    service_->Start();
    client_ = std::make_unique<testing::ApiClient>(fmt::format("http://127.0.0.1:{}", port()));
  }
  ~Target() {
    service_->Stop();
    unsetenv(kAdminTokenEnv);
  }
  int port() const { return service_->http_port(); }
  testing::ApiClient& client() { return *client_; }
  app::Service& service() { return *service_; }
  testing::ReplayServer& upstream() { return upstream_; }
  // The service still answers.
  bool Alive() { return client_->Get("/healthz").status == 200; }

  // Stores `n` complete packages with a report, as if they had been scored.
  void Preload(int n) {
    std::vector<store::EnqueueRequest> requests;
    for (int i = 0; i < n; ++i) requests.push_back({{core::Ecosystem::kNpm, fmt::format("stored-{}", i)}});
    auto enqueued = service_->store().EnqueueManySync(requests);
    REQUIRE(enqueued.ok());
    std::string score = scoring::Report{}.ToJson();
    for (const auto& e : *enqueued) {
      REQUIRE(service_->store()
                  .TransitionSync({e.record.key, core::PackageState::kPendingRegistry, e.record.generation,
                                   core::PackageState::kPendingScore})
                  .ok());
      REQUIRE(service_->store()
                  .TransitionSync({e.record.key,
                                   core::PackageState::kPendingScore,
                                   e.record.generation,
                                   core::PackageState::kComplete,
                                   {{store::kScoreFact, score}}})
                  .ok());
    }
  }

 private:
  testing::TempDir dir_;
  testing::ReplayServer upstream_;
  app::Config config_;
  std::unique_ptr<app::Service> service_;
  std::unique_ptr<testing::ApiClient> client_;
};

}  // namespace

TEST_CASE("a chunked body's oversized trailer is refused, not a crash", "[api]") {
  Target target;
  RawClient client(target.port());
  std::string request =
      "POST /v1/packages:query HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n"
      "2\r\n{}\r\n0\r\nX-Trailer: " +
      std::string(65'600, 'a') + "\r\n\r\n";
  client.Send(request);
  std::string answer = client.Read(10s, "\r\n\r\n");
  INFO(answer.substr(0, 300));
  CHECK(StatusOf(answer) == 431);
  CHECK(target.Alive());
}

TEST_CASE("headers: the largest the config allows stays below Beast's own limit", "[api]") {
  // The config refuses a header limit Beast cannot hold.
  CHECK_THROWS_WITH(app::ParseConfig("server:\n  max_header_bytes: 1048576\n", "test.yaml", ""),
                    Catch::Contains("max_header_bytes: must be between 1024 and 61440"));
  Target target([](app::Config& c) { c.server.max_header_bytes = api::kMaxHeaderBytesLimit; });
  RawClient client(target.port());
  client.Send("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + std::string(70'000, 'b') + "\r\n\r\n");
  std::string answer = client.Read(10s, "\r\n\r\n");
  CHECK(StatusOf(answer) == 431);
  CHECK(target.Alive());
}

TEST_CASE("JSON nested 100,000 deep is an error naming the depth, on the query and the webhook", "[api]") {
  Target target;
  std::string deep = R"({"packages":)" + std::string(100'000, '[') + std::string(100'000, ']') + "}";
  auto query = target.client().Post("/v1/packages:query", deep);
  CHECK(query.status == 400);
  CHECK(query.Json()["error"]["code"] == "invalid_json");
  CHECK_THAT(query.Json()["error"]["message"].get<std::string>(), Catch::Contains("deeper than 64 levels"));
  auto feed =
      target.client().Post("/v1/feeds/package-feeds", std::string(100'000, '[') + std::string(100'000, ']'));
  CHECK(feed.status == 400);
  CHECK_THAT(feed.body, Catch::Contains("deeper than 64 levels"));
  // 64 levels are fine (the limit's other side): the answer is about the shape, not the depth.
  std::string ok_depth = R"({"packages":)" + std::string(62, '[') + std::string(62, ']') + "}";
  auto shallow = target.client().Post("/v1/packages:query", ok_depth);
  CHECK(shallow.status == 200);  // one invalid entry, echoed back
  CHECK(target.Alive());
}

TEST_CASE("HTTP/1.1 without Host is 400; the admin token is taken from the header only", "[api]") {
  Target target;
  RawClient client(target.port());
  client.Send("GET /healthz HTTP/1.1\r\n\r\n");
  CHECK(StatusOf(client.Read(10s, "\r\n\r\n")) == 400);
  RawClient old(target.port());
  old.Send("GET /healthz HTTP/1.0\r\n\r\n");  // HTTP/1.0 has no Host requirement
  CHECK(StatusOf(old.Read(10s, "\r\n\r\n")) == 200);
  // A token in the URL ends up in proxy logs: refresh refuses it there.
  CHECK(target.client().Post("/v1/packages/npm/left-pad:refresh?token=admin-secret", "").status == 401);
  CHECK(target.client()
            .Post("/v1/packages/npm/left-pad:refresh", "", {{"Authorization", "Bearer admin-secret"}})
            .status == 202);
}

TEST_CASE("a name that climbs out of its path never reaches an upstream URL", "[api]") {
  Target target;
  for (const char* name : {"org:..", "org:.", "org..evil:x", ".org:x", "org.:x"}) {
    INFO(name);
    auto r = target.client().Get(std::string("/v1/packages/maven/") + name);
    CHECK(r.status == 400);
    CHECK(r.Json()["error"]["code"] == "invalid_package");
  }
  CHECK(target.upstream().TotalRequests() == 0);
  CHECK(core::MakePackageKey(core::Ecosystem::kMaven, "org.slf4j:slf4j-api").ok());  // the other side
}

TEST_CASE("a pending answer tells why the last attempt failed without internal addresses", "[api]") {
  Target target([](app::Config& c) {
    for (auto& stage : c.stages) stage.max_attempts = 1;
  });
  target.upstream().Add("GET", "/broken-upstream", ReplayResponse{500, {}, "oops"});
  json pending;
  testing::WaitUntil(
      [&] {
        auto r = target.client().Get("/v1/packages/npm/broken-upstream?wait=0");
        pending = r.Json();
        return r.status == 202 && pending.contains("last_error");
      },
      30s);
  INFO(pending.dump());
  REQUIRE(pending.contains("last_error"));
  std::string error = pending["last_error"];
  CHECK(error.find("127.0.0.1") == std::string::npos);
  CHECK(error.find("http://") == std::string::npos);
  CHECK_THAT(error, Catch::Contains("<upstream>"));
}

TEST_CASE("a thousand subscribers that never read do not stall the API", "[api]") {
  Target target([](app::Config& c) {
    c.api.max_subscribers = 1000;
    c.server.stream_write_timeout = 10s;  // stalled streams are cut off after this
    c.server.max_connections = 2000;
  });
  rlimit files{};
  getrlimit(RLIMIT_NOFILE, &files);  // two descriptors a subscriber in this one process
  files.rlim_cur = std::max<rlim_t>(files.rlim_cur, std::min<rlim_t>(files.rlim_max, 4096));
  setrlimit(RLIMIT_NOFILE, &files);
  REQUIRE(files.rlim_cur >= 2500);
  target.Preload(3500);
  // Each asks for the whole state and then reads nothing (a small receive buffer, so the
  // server's writes block at once, as a slow reader's do).
  std::vector<std::unique_ptr<RawClient>> silent;
  for (int i = 0; i < 1000; ++i) {
    auto c = std::make_unique<RawClient>(target.port());
    int small = 4096;
    setsockopt(c->fd(), SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    c->Send("GET /v1/changes HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    silent.push_back(std::move(c));
  }
  REQUIRE(testing::WaitUntil([&] { return target.service().api().Subscribers() == 1000; }, 30s));
  // The API answers meanwhile: health, a stored package, a query.
  CHECK(target.client().Get("/healthz").status == 200);
  CHECK(target.client().Get("/v1/packages/npm/stored-7").status == 200);
  CHECK(target.client().Post("/v1/packages:query", R"({"packages":["pkg:npm/stored-8"]})").status == 200);
  // One more subscriber is over the cap: 503 with Retry-After.
  auto over = target.client().Get("/v1/changes");
  CHECK(over.status == 503);
  CHECK(over.Json()["error"]["code"] == "too_many_subscribers");
  CHECK(over.Header("retry-after") == "5");
  // The stalled ones are cut off after the stall timeout: the slots come back.
  CHECK(testing::WaitUntil([&] { return target.service().api().Subscribers() == 0; }, 60s));
  testing::SseClient fresh(target.port(), "/v1/changes");
  auto first = fresh.Next(10s);
  REQUIRE(first.has_value());
  CHECK(first->event == "snapshot");
}
