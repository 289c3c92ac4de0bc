// Upstream request metrics for /metrics: a forwarding HttpClient (the LevelDB
// wrapper shape) that counts each upstream's requests by outcome and records their
// latency, retries included.
#pragma once

#include <array>
#include <atomic>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "pkgtrust/core/metrics.hpp"
#include "pkgtrust/net/http_client.hpp"

namespace pkgtrust::net {

// Safe for concurrent use; `inner` must outlive it.
class MeasuredHttpClient final : public HttpClient {
 public:
  // `upstreams` maps a name ("npm", "github") to its base URL. A request is attributed to
  // the longest base URL it starts with, others to "other".
  MeasuredHttpClient(HttpClient& inner, const std::vector<std::pair<std::string, std::string>>& upstreams);
  void Fetch(HttpRequest request, std::function<void(core::Result<HttpResponse>)> done) override;
  void FetchStreamed(HttpRequest request, BodySink sink,
                     std::function<void(core::Result<HttpResponse>)> done) override;

  // pkgtrust_upstream_requests_total{upstream,outcome} and
  // pkgtrust_upstream_request_duration_seconds{upstream}.
  void AppendPrometheus(std::string& out) const;

 private:
  // Outcomes: 2xx, 3xx, 4xx, 5xx, error (no response: refused, timed out, too large).
  static constexpr std::array<const char*, 5> kOutcomes = {"2xx", "3xx", "4xx", "5xx", "error"};
  struct Upstream {
    std::string name, base_url;
    std::array<std::atomic<std::int64_t>, kOutcomes.size()> requests{};
    core::LatencyHistogram latency;
  };
  Upstream& Find(const std::string& url);
  // `done`, counting the outcome and the time from now for the upstream of `url`.
  std::function<void(core::Result<HttpResponse>)> Measured(
      const std::string& url, std::function<void(core::Result<HttpResponse>)> done);

  HttpClient& inner_;
  std::vector<std::unique_ptr<Upstream>> upstreams_;  // the last is "other"
};

}  // namespace pkgtrust::net
