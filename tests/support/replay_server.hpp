// The replay upstream: an HTTP server on 127.0.0.1 that answers with recorded responses
// (method + target -> status, headers, body), optionally over TLS, with injectable
// latency, errors, hangs, truncated bodies and GitHub-style rate limiting. Every test and
// benchmark reaches "the registries" through it.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace pkgtrust::testing {

struct ReplayResponse {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  bool gzip = false;  // body is gzip-compressed: sent with Content-Encoding: gzip
  std::chrono::milliseconds delay{0};
  bool hang = false;       // never answer (the client must time out)
  bool truncate = false;   // announce the full length, send half the body, close
  bool no_faults = false;  // injected latency, errors, timeouts and rate limits skip it
};

struct ReplayFaults {
  std::chrono::milliseconds latency_median{0};  // log-normal latency; 0 = none
  std::chrono::milliseconds latency_p99{0};
  double error_rate = 0;    // share of requests answered 503
  double timeout_rate = 0;  // share of requests never answered
  int rate_limit = 0;       // GitHub-style budget per window; 0 = unlimited
  std::chrono::seconds rate_window{3600};
  std::string rate_limit_prefix;  // only targets starting with it count (e.g. "/repos/"); empty: all
  std::uint64_t seed = 1;
};

// `text` gzip-compressed (level 9: bombs shrink the most), for bodies sent with gzip = true.
std::string Gzip(const std::string& text);

// Safe for concurrent use. Runs its own I/O threads until destroyed.
class ReplayServer {
 public:
  struct TlsFiles {
    std::string certificate, private_key;
  };
  explicit ReplayServer(int threads = 1, const TlsFiles* tls = nullptr);
  ~ReplayServer();

  std::string BaseUrl() const;  // "http://127.0.0.1:PORT" (https with TLS)
  int port() const;

  // Answers `method target` (target = path and query) with the responses in order; the
  // last one repeats.
  void Add(const std::string& method, const std::string& target, std::vector<ReplayResponse> responses);
  void Add(const std::string& method, const std::string& target, ReplayResponse response) {
    Add(method, target, std::vector<ReplayResponse>{std::move(response)});
  }
  // Loads `routes.json` from `folder`: [{"method": "GET", "path": "/x", "responses": [{"status": 200,
  // "headers": {"k": "v"}, "body": "..." | "body_file": "file" (".gz": sent gzip-encoded)}]}].
  void LoadFolder(const std::string& folder);
  // Loads a converted libraries.io cassette (a folder with index.json, e.g.
  // tests/fixtures/registry/go/gorp/): each interaction's URI path answers with its status, headers and body
  // file, in order. Transfer-Encoding/Content-Encoding/Content-Length are dropped (bodies are stored
  // decoded).
  void LoadCassette(const std::string& folder);
  void SetFaults(const ReplayFaults& faults);
  // Answers requests no route matches (benchmarks: bodies made per package on the fly).
  // Set it before requests arrive; it is called from the server's threads, so it must be
  // safe for concurrent use.
  using Generator =
      std::function<std::optional<ReplayResponse>(const std::string& method, const std::string& target)>;
  void SetGenerator(Generator generator);
  // The same, for answers that depend on the request body (GraphQL queries).
  using BodyGenerator = std::function<std::optional<ReplayResponse>(
      const std::string& method, const std::string& target, const std::string& body)>;
  void SetBodyGenerator(BodyGenerator generator);

  int Hits(const std::string& method, const std::string& target) const;
  int TotalRequests() const;
  // The headers of the last request for `method target` (names in lower case); empty if none.
  std::vector<std::pair<std::string, std::string>> LastHeaders(const std::string& method,
                                                               const std::string& target) const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace pkgtrust::testing
