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

#include "pkgtrust/core/log.hpp"
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

namespace {

// Incremental gzip decoding, so that a caller can stop between steps (a body limit) or wait
// (the byte budget) before the output grows further.
class Inflater {
 public:
  explicit Inflater(std::string_view compressed) {
    ok_ = inflateInit2(&zs_, 16 + MAX_WBITS) == Z_OK;
    zs_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(compressed.data()));
    zs_.avail_in = static_cast<uInt>(compressed.size());
  }
  ~Inflater() {
    if (ok_) inflateEnd(&zs_);
  }
  Inflater(const Inflater&) = delete;
  Inflater& operator=(const Inflater&) = delete;

  bool done() const { return done_; }
  // Appends at most about `step` bytes to `out`; fails past `max_bytes` in all.
  Status Step(std::string& out, std::size_t step, std::size_t max_bytes) {
    if (!ok_) return Status::Internal("gzip: cannot initialise zlib");
    char chunk[64 * 1024];
    std::size_t produced = 0;
    while (!done_ && produced < step) {
      zs_.next_out = reinterpret_cast<Bytef*>(chunk);
      zs_.avail_out = sizeof(chunk);
      int rc = inflate(&zs_, Z_NO_FLUSH);
      if (rc != Z_OK && rc != Z_STREAM_END)
        return Status::InvalidArgument(
            fmt::format("gzip body is corrupt ({})", zs_.msg ? zs_.msg : "truncated"));
      std::size_t n = sizeof(chunk) - zs_.avail_out;
      out.append(chunk, n);
      produced += n;
      if (out.size() > max_bytes)
        return Status::ResourceExhausted(
            fmt::format("body larger than {} bytes once decompressed", max_bytes));
      if (rc == Z_STREAM_END)
        done_ = true;
      else if (zs_.avail_in == 0 && zs_.avail_out != 0)
        return Status::InvalidArgument("gzip body is truncated");
    }
    return Status::Ok();
  }

 private:
  z_stream zs_{};
  bool ok_ = false;
  bool done_ = false;
};

}  // namespace

// The decoded size gzip's trailer announces (ISIZE: the size modulo 2^32), or 0.
std::size_t GzipDecodedSize(std::string_view compressed) {
  if (compressed.size() < 18) return 0;
  const auto* tail = reinterpret_cast<const unsigned char*>(compressed.data() + compressed.size() - 4);
  return static_cast<std::size_t>(tail[0]) | static_cast<std::size_t>(tail[1]) << 8 |
         static_cast<std::size_t>(tail[2]) << 16 | static_cast<std::size_t>(tail[3]) << 24;
}

Result<std::string> Gunzip(std::string_view compressed, std::size_t max_bytes) {
  Inflater inflater(compressed);
  std::string out;
  while (!inflater.done())
    if (Status s = inflater.Step(out, 1u << 20, max_bytes); !s.ok()) return s;
  return out;
}

bool IsNonPublicAddress(std::string_view text) {
  boost::system::error_code ec;
  asio::ip::address address = asio::ip::make_address(std::string(text), ec);
  if (ec) return true;  // not an address: never treated as public
  if (address.is_v6()) {
    asio::ip::address_v6 v6 = address.to_v6();
    if (v6.is_v4_mapped()) return IsNonPublicAddress(v6.to_v4().to_string());
    auto bytes = v6.to_bytes();
    return v6.is_loopback() || v6.is_unspecified() || v6.is_link_local() || v6.is_multicast() ||
           (bytes[0] & 0xfe) == 0xfc;  // fc00::/7, unique local
  }
  std::uint32_t v4 = address.to_v4().to_uint();
  auto in = [v4](std::uint32_t net, int bits) { return (v4 >> (32 - bits)) == (net >> (32 - bits)); };
  return in(0x00000000, 8) ||                    // 0.0.0.0/8, "this network"
         in(0x0A000000, 8) ||                    // 10.0.0.0/8
         in(0x64400000, 10) ||                   // 100.64.0.0/10, carrier-grade NAT
         in(0x7F000000, 8) ||                    // 127.0.0.0/8, loopback
         in(0xA9FE0000, 16) ||                   // 169.254.0.0/16, link-local (cloud metadata)
         in(0xAC100000, 12) ||                   // 172.16.0.0/12
         in(0xC0A80000, 16) ||                   // 192.168.0.0/16
         in(0xE0000000, 4) || v4 == 0xFFFFFFFF;  // multicast, broadcast
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

// One budget of bytes for every upstream body in flight, shared by all requests (config
// body_budget_bytes). A request holds a share that grows as its body arrives and is decoded;
// growing waits, in order of arrival, while the budget is spent. The share stays with the
// response until its reader drops it. So that waiting never deadlocks (every exchange still
// under way waiting to grow, the rest held by delivered answers whose readers may be waiting
// for those very exchanges), the oldest exchange goes ahead when none under way can progress:
// memory stays within the budget plus the body going ahead, plus those that went ahead before
// it while their readers still hold them (a delivered answer lets the next one go ahead).
class ByteBudget {
 public:
  explicit ByteBudget(std::size_t limit) : limit_(std::max<std::size_t>(limit, 1)) {}

  // A request's share; gives it back when destroyed. Not for concurrent use.
  class Hold {
   public:
    explicit Hold(ByteBudget& budget) : budget_(budget) {}
    ~Hold() { budget_.Release(*this, bytes_); }
    Hold(const Hold&) = delete;
    Hold& operator=(const Hold&) = delete;
    std::size_t bytes() const { return bytes_; }
    // Gives back what is no longer held in memory (a compressed body once decoded).
    void Shrink(std::size_t bytes) { budget_.Release(*this, std::min(bytes, bytes_)); }
    // The exchange is over: the bytes stay held (by the response) but no longer grow.
    void Deliver() { budget_.Deliver(*this); }

   private:
    friend class ByteBudget;
    ByteBudget& budget_;
    std::size_t bytes_ = 0;
    std::uint64_t order_ = 0;  // when it first held bytes: the oldest goes ahead when all wait
    bool active_ = true;       // its exchange is under way (it may still grow)
  };

  asio::awaitable<void> Grow(Hold& hold, std::size_t bytes) {
    auto waiter = std::make_shared<Waiter>();
    {
      std::lock_guard lock(mu_);
      if (queue_.empty() && (used_ + bytes <= limit_ || used_ == 0)) {
        GrantLocked(hold, bytes);
        co_return;
      }
      waiter->bytes = bytes;
      waiter->hold = &hold;
      waiter->timer = std::make_unique<asio::steady_timer>(co_await asio::this_coro::executor);
      if (hold.bytes_ > 0) waiting_holders_++;
      waits_++;
      queue_.push_back(waiter);
      GrantWaitersLocked();
    }
    // The waiter's timer is its own (timers are not safe to touch from two threads): it polls
    // the flag the granter sets under the lock.
    while (true) {
      {
        std::lock_guard lock(mu_);
        if (waiter->granted) co_return;
      }
      boost::system::error_code ec;
      waiter->timer->expires_after(kPoll);
      co_await waiter->timer->async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
  }

  std::int64_t used() const {
    std::lock_guard lock(mu_);
    return static_cast<std::int64_t>(used_);
  }
  std::int64_t peak() const {
    std::lock_guard lock(mu_);
    return static_cast<std::int64_t>(peak_);
  }
  std::int64_t waits() const {
    std::lock_guard lock(mu_);
    return waits_;
  }

 private:
  struct Waiter {
    std::size_t bytes = 0;
    Hold* hold = nullptr;
    std::unique_ptr<asio::steady_timer> timer;
    bool granted = false;
  };

  void GrantLocked(Hold& hold, std::size_t bytes) {
    if (hold.bytes_ == 0 && bytes > 0) {
      if (hold.active_) holders_++;
      hold.order_ = ++next_order_;
    }
    hold.bytes_ += bytes;
    used_ += bytes;
    peak_ = std::max(peak_, used_);
  }

  void GrantWaitersLocked() {
    while (!queue_.empty()) {
      auto chosen = queue_.begin();
      bool fits = used_ + (*chosen)->bytes <= limit_ || used_ == 0;
      if (!fits) {
        // Every holder waits to grow: nobody is left to give bytes back. The oldest holder goes
        // ahead (again and again until it is done), so only one body is ever over the budget.
        if (holders_ == 0 || holders_ != waiting_holders_) return;
        chosen = std::min_element(queue_.begin(), queue_.end(), [](const auto& a, const auto& b) {
          std::uint64_t x = a->hold->bytes_ > 0 ? a->hold->order_ : UINT64_MAX;
          std::uint64_t y = b->hold->bytes_ > 0 ? b->hold->order_ : UINT64_MAX;
          return x < y;
        });
      }
      Waiter& waiter = **chosen;
      if (waiter.hold->bytes_ > 0) waiting_holders_--;
      GrantLocked(*waiter.hold, waiter.bytes);
      waiter.granted = true;
      queue_.erase(chosen);
    }
  }

  void Release(Hold& hold, std::size_t bytes) {
    std::lock_guard lock(mu_);
    if (bytes == 0) return;
    hold.bytes_ -= bytes;
    used_ -= bytes;
    if (hold.bytes_ == 0 && hold.active_) holders_--;
    GrantWaitersLocked();
  }

  void Deliver(Hold& hold) {
    std::lock_guard lock(mu_);
    if (!hold.active_) return;
    hold.active_ = false;
    if (hold.bytes_ > 0) holders_--;
    GrantWaitersLocked();
  }

  static constexpr std::chrono::milliseconds kPoll{2};
  const std::size_t limit_;
  mutable std::mutex mu_;
  std::size_t used_ = 0, peak_ = 0;
  int holders_ = 0, waiting_holders_ = 0;  // holds under way with bytes; of those, how many wait to grow
  std::uint64_t next_order_ = 0;
  std::int64_t waits_ = 0;
  std::deque<std::shared_ptr<Waiter>> queue_;
};

bool SameOrigin(const Url& a, const Url& b) {
  return a.scheme == b.scheme && a.host == b.host && a.port == b.port;
}

bool HostListed(const std::vector<std::string>& hosts, const std::string& host) {
  return std::any_of(hosts.begin(), hosts.end(), [&](const std::string& h) {
    return h.size() == host.size() && std::equal(h.begin(), h.end(), host.begin(), [](char x, char y) {
             return std::tolower(x) == std::tolower(y);
           });
  });
}

// Headers that carry credentials: never sent to another host than the one they were meant for.
bool IsCredentialHeader(std::string name) {
  std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
  return name == "authorization" || name == "proxy-authorization" || name == "cookie" ||
         name == "x-amz-security-token";
}

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

// A streamed exchange's sink, and whether any of the body went to it (no retry after that).
struct StreamedBody {
  BodySink sink;
  bool handed_over = false;
};

void ReadHead(const http::response_header<>& header, HttpResponse& out) {
  out.status = static_cast<int>(header.result_int());
  for (const auto& field : header) {
    std::string name(field.name_string());
    std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
    out.headers.emplace_back(std::move(name), std::string(field.value()));
  }
}

}  // namespace

void HttpClient::FetchStreamed(HttpRequest request, BodySink,
                               std::function<void(Result<HttpResponse>)> done) {
  done(Status::FailedPrecondition(
      fmt::format("{}: this HTTP client cannot stream bodies", Describe(request))));
}

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
    for (int i = 0; i < std::max(1, config_.threads); ++i) threads_.emplace_back([this] { RunIo(); });
  }

  // Every request's coroutine catches what it throws; anything else that escapes a handler
  // is logged and the thread goes on, so no upstream answer ends the process.
  void RunIo() {
    while (true) {
      try {
        io_.run();
        return;
      } catch (const std::exception& e) {
        core::Log(core::LogLevel::kError, "http-client", "an upstream exchange threw and was dropped: {}",
                  e.what());
      } catch (...) {
        core::Log(core::LogLevel::kError, "http-client", "an upstream exchange threw and was dropped");
      }
    }
  }

  ~Impl() {
    work_.reset();
    io_.stop();
    for (auto& t : threads_) t.join();
  }

  // `streamed` null: the body is read whole.
  void Fetch(HttpRequest request, std::shared_ptr<StreamedBody> streamed,
             std::function<void(Result<HttpResponse>)> done) {
    stats_.requests++;
    asio::co_spawn(
        io_,
        [this, request = std::move(request), streamed = std::move(streamed),
         done = std::move(done)]() mutable -> asio::awaitable<void> {
          Result<HttpResponse> result = Status::Internal("HTTP client: unexpected exception");
          try {
            result = co_await Run(std::move(request), streamed.get());
          } catch (const std::exception& e) {
            result = Status::Internal(fmt::format("HTTP client: {}", e.what()));
          }
          if (!result.ok()) stats_.failures++;
          done(std::move(result));
        },
        asio::detached);
  }

  HttpClientStats Stats() const {
    return {stats_.requests.load(),
            stats_.attempts.load(),
            stats_.retries.load(),
            stats_.failures.load(),
            stats_.connections.load(),
            stats_.refused_redirects.load(),
            budget_.used(),
            budget_.peak(),
            budget_.waits()};
  }

 private:
  asio::awaitable<Result<HttpResponse>> Run(HttpRequest request, StreamedBody* streamed) {
    auto start = Clock::now();
    auto url = ParseUrl(request.url);
    if (!url.ok()) co_return url.status();
    Attempt attempt;
    int max_attempts = std::max(1, request.max_attempts);
    for (int n = 1; n <= max_attempts; ++n) {
      attempt = co_await FollowRedirects(request, *url, streamed);
      if (attempt.result.ok()) {
        attempt.result->attempts = n;
        attempt.result->elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
      }
      if (!attempt.retryable || n == max_attempts || (streamed && streamed->handed_over)) break;
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

  asio::awaitable<Attempt> FollowRedirects(const HttpRequest& request, Url url, StreamedBody* streamed) {
    const Url origin = url;
    HttpRequest current = request;
    bool refuse_private = false;  // the request's own host is the caller's choice; a redirect's is not
    for (int hop = 0; hop <= config_.max_redirects; ++hop) {
      Attempt attempt = co_await Exchange(current, url, refuse_private, streamed);
      if (!attempt.result.ok() || !IsRedirect(attempt.result->status)) {
        if (attempt.result.ok())
          attempt.retryable = IsRetryableStatus(attempt.result->status) &&
                              (attempt.result->status != 429 || request.retry_429) &&
                              ((attempt.result->status != 502 && attempt.result->status != 504) ||
                               request.retry_gateway_timeout);
        co_return attempt;
      }
      const std::string* location = attempt.result->Header("location");
      if (location == nullptr) co_return attempt;
      auto next = ResolveUrl(url, *location);
      if (!next.ok())
        co_return Attempt{Status::InvalidArgument(fmt::format("{}: redirect to an invalid URL: {}",
                                                              Describe(request), next.status().message())),
                          false};
      // Redirects stay on the request's origin, unless the config lists the new host; never
      // from https to http.
      if (url.tls() && !next->tls()) {
        stats_.refused_redirects++;
        co_return Attempt{
            Status::PermissionDenied(fmt::format("{}: refused a redirect from https to http ({})",
                                                 Describe(request), next->HostKey())),
            false};
      }
      if (!SameOrigin(*next, origin)) {
        if (!HostListed(config_.redirect_hosts, next->host)) {
          stats_.refused_redirects++;
          co_return Attempt{
              Status::PermissionDenied(fmt::format("{}: refused a redirect to another host ({}); list it in "
                                                   "upstreams.redirect_hosts to allow it",
                                                   Describe(request), next->HostKey())),
              false};
        }
        // Credentials were meant for the origin, not for the host it sends us to.
        std::erase_if(current.headers, [](const auto& header) { return IsCredentialHeader(header.first); });
        refuse_private = !HostListed(config_.trusted_hosts, next->host);
      }
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
  // closed while idle is replaced once without counting as an attempt. The body is read a
  // piece at a time, its share of the byte budget growing (and waiting) as it arrives.
  asio::awaitable<Attempt> Exchange(const HttpRequest& request, const Url& url, bool refuse_private,
                                    StreamedBody* streamed) {
    stats_.attempts++;
    for (int stale_retry = 0; stale_retry < 2; ++stale_retry) {
      auto conn_or = co_await Acquire(url, request.timeout, request.urgent, refuse_private);
      if (!conn_or.ok()) {
        bool retryable = conn_or.status().code() != core::StatusCode::kPermissionDenied;
        co_return Attempt{Status(conn_or.status()), retryable};
      }
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

      if (streamed) {
        conn->lowest().expires_after(request.timeout);
        bool reusable = false;
        Attempt attempt;
        if (conn->tls) {
          co_await http::async_write(*conn->tls, req, asio::redirect_error(asio::use_awaitable, ec));
          if (!ec) attempt = co_await ReadStreamed(*conn->tls, *conn, request, url, *streamed, reusable);
        } else {
          co_await http::async_write(*conn->plain, req, asio::redirect_error(asio::use_awaitable, ec));
          if (!ec) attempt = co_await ReadStreamed(*conn->plain, *conn, request, url, *streamed, reusable);
        }
        if (ec) {
          bool stale = conn->reused && ec != beast::error::timeout;
          Release(url, std::move(conn), false);
          if (stale) continue;
          co_return Attempt{Status::Unavailable(fmt::format("{}: {}", Describe(request), ec.message())),
                            true};
        }
        Release(url, std::move(conn), reusable);
        co_return attempt;
      }

      http::response_parser<http::string_body> parser;
      parser.body_limit(request.max_body_bytes);
      auto hold = std::make_shared<ByteBudget::Hold>(budget_);
      conn->lowest().expires_after(request.timeout);
      if (conn->tls) {
        co_await http::async_write(*conn->tls, req, asio::redirect_error(asio::use_awaitable, ec));
        if (!ec) co_await ReadBody(*conn->tls, conn->buffer, parser, *hold, request, conn->lowest(), ec);
      } else {
        co_await http::async_write(*conn->plain, req, asio::redirect_error(asio::use_awaitable, ec));
        if (!ec) co_await ReadBody(*conn->plain, conn->buffer, parser, *hold, request, conn->lowest(), ec);
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
        // Decoded a step at a time: the output's share of the budget is taken before it grows.
        // gzip's trailer gives the decoded size (modulo 4 GiB): reserved at once when it is
        // within the limit, so the output never doubles its capacity as it grows.
        Inflater inflater(body);
        std::string decoded;
        std::size_t announced = GzipDecodedSize(body);
        if (announced > 0 && announced <= request.max_body_bytes) {
          if (body.size() + announced > hold->bytes())
            co_await budget_.Grow(*hold, body.size() + announced - hold->bytes());
          decoded.reserve(announced);
        }
        Status status;
        while (status.ok() && !inflater.done()) {
          std::size_t in_memory = body.size() + decoded.size();
          std::size_t room = hold->bytes() > in_memory ? hold->bytes() - in_memory : 0;
          if (room == 0) {  // more than announced (or nothing announced): grow step by step
            co_await budget_.Grow(*hold, kBudgetStep);
            continue;
          }
          status = inflater.Step(decoded, std::min(room, kBudgetStep), request.max_body_bytes);
        }
        if (!status.ok())
          co_return Attempt{
              Status(
                  status.code() == core::StatusCode::kResourceExhausted
                      ? Status::ResourceExhausted(fmt::format("{}: {}", Describe(request), status.message()))
                      : Status::Unavailable(fmt::format("{}: {}", Describe(request), status.message()))),
              status.code() != core::StatusCode::kResourceExhausted};
        std::size_t compressed = body.size();
        std::string().swap(body);
        hold->Shrink(compressed);
        out.body = std::move(decoded);
      } else {
        out.body = std::move(body);
      }
      hold->Deliver();
      out.budget_hold = std::move(hold);
      co_return Attempt{std::move(out), false};
    }
    co_return Attempt{
        Status::Unavailable(fmt::format("{}: connection closed by the server", Describe(request))), true};
  }

  // Reads the header, then the body a piece at a time, keeping the hold ahead of the bytes
  // received. A wait for budget restarts the deadline: the wait is ours, not the upstream's.
  template <typename Stream>
  asio::awaitable<void> ReadBody(Stream& stream, beast::flat_buffer& buffer,
                                 http::response_parser<http::string_body>& parser, ByteBudget::Hold& hold,
                                 const HttpRequest& request, beast::tcp_stream& lowest,
                                 boost::system::error_code& ec) {
    co_await http::async_read_header(stream, buffer, parser, asio::redirect_error(asio::use_awaitable, ec));
    if (ec || parser.is_done()) co_return;
    std::size_t first = parser.content_length() ? static_cast<std::size_t>(std::min<std::uint64_t>(
                                                      *parser.content_length(), request.max_body_bytes))
                                                : kBudgetStep;
    co_await budget_.Grow(hold, first);
    lowest.expires_after(request.timeout);
    while (!parser.is_done()) {
      co_await http::async_read_some(stream, buffer, parser, asio::redirect_error(asio::use_awaitable, ec));
      if (ec) co_return;
      // A declared length was reserved whole; a chunked body grows its share as it comes.
      if (!parser.is_done() && !parser.content_length() &&
          parser.get().body().size() + kReadAhead > hold.bytes()) {
        co_await budget_.Grow(hold, kBudgetStep);
        lowest.expires_after(request.timeout);
      }
    }
  }

  // A streamed exchange's response: a 2xx body goes to the sink a piece at a time (the
  // deadline restarts with each piece: a large file may take long, a stalled one may not);
  // any other body is read whole, up to kMaxUnstreamedBody.
  template <typename Stream>
  asio::awaitable<Attempt> ReadStreamed(Stream& stream, Connection& conn, const HttpRequest& request,
                                        const Url& url, StreamedBody& streamed, bool& reusable) {
    boost::system::error_code ec;
    http::response_parser<http::buffer_body> parser;
    parser.body_limit(boost::none);
    co_await http::async_read_header(stream, conn.buffer, parser,
                                     asio::redirect_error(asio::use_awaitable, ec));
    auto failed = [&](bool retryable) {
      if (ec == beast::error::timeout)
        return Attempt{Status::DeadlineExceeded(fmt::format("{}: timed out after {} ms", Describe(request),
                                                            request.timeout.count())),
                       retryable};
      return Attempt{Status::Unavailable(fmt::format("{}: {}", Describe(request), ec.message())), retryable};
    };
    if (ec) co_return failed(true);  // nothing was handed over yet
    HttpResponse head;
    head.url = url.ToString();
    ReadHead(parser.get().base(), head);
    bool to_sink = head.status / 100 == 2;
    auto abandoned = [&] {
      return Attempt{
          Status::FailedPrecondition(fmt::format("{}: abandoned by its reader", Describe(request))), false};
    };
    if (to_sink) {
      if (!streamed.sink.on_head(head)) co_return abandoned();
      streamed.handed_over = true;
    }
    auto piece = std::make_unique<char[]>(kStreamPiece);
    std::string small;
    while (!parser.is_done()) {
      parser.get().body().data = piece.get();
      parser.get().body().size = kStreamPiece;
      conn.lowest().expires_after(request.timeout);
      co_await http::async_read(stream, conn.buffer, parser, asio::redirect_error(asio::use_awaitable, ec));
      if (ec == http::error::need_buffer) ec = {};
      if (ec) co_return failed(!streamed.handed_over);
      std::size_t n = kStreamPiece - parser.get().body().size;
      if (n == 0) continue;
      if (to_sink) {
        if (!streamed.sink.on_body(std::string_view(piece.get(), n))) co_return abandoned();
      } else {
        small.append(piece.get(), n);
        if (small.size() > kMaxUnstreamedBody)
          co_return Attempt{
              Status::ResourceExhausted(fmt::format("{}: a {} answer's body is larger than {} bytes",
                                                    Describe(request), head.status, kMaxUnstreamedBody)),
              false};
      }
    }
    reusable = parser.get().keep_alive();
    const std::string* encoding = head.Header("content-encoding");
    if (!to_sink && encoding != nullptr && (*encoding == "gzip" || *encoding == "x-gzip")) {
      auto decoded = Gunzip(small, kMaxUnstreamedBody);
      if (!decoded.ok()) co_return Attempt{decoded.status(), false};
      small = std::move(decoded).value();
    }
    head.body = std::move(small);
    co_return Attempt{std::move(head), false};
  }

  static constexpr std::size_t kStreamPiece = 64u << 10;
  static constexpr std::size_t kMaxUnstreamedBody = 1u << 20;
  static constexpr std::size_t kBudgetStep = 1u << 20;   // a body's share grows by this much
  static constexpr std::size_t kReadAhead = 128u << 10;  // what one read may add to a body

  // A connection for `url`: an idle pooled one, a new one, or (at the cap) the next one
  // released, urgent requests before the others.
  asio::awaitable<Result<std::unique_ptr<Connection>>> Acquire(const Url& url,
                                                               std::chrono::milliseconds timeout, bool urgent,
                                                               bool refuse_private) {
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
      auto conn = co_await Connect(url, deadline, refuse_private);
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

  asio::awaitable<Result<std::unique_ptr<Connection>>> Connect(const Url& url, Clock::time_point deadline,
                                                               bool refuse_private) {
    auto executor = co_await asio::this_coro::executor;
    auto conn = std::make_unique<Connection>();
    boost::system::error_code ec;
    tcp::resolver resolver(executor);
    auto endpoints =
        co_await resolver.async_resolve(url.host, url.port, asio::redirect_error(asio::use_awaitable, ec));
    if (ec)
      co_return Status::Unavailable(fmt::format("{}: cannot resolve host: {}", url.HostKey(), ec.message()));
    // A redirect's host must be on the public internet (checked on the addresses connected
    // to, so a name that resolves to 169.254.169.254 is refused too).
    if (refuse_private)
      for (const auto& entry : endpoints)
        if (IsNonPublicAddress(entry.endpoint().address().to_string())) {
          stats_.refused_redirects++;
          co_return Status::PermissionDenied(fmt::format(
              "{}: refused: a redirect led to a private, loopback or link-local address ({}); list the "
              "host in upstreams to allow it",
              url.HostKey(), entry.endpoint().address().to_string()));
        }
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
  ByteBudget budget_{config_.body_budget_bytes};
  ssl::context tls_;
  asio::io_context io_;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_;
  std::vector<std::thread> threads_;
  std::mutex mu_;
  std::map<std::string, HostPool> pools_;
  struct {
    std::atomic<std::int64_t> requests{0}, attempts{0}, retries{0}, failures{0}, connections{0},
        refused_redirects{0};
  } stats_;
};

BeastHttpClient::BeastHttpClient(HttpClientConfig config)
    : impl_(std::make_unique<Impl>(std::move(config))) {}
BeastHttpClient::~BeastHttpClient() = default;
void BeastHttpClient::Fetch(HttpRequest request, std::function<void(Result<HttpResponse>)> done) {
  impl_->Fetch(std::move(request), nullptr, std::move(done));
}
void BeastHttpClient::FetchStreamed(HttpRequest request, BodySink sink,
                                    std::function<void(Result<HttpResponse>)> done) {
  impl_->Fetch(std::move(request), std::make_shared<StreamedBody>(StreamedBody{std::move(sink)}),
               std::move(done));
}
HttpClientStats BeastHttpClient::Stats() const { return impl_->Stats(); }

}  // namespace pkgtrust::net
