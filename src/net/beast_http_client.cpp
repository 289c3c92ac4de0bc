#include <fmt/format.h>
#include <openssl/ssl.h>
#include <zlib.h>

#include <atomic>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <ctime>
#include <deque>
#include <map>
#include <mutex>
#include <random>
#include <thread>

#include "pkgtrust/net/http_client.hpp"
#include "pkgtrust/net/url.hpp"

namespace pkgtrust::net {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using core::Result;
using core::Status;
using Clock = std::chrono::steady_clock;

const std::string* HttpResponse::Header(std::string_view name) const {
  for (const auto& [k, v] : headers)
    if (k == name) return &v;
  return nullptr;
}

std::int64_t ParseHttpDate(std::string_view value) {
  std::tm tm{};
  std::string text(value);
  const char* end = strptime(text.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  if (end == nullptr || *end != '\0') return -1;
  return timegm(&tm);
}

std::int64_t ParseRetryAfterSeconds(std::string_view value, std::int64_t now_unix_seconds) {
  while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  if (value.empty()) return -1;
  if (std::all_of(value.begin(), value.end(), ::isdigit)) {
    if (value.size() > 9) return -1;
    return std::stoll(std::string(value));
  }
  std::int64_t when = ParseHttpDate(value);
  return when < 0 ? -1 : std::max<std::int64_t>(0, when - now_unix_seconds);
}

Result<std::string> Gunzip(std::string_view compressed, std::size_t max_bytes) {
  z_stream zs{};
  if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) return Status::Internal("gzip: cannot initialise zlib");
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(compressed.data()));
  zs.avail_in = static_cast<uInt>(compressed.size());
  std::string out;
  char chunk[64 * 1024];
  int rc = Z_OK;
  while (rc != Z_STREAM_END) {
    zs.next_out = reinterpret_cast<Bytef*>(chunk);
    zs.avail_out = sizeof(chunk);
    rc = inflate(&zs, Z_NO_FLUSH);
    if (rc != Z_OK && rc != Z_STREAM_END) {
      inflateEnd(&zs);
      return Status::InvalidArgument(fmt::format("gzip body is corrupt ({})", zs.msg ? zs.msg : "truncated"));
    }
    out.append(chunk, sizeof(chunk) - zs.avail_out);
    if (out.size() > max_bytes) {
      inflateEnd(&zs);
      return Status::ResourceExhausted(fmt::format("body larger than {} bytes once decompressed", max_bytes));
    }
    if (rc == Z_OK && zs.avail_in == 0 && zs.avail_out != 0) {
      inflateEnd(&zs);
      return Status::InvalidArgument("gzip body is truncated");
    }
  }
  inflateEnd(&zs);
  return out;
}

namespace {

// One connection, plain or TLS, with its read buffer.
struct Connection {
  std::unique_ptr<beast::tcp_stream> plain;
  std::unique_ptr<beast::ssl_stream<beast::tcp_stream>> tls;
  beast::flat_buffer buffer;
  Clock::time_point idle_since;
  bool reused = false;

  beast::tcp_stream& lowest() { return tls ? beast::get_lowest_layer(*tls) : *plain; }
};

struct HostPool {
  std::vector<std::unique_ptr<Connection>> idle;
  int open = 0;  // connections that exist: checked out or idle
  std::deque<std::shared_ptr<asio::steady_timer>> waiters;
  std::deque<std::shared_ptr<asio::steady_timer>> urgent_waiters;  // served first
};

bool IsRedirect(int status) {
  return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}
bool IsRetryableStatus(int status) { return status == 429 || status >= 500; }

// An attempt's outcome: a response, or an error that may be retried.
struct Attempt {
  Result<HttpResponse> result = Status::Unavailable("not attempted");
  bool retryable = false;
};

std::string Describe(const HttpRequest& req) { return fmt::format("{} {}", req.method, req.url); }

}  // namespace

class BeastHttpClient::Impl {
 public:
  explicit Impl(HttpClientConfig config) : config_(std::move(config)), tls_(ssl::context::tls_client) {
    boost::system::error_code ec;
    if (config_.ca_file.empty())
      tls_.set_default_verify_paths(ec);
    else
      tls_.load_verify_file(config_.ca_file, ec);
    if (ec) throw std::runtime_error(fmt::format("TLS trust store: {}", ec.message()));
    tls_.set_verify_mode(config_.verify_tls ? ssl::verify_peer : ssl::verify_none);
    work_.emplace(asio::make_work_guard(io_));
    for (int i = 0; i < std::max(1, config_.threads); ++i) threads_.emplace_back([this] { io_.run(); });
  }

  ~Impl() {
    work_.reset();
    io_.stop();
    for (auto& t : threads_) t.join();
  }

  void Fetch(HttpRequest request, std::function<void(Result<HttpResponse>)> done) {
    stats_.requests++;
    asio::co_spawn(
        io_,
        [this, request = std::move(request), done = std::move(done)]() mutable -> asio::awaitable<void> {
          Result<HttpResponse> result = Status::Internal("HTTP client: unexpected exception");
          try {
            result = co_await Run(std::move(request));
          } catch (const std::exception& e) {
            result = Status::Internal(fmt::format("HTTP client: {}", e.what()));
          }
          if (!result.ok()) stats_.failures++;
          done(std::move(result));
        },
        asio::detached);
  }

  HttpClientStats Stats() const {
    return {stats_.requests.load(), stats_.attempts.load(), stats_.retries.load(), stats_.failures.load(),
            stats_.connections.load()};
  }

 private:
  asio::awaitable<Result<HttpResponse>> Run(HttpRequest request) {
    auto start = Clock::now();
    auto url = ParseUrl(request.url);
    if (!url.ok()) co_return url.status();
    Attempt attempt;
    int max_attempts = std::max(1, request.max_attempts);
    for (int n = 1; n <= max_attempts; ++n) {
      attempt = co_await FollowRedirects(request, *url);
      if (attempt.result.ok()) {
        attempt.result->attempts = n;
        attempt.result->elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
      }
      if (!attempt.retryable || n == max_attempts) break;
      auto delay = RetryDelay(n, attempt);
      if (!delay) break;  // the upstream asked for a longer wait than we hold a request for
      stats_.retries++;
      asio::steady_timer timer(co_await asio::this_coro::executor, *delay);
      co_await timer.async_wait(asio::use_awaitable);
    }
    co_return std::move(attempt.result);
  }

  std::optional<std::chrono::milliseconds> RetryDelay(int attempt, const Attempt& last) {
    if (last.result.ok()) {
      if (const std::string* after = last.result->Header("retry-after")) {
        std::int64_t secs = ParseRetryAfterSeconds(*after, std::time(nullptr));
        if (secs >= 0) {
          auto wait = std::chrono::milliseconds(secs * 1000);
          if (wait > config_.retry.max_retry_after) return std::nullopt;
          return wait;
        }
      }
    }
    double ceiling =
        static_cast<double>(config_.retry.base.count()) * std::pow(2.0, std::min(attempt - 1, 16));
    ceiling = std::min(ceiling, static_cast<double>(config_.retry.max.count()));
    thread_local std::mt19937_64 rng{std::random_device{}()};
    double jittered = std::uniform_real_distribution<double>(ceiling / 2, ceiling)(rng);
    return std::chrono::milliseconds(static_cast<std::int64_t>(jittered));
  }

  asio::awaitable<Attempt> FollowRedirects(const HttpRequest& request, Url url) {
    HttpRequest current = request;
    for (int hop = 0; hop <= config_.max_redirects; ++hop) {
      Attempt attempt = co_await Exchange(current, url);
      if (!attempt.result.ok() || !IsRedirect(attempt.result->status)) {
        if (attempt.result.ok())
          attempt.retryable = IsRetryableStatus(attempt.result->status) &&
                              (attempt.result->status != 429 || request.retry_429);
        co_return attempt;
      }
      const std::string* location = attempt.result->Header("location");
      if (location == nullptr) co_return attempt;
      auto next = ResolveUrl(url, *location);
      if (!next.ok())
        co_return Attempt{Status::InvalidArgument(fmt::format("{}: redirect to an invalid URL: {}",
                                                              Describe(request), next.status().message())),
                          false};
      url = *next;
      current.url = url.ToString();
      if (attempt.result->status == 303) {
        current.method = "GET";
        current.body.clear();
      }
    }
    co_return Attempt{Status::FailedPrecondition(fmt::format("{}: more than {} redirects", Describe(request),
                                                             config_.max_redirects)),
                      false};
  }

  // One request/response on a pooled connection. A reused connection that the server
  // closed while idle is replaced once without counting as an attempt.
  asio::awaitable<Attempt> Exchange(const HttpRequest& request, const Url& url) {
    stats_.attempts++;
    for (int stale_retry = 0; stale_retry < 2; ++stale_retry) {
      auto conn_or = co_await Acquire(url, request.timeout, request.urgent);
      if (!conn_or.ok()) co_return Attempt{Status(conn_or.status()), true};
      std::unique_ptr<Connection> conn = std::move(conn_or).value();
      boost::system::error_code ec;
      http::request<http::string_body> req{http::string_to_verb(request.method), url.target, 11};
      if (req.method() == http::verb::unknown) req.method_string(request.method);
      bool default_port = (url.tls() && url.port == "443") || (!url.tls() && url.port == "80");
      req.set(http::field::host, default_port ? url.host : url.host + ":" + url.port);
      req.set(http::field::user_agent, config_.user_agent);
      req.set(http::field::accept_encoding, "gzip");
      for (const auto& [name, value] : request.headers) req.set(name, value);
      if (!request.body.empty() || request.method == "POST" || request.method == "PUT") {
        req.body() = request.body;
        req.prepare_payload();
      }
      req.keep_alive(true);

      http::response_parser<http::string_body> parser;
      parser.body_limit(request.max_body_bytes);
      conn->lowest().expires_after(request.timeout);
      if (conn->tls) {
        co_await http::async_write(*conn->tls, req, asio::redirect_error(asio::use_awaitable, ec));
        if (!ec)
          co_await http::async_read(*conn->tls, conn->buffer, parser,
                                    asio::redirect_error(asio::use_awaitable, ec));
      } else {
        co_await http::async_write(*conn->plain, req, asio::redirect_error(asio::use_awaitable, ec));
        if (!ec)
          co_await http::async_read(*conn->plain, conn->buffer, parser,
                                    asio::redirect_error(asio::use_awaitable, ec));
      }
      if (ec) {
        bool stale = conn->reused && !parser.got_some() && ec != beast::error::timeout;
        Release(url, std::move(conn), false);
        if (stale) continue;
        if (ec == http::error::body_limit)
          co_return Attempt{Status::ResourceExhausted(fmt::format("{}: body larger than {} bytes",
                                                                  Describe(request), request.max_body_bytes)),
                            false};
        if (ec == beast::error::timeout)
          co_return Attempt{Status::DeadlineExceeded(fmt::format("{}: timed out after {} ms",
                                                                 Describe(request), request.timeout.count())),
                            true};
        co_return Attempt{Status::Unavailable(fmt::format("{}: {}", Describe(request), ec.message())), true};
      }
      auto& res = parser.get();
      HttpResponse out;
      out.status = static_cast<int>(res.result_int());
      out.url = url.ToString();
      for (const auto& field : res) {
        std::string name(field.name_string());
        std::transform(name.begin(), name.end(), name.begin(),
                       [](unsigned char c) { return std::tolower(c); });
        out.headers.emplace_back(std::move(name), std::string(field.value()));
      }
      bool reusable = res.keep_alive();
      std::string body = std::move(res.body());
      Release(url, std::move(conn), reusable);
      const std::string* encoding = out.Header("content-encoding");
      if (encoding != nullptr && (*encoding == "gzip" || *encoding == "x-gzip")) {
        auto decoded = Gunzip(body, request.max_body_bytes);
        if (!decoded.ok())
          co_return Attempt{Status(decoded.status().code() == core::StatusCode::kResourceExhausted
                                       ? Status::ResourceExhausted(fmt::format("{}: {}", Describe(request),
                                                                               decoded.status().message()))
                                       : Status::Unavailable(fmt::format("{}: {}", Describe(request),
                                                                         decoded.status().message()))),
                            decoded.status().code() != core::StatusCode::kResourceExhausted};
        out.body = std::move(decoded).value();
      } else {
        out.body = std::move(body);
      }
      co_return Attempt{std::move(out), false};
    }
    co_return Attempt{
        Status::Unavailable(fmt::format("{}: connection closed by the server", Describe(request))), true};
  }

  // A connection for `url`: an idle pooled one, a new one, or (at the cap) the next one
  // released, urgent requests before the others.
  asio::awaitable<Result<std::unique_ptr<Connection>>> Acquire(const Url& url,
                                                               std::chrono::milliseconds timeout,
                                                               bool urgent) {
    auto deadline = Clock::now() + timeout;
    while (true) {
      std::shared_ptr<asio::steady_timer> waiter;
      {
        std::lock_guard lock(mu_);
        HostPool& pool = pools_[url.HostKey()];
        while (!pool.idle.empty()) {
          std::unique_ptr<Connection> conn = std::move(pool.idle.back());
          pool.idle.pop_back();
          if (Clock::now() - conn->idle_since < config_.idle_timeout) {
            conn->reused = true;
            co_return conn;
          }
          pool.open--;
        }
        if (pool.open < config_.max_connections_per_host) {
          pool.open++;
        } else {
          waiter = std::make_shared<asio::steady_timer>(co_await asio::this_coro::executor, deadline);
          (urgent ? pool.urgent_waiters : pool.waiters).push_back(waiter);
        }
      }
      if (waiter) {
        boost::system::error_code ec;
        co_await waiter->async_wait(asio::redirect_error(asio::use_awaitable, ec));
        if (!ec)  // the deadline passed without a free connection
          co_return Status::DeadlineExceeded(
              fmt::format("{}: no free connection within {} ms", url.HostKey(), timeout.count()));
        continue;  // woken by a release
      }
      auto conn = co_await Connect(url, deadline);
      if (!conn.ok()) {
        std::lock_guard lock(mu_);
        HostPool& pool = pools_[url.HostKey()];
        pool.open--;
        WakeOne(pool);
      }
      co_return conn;
    }
  }

  void Release(const Url& url, std::unique_ptr<Connection> conn, bool reusable) {
    std::lock_guard lock(mu_);
    HostPool& pool = pools_[url.HostKey()];
    if (reusable) {
      conn->idle_since = Clock::now();
      conn->lowest().expires_never();
      pool.idle.push_back(std::move(conn));
    } else {
      pool.open--;
    }
    WakeOne(pool);
  }

  static void WakeOne(HostPool& pool) {
    auto& queue = pool.urgent_waiters.empty() ? pool.waiters : pool.urgent_waiters;
    if (queue.empty()) return;
    queue.front()->cancel();
    queue.pop_front();
  }

  asio::awaitable<Result<std::unique_ptr<Connection>>> Connect(const Url& url, Clock::time_point deadline) {
    auto executor = co_await asio::this_coro::executor;
    auto conn = std::make_unique<Connection>();
    boost::system::error_code ec;
    tcp::resolver resolver(executor);
    auto endpoints =
        co_await resolver.async_resolve(url.host, url.port, asio::redirect_error(asio::use_awaitable, ec));
    if (ec)
      co_return Status::Unavailable(fmt::format("{}: cannot resolve host: {}", url.HostKey(), ec.message()));
    if (url.tls()) {
      conn->tls = std::make_unique<beast::ssl_stream<beast::tcp_stream>>(executor, tls_);
      if (!SSL_set_tlsext_host_name(conn->tls->native_handle(), url.host.c_str()))
        co_return Status::Unavailable(fmt::format("{}: cannot set TLS SNI", url.HostKey()));
      if (config_.verify_tls) conn->tls->set_verify_callback(ssl::host_name_verification(url.host));
    } else {
      conn->plain = std::make_unique<beast::tcp_stream>(executor);
    }
    conn->lowest().expires_at(deadline);
    co_await conn->lowest().async_connect(endpoints, asio::redirect_error(asio::use_awaitable, ec));
    if (ec == beast::error::timeout)
      co_return Status::DeadlineExceeded(fmt::format("{}: connect timed out", url.HostKey()));
    if (ec) co_return Status::Unavailable(fmt::format("{}: cannot connect: {}", url.HostKey(), ec.message()));
    if (conn->tls) {
      co_await conn->tls->async_handshake(ssl::stream_base::client,
                                          asio::redirect_error(asio::use_awaitable, ec));
      if (ec)
        co_return Status::Unavailable(
            fmt::format("{}: TLS handshake failed: {}", url.HostKey(), ec.message()));
    }
    stats_.connections++;
    co_return conn;
  }

  HttpClientConfig config_;
  ssl::context tls_;
  asio::io_context io_;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_;
  std::vector<std::thread> threads_;
  std::mutex mu_;
  std::map<std::string, HostPool> pools_;
  struct {
    std::atomic<std::int64_t> requests{0}, attempts{0}, retries{0}, failures{0}, connections{0};
  } stats_;
};

BeastHttpClient::BeastHttpClient(HttpClientConfig config)
    : impl_(std::make_unique<Impl>(std::move(config))) {}
BeastHttpClient::~BeastHttpClient() = default;
void BeastHttpClient::Fetch(HttpRequest request, std::function<void(Result<HttpResponse>)> done) {
  impl_->Fetch(std::move(request), std::move(done));
}
HttpClientStats BeastHttpClient::Stats() const { return impl_->Stats(); }

}  // namespace pkgtrust::net
