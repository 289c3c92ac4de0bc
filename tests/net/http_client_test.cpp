#include "pkgtrust/net/http_client.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <future>
#include <mutex>

#include "pkgtrust/net/url.hpp"
#include "support/replay_server.hpp"
#include "support/test_support.hpp"

using namespace pkgtrust;
using namespace std::chrono_literals;
using testing::ReplayResponse;
using testing::ReplayServer;

namespace {

core::Result<net::HttpResponse> Get(net::HttpClient& client, net::HttpRequest request) {
  std::promise<core::Result<net::HttpResponse>> promise;
  client.Fetch(std::move(request),
               [&](core::Result<net::HttpResponse> r) { promise.set_value(std::move(r)); });
  return promise.get_future().get();
}

net::HttpRequest Req(const std::string& url, int attempts = 4) {
  net::HttpRequest r;
  r.url = url;
  r.max_attempts = attempts;
  r.timeout = 5s;
  return r;
}

net::HttpClientConfig FastRetries() {
  net::HttpClientConfig config;
  config.retry.base = 5ms;
  config.retry.max = 20ms;
  return config;
}

}  // namespace

TEST_CASE("urls are parsed and redirects resolved", "[net]") {
  auto url = net::ParseUrl("https://registry.npmjs.org/@babel%2Fcore?x=1#frag");
  REQUIRE(url.ok());
  CHECK(url->host == "registry.npmjs.org");
  CHECK(url->port == "443");
  CHECK(url->target == "/@babel%2Fcore?x=1");
  CHECK(url->ToString() == "https://registry.npmjs.org/@babel%2Fcore?x=1");
  auto local = net::ParseUrl("http://127.0.0.1:8080");
  REQUIRE(local.ok());
  CHECK(local->target == "/");
  CHECK(local->HostKey() == "http://127.0.0.1:8080");
  CHECK(net::ResolveUrl(*local, "/a/b")->ToString() == "http://127.0.0.1:8080/a/b");
  CHECK(net::ResolveUrl(*net::ParseUrl("http://h/a/b?q"), "c")->ToString() == "http://h/a/c");
  CHECK(net::ResolveUrl(*local, "https://other/x")->ToString() == "https://other/x");
  CHECK_FALSE(net::ParseUrl("ftp://x").ok());
  CHECK_FALSE(net::ParseUrl("http://").ok());
  CHECK_FALSE(net::ParseUrl("http://user:pw@host/").ok());
  CHECK_FALSE(net::ParseUrl("http://host:99999/").ok());
  CHECK_FALSE(net::ParseUrl("http://ho st/").ok());
  CHECK(net::EncodePathSegment("@babel/core") == "@babel%2Fcore");
}

TEST_CASE("Retry-After and gzip helpers", "[net]") {
  CHECK(net::ParseRetryAfterSeconds("120", 0) == 120);
  CHECK(net::ParseRetryAfterSeconds("Wed, 21 Oct 2015 07:28:00 GMT", 1445412480 - 30) == 30);
  CHECK(net::ParseRetryAfterSeconds("soon", 0) == -1);
  CHECK(net::ParseRetryAfterSeconds("", 0) == -1);
  CHECK(*net::Gunzip(testing::Gzip("hello"), 100) == "hello");
  CHECK(net::Gunzip(testing::Gzip(std::string(1000, 'x')), 100).status().code() ==
        core::StatusCode::kResourceExhausted);
  std::string truncated = testing::Gzip(std::string(5000, 'y'));
  truncated.resize(truncated.size() / 2);
  CHECK_FALSE(net::Gunzip(truncated, 100000).ok());
  CHECK_FALSE(net::Gunzip("not gzip at all", 100).ok());
}

TEST_CASE("responses come back with lower-case headers over one kept-alive connection", "[net]") {
  ReplayServer server;
  server.Add("GET", "/left-pad",
             {200, {{"Content-Type", "application/json"}, {"ETag", "\"abc\""}}, R"({"ok":true})"});
  net::BeastHttpClient client(FastRetries());
  for (int i = 0; i < 10; ++i) {
    auto r = Get(client, Req(server.BaseUrl() + "/left-pad"));
    REQUIRE(r.ok());
    CHECK(r->status == 200);
    CHECK(r->body == R"({"ok":true})");
    REQUIRE(r->Header("etag") != nullptr);
    CHECK(*r->Header("etag") == "\"abc\"");
    CHECK(r->attempts == 1);
  }
  CHECK(client.Stats().connections == 1);
  CHECK(server.Hits("GET", "/left-pad") == 10);
}

TEST_CASE("gzip bodies are decoded", "[net]") {
  ReplayServer server;
  std::string doc = R"({"name":"big","versions":{}})" + std::string(100000, ' ');
  server.Add("GET", "/big", {200, {}, testing::Gzip(doc), /*gzip=*/true});
  net::BeastHttpClient client(FastRetries());
  auto r = Get(client, Req(server.BaseUrl() + "/big"));
  REQUIRE(r.ok());
  CHECK(r->body == doc);
}

TEST_CASE("5xx and 429 are retried, other 4xx are not", "[net]") {
  ReplayServer server;
  server.Add("GET", "/flaky", std::vector<ReplayResponse>{{500}, {502}, {200, {}, "fine"}});
  server.Add("GET", "/down", ReplayResponse{503, {}, "down"});
  server.Add("GET", "/missing", ReplayResponse{404, {}, "{}"});
  server.Add("GET", "/slow-down",
             std::vector<ReplayResponse>{{429, {{"Retry-After", "1"}}}, {200, {}, "ok"}});
  net::BeastHttpClient client(FastRetries());

  auto flaky = Get(client, Req(server.BaseUrl() + "/flaky"));
  REQUIRE(flaky.ok());
  CHECK(flaky->status == 200);
  CHECK(flaky->attempts == 3);

  auto down = Get(client, Req(server.BaseUrl() + "/down", 3));
  REQUIRE(down.ok());
  CHECK(down->status == 503);
  CHECK(down->attempts == 3);
  CHECK(server.Hits("GET", "/down") == 3);

  auto missing = Get(client, Req(server.BaseUrl() + "/missing"));
  REQUIRE(missing.ok());
  CHECK(missing->status == 404);
  CHECK(server.Hits("GET", "/missing") == 1);

  auto slowed = Get(client, Req(server.BaseUrl() + "/slow-down"));
  REQUIRE(slowed.ok());
  CHECK(slowed->status == 200);
  CHECK(slowed->elapsed >= 900ms);  // waited for Retry-After, not the 5 ms backoff
}

TEST_CASE("a server that does not answer times out with a clear error", "[net]") {
  ReplayServer server;
  server.Add("GET", "/hang", ReplayResponse{.hang = true});
  net::BeastHttpClient client(FastRetries());
  auto request = Req(server.BaseUrl() + "/hang", 2);
  request.timeout = 200ms;
  auto r = Get(client, request);
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == core::StatusCode::kDeadlineExceeded);
  CHECK_THAT(r.status().message(), Catch::Contains("GET http://127.0.0.1:") && Catch::Contains("timed out"));
  CHECK(server.Hits("GET", "/hang") == 2);
}

TEST_CASE("oversized and truncated bodies are errors, never crashes", "[net]") {
  ReplayServer server;
  server.Add("GET", "/huge", ReplayResponse{200, {}, std::string(2 << 20, 'x')});
  server.Add("GET", "/huge-gzip", ReplayResponse{200, {}, testing::Gzip(std::string(2 << 20, 'x')), true});
  server.Add("GET", "/cut", ReplayResponse{.body = std::string(10000, 'z'), .truncate = true});
  net::BeastHttpClient client(FastRetries());
  for (const char* path : {"/huge", "/huge-gzip"}) {
    auto request = Req(server.BaseUrl() + path);
    request.max_body_bytes = 1 << 20;
    auto r = Get(client, request);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == core::StatusCode::kResourceExhausted);
    CHECK(server.Hits("GET", path) == 1);  // not retried: it would not get smaller
  }
  auto cut = Get(client, Req(server.BaseUrl() + "/cut", 2));
  REQUIRE_FALSE(cut.ok());
  CHECK(cut.status().code() == core::StatusCode::kUnavailable);
  CHECK(server.Hits("GET", "/cut") == 2);
}

TEST_CASE("redirects are followed, but not forever", "[net]") {
  ReplayServer server;
  server.Add("GET", "/old", ReplayResponse{301, {{"Location", "/new"}}});
  server.Add("GET", "/new", ReplayResponse{200, {}, "moved here"});
  server.Add("GET", "/loop", ReplayResponse{302, {{"Location", "/loop"}}});
  net::BeastHttpClient client(FastRetries());
  auto r = Get(client, Req(server.BaseUrl() + "/old"));
  REQUIRE(r.ok());
  CHECK(r->body == "moved here");
  CHECK(r->url == server.BaseUrl() + "/new");
  auto loop = Get(client, Req(server.BaseUrl() + "/loop"));
  REQUIRE_FALSE(loop.ok());
  CHECK_THAT(loop.status().message(), Catch::Contains("redirects"));
}

TEST_CASE("connections per host are capped; requests beyond wait their turn", "[net]") {
  ReplayServer server(2);
  server.Add("GET", "/slow", ReplayResponse{.body = "ok", .delay = 30ms});
  auto config = FastRetries();
  config.max_connections_per_host = 4;
  net::BeastHttpClient client(config);
  std::vector<std::future<core::Result<net::HttpResponse>>> futures;
  std::vector<std::shared_ptr<std::promise<core::Result<net::HttpResponse>>>> promises;
  for (int i = 0; i < 24; ++i) {
    auto p = std::make_shared<std::promise<core::Result<net::HttpResponse>>>();
    futures.push_back(p->get_future());
    client.Fetch(Req(server.BaseUrl() + "/slow"), [p](auto r) { p->set_value(std::move(r)); });
    promises.push_back(p);
  }
  for (auto& f : futures) {
    auto r = f.get();
    REQUIRE(r.ok());
    CHECK(r->status == 200);
  }
  CHECK(client.Stats().connections <= 4);
  CHECK(server.Hits("GET", "/slow") == 24);
}

TEST_CASE("an urgent request goes ahead of others waiting for a connection to the same host", "[net]") {
  ReplayServer server(2);
  // The first request is held until the test lets it go: the others queue behind it for the
  // one connection, whatever the machine's speed.
  std::promise<void> gate;
  std::shared_future<void> released = gate.get_future().share();
  std::atomic<int> arrived{0};
  server.SetGenerator([&](const std::string&, const std::string& target) -> std::optional<ReplayResponse> {
    if (target != "/held") return std::nullopt;
    if (arrived++ == 0) released.wait();
    return ReplayResponse{.body = "ok"};
  });
  auto config = FastRetries();
  config.max_connections_per_host = 1;
  net::BeastHttpClient client(config);
  std::mutex mu;
  std::vector<std::string> order;
  std::atomic<int> done{0};
  auto fetch = [&](const std::string& name, bool urgent) {
    net::HttpRequest request = Req(server.BaseUrl() + "/held");
    request.urgent = urgent;
    client.Fetch(std::move(request), [&, name](auto) {
      std::lock_guard lock(mu);
      order.push_back(name);
      done++;
    });
  };
  for (int i = 0; i < 6; ++i) fetch("regular" + std::to_string(i), false);
  REQUIRE(testing::WaitUntil([&] { return arrived == 1; }, 30s));
  fetch("urgent", true);  // queued behind five regular requests
  gate.set_value();
  REQUIRE(testing::WaitUntil([&] { return done == 7; }, 30s));
  std::lock_guard lock(mu);
  INFO(fmt::format("{}", fmt::join(order, " ")));
  // The first regular request held the connection; the urgent one was next.
  CHECK(order == std::vector<std::string>{"regular0", "urgent", "regular1", "regular2", "regular3",
                                          "regular4", "regular5"});
}

TEST_CASE("unreachable hosts and bad URLs fail with the URL named", "[net]") {
  net::BeastHttpClient client(FastRetries());
  int port;
  { port = ReplayServer().port(); }  // a port that was just free
  auto refused = Get(client, Req("http://127.0.0.1:" + std::to_string(port) + "/x", 2));
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.status().code() == core::StatusCode::kUnavailable);
  CHECK_THAT(refused.status().message(), Catch::Contains("127.0.0.1:" + std::to_string(port)));
  auto bad = Get(client, Req("registry.npmjs.org/left-pad"));
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().code() == core::StatusCode::kInvalidArgument);
}

TEST_CASE("TLS: certificates are verified by default", "[net]") {
  ReplayServer::TlsFiles files{testing::FixturePath("tls/server.crt"),
                               testing::FixturePath("tls/server.key")};
  ReplayServer server(1, &files);
  server.Add("GET", "/secure", ReplayResponse{200, {}, "secret"});
  REQUIRE(server.BaseUrl().starts_with("https://"));

  net::BeastHttpClient untrusting(FastRetries());
  auto refused = Get(untrusting, Req(server.BaseUrl() + "/secure", 1));
  REQUIRE_FALSE(refused.ok());
  CHECK_THAT(refused.status().message(), Catch::Contains("TLS handshake failed"));

  auto config = FastRetries();
  config.ca_file = testing::FixturePath("tls/server.crt");
  net::BeastHttpClient trusting(config);
  auto ok = Get(trusting, Req(server.BaseUrl() + "/secure", 1));
  REQUIRE(ok.ok());
  CHECK(ok->body == "secret");
  auto by_name = Get(trusting, Req("https://localhost:" + std::to_string(server.port()) + "/secure", 1));
  REQUIRE(by_name.ok());
  CHECK(by_name->status == 200);
}

TEST_CASE("redirects stay on the request's origin: another host only when listed, never with credentials",
          "[net]") {
  ReplayServer origin, other;
  // 127.0.0.1 and localhost: two hosts (one machine), as an upstream and a host it points to.
  std::string elsewhere = "http://localhost:" + std::to_string(other.port()) + "/landing";
  origin.Add("GET", "/moved", ReplayResponse{302, {{"Location", elsewhere}}});
  other.Add("GET", "/landing", ReplayResponse{200, {}, "landed"});
  auto with_token = [&] {
    net::HttpRequest r = Req(origin.BaseUrl() + "/moved", 1);
    r.headers = {{"Authorization", "Bearer ghp_secret"}, {"Cookie", "session=1"}, {"X-Other", "kept"}};
    return r;
  };
  // Not listed: refused, and the other host hears nothing.
  net::BeastHttpClient strict(FastRetries());
  auto refused = Get(strict, with_token());
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.status().code() == core::StatusCode::kPermissionDenied);
  CHECK_THAT(refused.status().message(),
             Catch::Contains("refused a redirect to another host (http://localhost:"));
  CHECK(other.TotalRequests() == 0);
  CHECK(strict.Stats().refused_redirects == 1);
  // Listed (and, as a configured upstream, allowed on a loopback address): followed, without
  // the credentials meant for the origin.
  auto config = FastRetries();
  config.redirect_hosts = {"localhost"};
  config.trusted_hosts = {"127.0.0.1", "localhost"};
  net::BeastHttpClient listed(config);
  auto followed = Get(listed, with_token());
  REQUIRE(followed.ok());
  CHECK(followed->body == "landed");
  auto headers = other.LastHeaders("GET", "/landing");
  REQUIRE_FALSE(headers.empty());
  auto has = [&](const std::string& name) {
    return std::any_of(headers.begin(), headers.end(), [&](const auto& h) { return h.first == name; });
  };
  CHECK_FALSE(has("authorization"));
  CHECK_FALSE(has("cookie"));
  CHECK(has("x-other"));
  // A redirect on the same origin keeps them.
  origin.Add("GET", "/here", ReplayResponse{301, {{"Location", "/there"}}});
  origin.Add("GET", "/there", ReplayResponse{200, {}, "same host"});
  net::HttpRequest same = Req(origin.BaseUrl() + "/here", 1);
  same.headers = {{"Authorization", "Bearer ghp_secret"}};
  REQUIRE(Get(strict, same).ok());
  auto same_headers = origin.LastHeaders("GET", "/there");
  CHECK(std::any_of(same_headers.begin(), same_headers.end(), [](const auto& h) {
    return h.first == "authorization" && h.second == "Bearer ghp_secret";
  }));
}

TEST_CASE("a redirect to a link-local, loopback or private address is refused (SSRF)", "[net]") {
  ReplayServer origin;
  origin.Add("GET", "/metadata",
             ReplayResponse{302, {{"Location", "http://169.254.169.254/latest/meta-data/"}}});
  origin.Add("GET", "/loopback", ReplayResponse{302, {{"Location", "http://localhost:9/admin"}}});
  // Even when the host is listed for redirects, its address decides: only configured
  // upstreams may be private.
  auto config = FastRetries();
  config.redirect_hosts = {"169.254.169.254", "localhost"};
  net::BeastHttpClient client(config);
  for (const char* path : {"/metadata", "/loopback"}) {
    INFO(path);
    auto r = Get(client, Req(origin.BaseUrl() + path, 1));
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == core::StatusCode::kPermissionDenied);
    CHECK_THAT(r.status().message(), Catch::Contains("private, loopback or link-local address"));
  }
  CHECK(client.Stats().connections == 1);  // only the origin was ever connected to
  CHECK(net::IsNonPublicAddress("169.254.169.254"));
  CHECK(net::IsNonPublicAddress("10.1.2.3"));
  CHECK(net::IsNonPublicAddress("172.31.255.255"));
  CHECK_FALSE(net::IsNonPublicAddress("172.32.0.1"));
  CHECK(net::IsNonPublicAddress("192.168.0.1"));
  CHECK(net::IsNonPublicAddress("::1"));
  CHECK(net::IsNonPublicAddress("fe80::1"));
  CHECK(net::IsNonPublicAddress("fd00::1"));
  CHECK(net::IsNonPublicAddress("::ffff:127.0.0.1"));
  CHECK_FALSE(net::IsNonPublicAddress("140.82.112.6"));  // api.github.com
  CHECK_FALSE(net::IsNonPublicAddress("2606:4700::6810:85e5"));
}

TEST_CASE("https never redirects to http", "[net]") {
  ReplayServer::TlsFiles files{testing::FixturePath("tls/server.crt"),
                               testing::FixturePath("tls/server.key")};
  ReplayServer secure(1, &files);
  ReplayServer plain;
  plain.Add("GET", "/x", ReplayResponse{200, {}, "downgraded"});
  secure.Add("GET", "/old", ReplayResponse{301, {{"Location", plain.BaseUrl() + "/x"}}});
  auto config = FastRetries();
  config.ca_file = testing::FixturePath("tls/server.crt");
  config.redirect_hosts = {"127.0.0.1"};
  config.trusted_hosts = {"127.0.0.1"};
  net::BeastHttpClient client(config);
  auto r = Get(client, Req(secure.BaseUrl() + "/old", 1));
  REQUIRE_FALSE(r.ok());
  CHECK_THAT(r.status().message(), Catch::Contains("refused a redirect from https to http"));
  CHECK(plain.TotalRequests() == 0);
}

TEST_CASE("sixteen large bodies at once stay within the byte budget, waiting rather than failing", "[net]") {
  ReplayServer server(2);
  const std::string big(3u << 20, 'x');                       // 3 MB plain
  const std::string bomb =
      testing::Gzip(std::string(5u << 20, 'y'));  // 5 MB once decoded, a few KB on the wire
  for (int i = 0; i < 8; ++i) {
    server.Add("GET", "/big" + std::to_string(i), ReplayResponse{200, {}, big});
    server.Add("GET", "/bomb" + std::to_string(i), ReplayResponse{200, {}, bomb, /*gzip=*/true});
  }
  auto config = FastRetries();
  config.threads = 2;
  config.body_budget_bytes = 8u << 20;
  net::BeastHttpClient client(config);
  std::vector<std::future<core::Result<net::HttpResponse>>> answers;
  for (int i = 0; i < 8; ++i)
    for (const char* kind : {"/big", "/bomb"}) {
      auto promise = std::make_shared<std::promise<core::Result<net::HttpResponse>>>();
      answers.push_back(promise->get_future());
      auto request = Req(server.BaseUrl() + kind + std::to_string(i), 1);
      request.timeout = 60s;
      // The answer is kept (with its share of the budget) only until checked.
      client.Fetch(std::move(request), [promise](core::Result<net::HttpResponse> r) {
        if (r.ok()) r->budget_hold.reset();
        promise->set_value(std::move(r));
      });
    }
  int ok = 0;
  for (auto& answer : answers) {
    auto r = answer.get();
    INFO((r.ok() ? "" : r.status().message()));
    REQUIRE(r.ok());
    CHECK((r->body.size() == big.size() || r->body.size() == (5u << 20)));
    ++ok;
  }
  CHECK(ok == 16);
  auto stats = client.Stats();
  // Within the budget, plus the bodies that went ahead when every exchange under way waited:
  // one going ahead, and the one before it when its answer was delivered (which lets the next
  // go ahead) but its reader had not yet dropped it. Both at most a decoded bomb (5 MB plus
  // its few KB on the wire). Granting without the budget would peak near 64 MB.
  CHECK(stats.budget_peak_bytes <= static_cast<std::int64_t>((8u << 20) + 2 * ((5u << 20) + (1u << 19))));
  CHECK(stats.budget_waits > 0);   // they did queue
  CHECK(stats.budget_bytes == 0);  // and everything was given back
}
