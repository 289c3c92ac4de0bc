// The package gateway: npm and PyPI registry endpoints served next to the REST API (mounted
// on its HTTP server below configurable prefixes), so that unmodified `npm install
// --registry .../registry/npm/` and `pip install --index-url .../registry/pypi/simple/`
// pass through the service's verdicts. Metadata is fetched from the configured upstream,
// cached with a TTL, revalidated with If-None-Match and served stale within
// `stale_if_error` when the upstream fails; it is filtered by the policy (policy.hpp) and
// its file URLs rewritten to come back here. Files are streamed from the upstream through
// a temporary file of the content-addressed cache (file_cache.hpp), their published hash
// checked before the last byte reaches the client; a mismatch aborts the transfer and is
// never cached. docs/gateway.md is the user's reference.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "pkgtrust/api/http_server.hpp"
#include "pkgtrust/core/clock.hpp"
#include "pkgtrust/core/executor.hpp"
#include "pkgtrust/gateway/file_cache.hpp"
#include "pkgtrust/gateway/policy.hpp"
#include "pkgtrust/net/http_client.hpp"
#include "pkgtrust/pipeline/pipeline.hpp"
#include "pkgtrust/scoring/typosquat.hpp"
#include "pkgtrust/store/store.hpp"

namespace pkgtrust::gateway {

struct GatewayConfig {
  std::string npm_prefix = "/registry/npm/";    // empty: npm is not served
  std::string pypi_prefix = "/registry/pypi/";  // empty: PyPI is not served
  std::string npm_upstream = "https://registry.npmjs.org";
  std::string pypi_upstream = "https://pypi.org";  // serves /simple/<project>/
  std::string pypi_files_upstream = "https://files.pythonhosted.org";
  // How clients reach this server ("https://pkgtrust.example.com"), for the URLs written into
  // metadata; empty: "http://" and the request's Host header.
  std::string public_url;
  Policy policy;
  std::chrono::seconds metadata_ttl{300};
  std::chrono::seconds stale_if_error{24 * 3600};
  std::size_t metadata_cache_bytes = 256u << 20;
  FileCacheConfig files;
  std::chrono::milliseconds upstream_timeout{30'000};  // per attempt; for files, per piece received
  // Clients must present it (npm: `_authToken` in .npmrc, sent as a bearer token; pip: the
  // password of http://user:TOKEN@host/...); empty: no authentication.
  std::string client_token;
  // Addresses of reverse proxies in front of the gateway: a request from one of them is
  // taken to come from the address it appended to X-Forwarded-For (the last one that is
  // not itself a trusted proxy). From any other address the header is ignored.
  std::vector<std::string> trusted_proxies;
};

// One answered gateway request, for the request log (adoption/request_log.hpp). The client's
// address and User-Agent are handed to the recorder only, which reduces them before anything
// is written.
struct AnsweredRequest {
  core::Millis at = 0;
  std::string ecosystem;  // "npm", "pypi"
  std::string method;
  std::string path;  // below the ecosystem's prefix, without the query
  int status = 0;
  std::int64_t bytes = 0;  // the body's length as answered (a stream's announced length)
  std::int64_t duration_us = 0;
  std::string client_address;
  std::string user_agent;
};

// Safe for concurrent use. Everything passed in must outlive it.
class Gateway final : public api::RequestHandler {
 public:
  // Opens the file cache. `pipeline` (null: nothing is submitted) receives packages the
  // service has no report for, at priority; `popular` (null: no typosquat check) is the
  // scoring model's popular lists. `executor` filters metadata (CPU work off the I/O threads).
  static core::Result<std::unique_ptr<Gateway>> Create(GatewayConfig config, store::Store& store,
                                                       pipeline::Pipeline* pipeline,
                                                       const scoring::PopularPackages* popular,
                                                       net::HttpClient& http, core::Executor& executor,
                                                       const core::Clock& clock);
  ~Gateway() override;

  void Handle(api::ServerRequest request, api::Responder respond) override;
  // Every request below the gateway's prefixes is reported to `recorder` once answered (on
  // the thread that answers: it must be quick). Set before serving.
  void SetRecorder(std::function<void(AnsweredRequest)> recorder);
  // pkgtrust_gateway_* for /metrics.
  void AppendPrometheus(std::string& out) const;
  FileCacheStats FileStats() const;

  class Impl;

 private:
  explicit Gateway(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace pkgtrust::gateway
