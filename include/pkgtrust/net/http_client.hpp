// The upstream HTTP client: an interface (so tests and the registry adapters can use any
// implementation) and the production one on Boost.Beast: HTTP/1.1 over TCP or TLS
// (certificate and host-name verification on by default, SNI), a keep-alive pool per
// host with a connection cap, a deadline on every attempt, a body size limit and one byte
// budget for all bodies in flight, bounded redirects that stay on the request's origin
// unless configured otherwise, gzip decoding, and retries with exponential backoff and
// jitter on connection errors, timeouts, 5xx and 429 (honouring Retry-After); never on
// other 4xx.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "pkgtrust/core/status.hpp"

namespace pkgtrust::net {

using Headers = std::vector<std::pair<std::string, std::string>>;

struct HttpRequest {
  std::string method = "GET";
  std::string url;  // absolute http:// or https:// URL
  Headers headers;  // added to Host, User-Agent and Accept-Encoding
  std::string body;
  std::chrono::milliseconds timeout{15'000};  // per attempt: connect, send and receive
  std::size_t max_body_bytes = 64u << 20;     // after decompression
  int max_attempts = 4;                       // 1: no retry
  bool retry_429 = true;                      // false: the caller handles rate limits itself (GitHub)
  // false: a 502 or 504 (the upstream gave up in its own time limit) goes back to the caller
  // at once, which asks less next time (GitHub GraphQL batches)
  bool retry_gateway_timeout = true;
  bool urgent = false;  // a user is waiting: first in line for a connection to a busy host
};

struct HttpResponse {
  int status = 0;
  Headers headers;   // names in lower case
  std::string body;  // decoded
  std::string url;   // the URL that answered (after redirects)
  int attempts = 1;
  std::chrono::milliseconds elapsed{0};
  // The body's share of the client's byte budget, given back when the last copy of this
  // response is destroyed: a body counts until its reader is done with it.
  std::shared_ptr<void> budget_hold;

  // The first header with this (lower-case) name, or nullptr.
  const std::string* Header(std::string_view name) const;
};

// A body handed over as it arrives instead of held whole (a package file through the
// gateway). Both run on one of the client's threads, in order.
struct BodySink {
  // A 2xx response's status and headers, before its body; false abandons the exchange (the
  // connection is closed) and `done` gets a Cancelled error.
  std::function<bool(const HttpResponse& head)> on_head;
  // The next piece of the body (at most 64 KiB); false abandons the exchange as above.
  std::function<bool(std::string_view piece)> on_body;
};

// Safe for concurrent use.
class HttpClient {
 public:
  virtual ~HttpClient() = default;
  // Calls `done` exactly once, on one of the client's threads: with the response (any
  // status; 5xx/429 only once retries are spent) or with an error Status naming the
  // method, URL and cause (connection refused, timed out, body too large, ...).
  virtual void Fetch(HttpRequest request, std::function<void(core::Result<HttpResponse>)> done) = 0;
  // The same, but a 2xx body goes to `sink` as it arrives, never held whole: `done` gets
  // the head with an empty body once the last piece went to the sink, or the error that
  // ended the transfer. Redirects are followed and retries made as for Fetch until the first
  // piece is handed over, never after. Other statuses come to `done` as from Fetch (their
  // bodies are small: error pages). The request should ask for `Accept-Encoding: identity`;
  // an encoded body is handed over as it came. Clients that cannot stream answer
  // Unimplemented.
  virtual void FetchStreamed(HttpRequest request, BodySink sink,
                             std::function<void(core::Result<HttpResponse>)> done);
};

struct RetryPolicy {
  std::chrono::milliseconds base{250};  // first delay; doubles each attempt, with full jitter
  std::chrono::milliseconds max{10'000};
  std::chrono::milliseconds max_retry_after{60'000};  // a longer Retry-After is not waited for
};

struct HttpClientConfig {
  int threads = 1;
  int max_connections_per_host = 16;
  std::chrono::milliseconds idle_timeout{30'000};  // idle pooled connections are closed after
  int max_redirects = 5;
  // Redirects stay on the request's origin (scheme, host and port) unless the new host is
  // listed here; https never goes to http. Credentials (Authorization, Cookie) are dropped
  // on any change of host.
  std::vector<std::string> redirect_hosts;
  // Hosts whose addresses may be private, loopback or link-local when a redirect leads
  // there (the configured upstreams: a mirror on the LAN, a test server on 127.0.0.1). A
  // redirect to any other host that resolves to such an address is refused (SSRF: the
  // cloud metadata service at 169.254.169.254, the host's own services).
  std::vector<std::string> trusted_hosts;
  // Bytes of upstream bodies in flight at once (received, and decompressed), over all
  // requests. A request waits for its share rather than failing; a body larger than the
  // whole budget goes alone.
  std::size_t body_budget_bytes = 128u << 20;
  std::string user_agent = "pkgtrust/0.1 (supply-chain risk service)";
  bool verify_tls = true;
  std::string ca_file;  // PEM bundle; empty: the system's default trust store
  RetryPolicy retry;
};

struct HttpClientStats {
  std::int64_t requests = 0;  // Fetch calls
  std::int64_t attempts = 0;  // exchanges sent, including retries
  std::int64_t retries = 0;
  std::int64_t failures = 0;           // Fetch calls that ended in an error Status
  std::int64_t connections = 0;        // connections opened
  std::int64_t refused_redirects = 0;  // to another origin, a downgrade, or a private address
  std::int64_t budget_bytes = 0;       // of body_budget_bytes, held now
  std::int64_t budget_peak_bytes = 0;  // the most ever held at once
  std::int64_t budget_waits = 0;       // times a body waited for its share
};

class BeastHttpClient final : public HttpClient {
 public:
  // Starts its I/O threads; throws std::runtime_error if the TLS context cannot be set up.
  explicit BeastHttpClient(HttpClientConfig config);
  ~BeastHttpClient() override;
  void Fetch(HttpRequest request, std::function<void(core::Result<HttpResponse>)> done) override;
  void FetchStreamed(HttpRequest request, BodySink sink,
                     std::function<void(core::Result<HttpResponse>)> done) override;
  HttpClientStats Stats() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

// An HTTP date ("Wed, 21 Oct 2015 07:28:00 GMT") as seconds since the epoch, or -1.
std::int64_t ParseHttpDate(std::string_view value);
// "Retry-After: 120" or an HTTP date; the delay from `now_unix_seconds`, or -1 if absent/invalid.
std::int64_t ParseRetryAfterSeconds(std::string_view value, std::int64_t now_unix_seconds);
// Decompresses a gzip body, failing past `max_bytes` of output.
core::Result<std::string> Gunzip(std::string_view compressed, std::size_t max_bytes);
// Whether an address is private (RFC 1918, fc00::/7), loopback, link-local (169.254.0.0/16,
// fe80::/10, the cloud metadata address), unspecified or multicast: not the public internet.
bool IsNonPublicAddress(std::string_view address);

}  // namespace pkgtrust::net
