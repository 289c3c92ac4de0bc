#include "pkgtrust/net/measured_http_client.hpp"

#include <chrono>

namespace pkgtrust::net {

MeasuredHttpClient::MeasuredHttpClient(HttpClient& inner,
                                       const std::vector<std::pair<std::string, std::string>>& upstreams)
    : inner_(inner) {
  for (const auto& [name, base_url] : upstreams) {
    auto upstream = std::make_unique<Upstream>();
    upstream->name = name;
    upstream->base_url = base_url;
    upstreams_.push_back(std::move(upstream));
  }
  auto other = std::make_unique<Upstream>();
  other->name = "other";
  upstreams_.push_back(std::move(other));
}

MeasuredHttpClient::Upstream& MeasuredHttpClient::Find(const std::string& url) {
  Upstream* best = upstreams_.back().get();
  std::size_t best_length = 0;
  for (std::size_t i = 0; i + 1 < upstreams_.size(); ++i) {
    const std::string& base = upstreams_[i]->base_url;
    if (base.size() > best_length && url.compare(0, base.size(), base) == 0) {
      best = upstreams_[i].get();
      best_length = base.size();
    }
  }
  return *best;
}

std::function<void(core::Result<HttpResponse>)> MeasuredHttpClient::Measured(
    const std::string& url, std::function<void(core::Result<HttpResponse>)> done) {
  Upstream& upstream = Find(url);
  auto start = std::chrono::steady_clock::now();
  return [&upstream, start, done = std::move(done)](core::Result<HttpResponse> r) {
    std::size_t outcome = kOutcomes.size() - 1;
    if (r.ok() && r->status >= 200 && r->status < 600)
      outcome = static_cast<std::size_t>(r->status / 100 - 2);
    if (r.ok() && r->status < 200) outcome = 0;  // 1xx never reaches a caller; count it as answered
    upstream.requests[outcome].fetch_add(1, std::memory_order_relaxed);
    upstream.latency.Observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    done(std::move(r));
  };
}

void MeasuredHttpClient::Fetch(HttpRequest request, std::function<void(core::Result<HttpResponse>)> done) {
  auto measured = Measured(request.url, std::move(done));
  inner_.Fetch(std::move(request), std::move(measured));
}

void MeasuredHttpClient::FetchStreamed(HttpRequest request, BodySink sink,
                                       std::function<void(core::Result<HttpResponse>)> done) {
  auto measured = Measured(request.url, std::move(done));
  inner_.FetchStreamed(std::move(request), std::move(sink), std::move(measured));
}

void MeasuredHttpClient::AppendPrometheus(std::string& out) const {
  core::AppendPrometheusHeader(out, "pkgtrust_upstream_requests_total", "counter",
                               "Upstream requests (retries included in one request) by outcome.");
  for (const auto& upstream : upstreams_)
    for (std::size_t i = 0; i < kOutcomes.size(); ++i)
      core::AppendPrometheusSample(
          out, "pkgtrust_upstream_requests_total",
          "upstream=\"" + core::PrometheusLabelValue(upstream->name) + "\",outcome=\"" + kOutcomes[i] + "\"",
          static_cast<double>(upstream->requests[i].load(std::memory_order_relaxed)));
  core::AppendPrometheusHeader(out, "pkgtrust_upstream_request_duration_seconds", "histogram",
                               "Upstream request latency, retries and backoff included.");
  for (const auto& upstream : upstreams_)
    upstream->latency.AppendPrometheus(out, "pkgtrust_upstream_request_duration_seconds",
                                       "upstream=\"" + core::PrometheusLabelValue(upstream->name) + "\"");
}

}  // namespace pkgtrust::net
