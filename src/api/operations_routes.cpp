// The operations routes: readiness and Prometheus metrics (/healthz is answered by the router).
#include "api_impl.hpp"
#include "pkgtrust/core/metrics.hpp"

namespace pkgtrust::api {

// ------------------------------------------------------------------ operations

void Api::Impl::Ready(Responder respond) {
  if (!ready_)
    return respond(WithRetryAfter(ErrorResponse(503, "not_ready", "starting up or shutting down"), 1));
  auto probe = store_.Get(PackageKey{core::Ecosystem::kNpm, "pkgtrust-readiness-probe"});
  if (!probe.ok()) return respond(StoreError(probe.status()));
  std::vector<std::pair<std::string, std::function<core::Status()>>> checks;
  {
    std::lock_guard lock(collectors_mu_);
    checks = readiness_checks_;
  }
  for (const auto& [code, check] : checks)
    if (core::Status status = check(); !status.ok())
      return respond(WithRetryAfter(ErrorResponse(503, code, status.message()), 10));
  respond(JsonResponse(200, {{"status", "ready"}}));
}

void Api::Impl::Metrics(Responder respond) {
  std::string out;
  out.reserve(16 * 1024);
  auto label = [](std::string_view name, std::string_view value) {
    return fmt::format("{}=\"{}\"", name, core::PrometheusLabelValue(value));
  };
  core::AppendPrometheusHeader(out, "pkgtrust_http_responses_total", "counter",
                               "HTTP responses by route and status.");
  {
    std::lock_guard lock(counts_mu_);
    for (const auto& [key, n] : responses_)
      core::AppendPrometheusSample(out, "pkgtrust_http_responses_total",
                                   fmt::format("route=\"{}\",code=\"{}\"",
                                               kRouteNames[static_cast<std::size_t>(key.first)], key.second),
                                   static_cast<double>(n));
  }
  core::AppendPrometheusHeader(out, "pkgtrust_http_request_duration_seconds", "histogram",
                               "Time from a request to its answer, by route.");
  for (std::size_t i = 0; i < kRouteNames.size(); ++i)
    if (route_latency_[i].Count() > 0)
      route_latency_[i].AppendPrometheus(out, "pkgtrust_http_request_duration_seconds",
                                         label("route", kRouteNames[i]));
  core::AppendPrometheusHeader(
      out, "pkgtrust_ondemand_duration_seconds", "histogram",
      "Requests that started or joined a run: time to the answer (report, 404 or 202).");
  lookup_.ondemand_latency().AppendPrometheus(out, "pkgtrust_ondemand_duration_seconds", "");
  pipeline::PackageLookup::Stats lookups = lookup_.GetStats();
  core::AppendPrometheusHeader(out, "pkgtrust_ondemand_requests_total", "counter",
                               "Requests (single or batch) that started or joined a package run.");
  core::AppendPrometheusSample(out, "pkgtrust_ondemand_requests_total", "",
                               static_cast<double>(lookups.ondemand));
  core::AppendPrometheusHeader(out, "pkgtrust_ondemand_timeouts_total", "counter",
                               "On-demand requests answered 202 because the wait ran out.");
  core::AppendPrometheusSample(out, "pkgtrust_ondemand_timeouts_total", "",
                               static_cast<double>(lookups.timeouts));
  core::AppendPrometheusHeader(out, "pkgtrust_waiting_requests", "gauge",
                               "Requests waiting for a package run.");
  core::AppendPrometheusSample(out, "pkgtrust_waiting_requests", "", static_cast<double>(lookups.waiting));
  core::AppendPrometheusHeader(out, "pkgtrust_shed_requests_total", "counter",
                               "Requests answered 429 because too many were waiting.");
  core::AppendPrometheusSample(out, "pkgtrust_shed_requests_total", "", static_cast<double>(lookups.refused));
  core::AppendPrometheusHeader(out, "pkgtrust_webhook_events_total", "counter",
                               "package-feeds events by outcome (rejected counts whole bad bodies too).");
  core::AppendPrometheusSample(out, "pkgtrust_webhook_events_total", "outcome=\"accepted\"",
                               static_cast<double>(feed_accepted_));
  core::AppendPrometheusSample(out, "pkgtrust_webhook_events_total", "outcome=\"ignored\"",
                               static_cast<double>(feed_ignored_));
  core::AppendPrometheusSample(out, "pkgtrust_webhook_events_total", "outcome=\"rejected\"",
                               static_cast<double>(feed_rejected_));
  core::AppendPrometheusHeader(out, "pkgtrust_webhook_unauthorized_total", "counter",
                               "package-feeds requests refused for a missing or wrong token.");
  core::AppendPrometheusSample(out, "pkgtrust_webhook_unauthorized_total", "",
                               static_cast<double>(feed_unauthorized_));

  {
    std::lock_guard lock(collectors_mu_);
    for (const auto& collector : collectors_) collector(out);
  }
  ServerResponse response;
  response.content_type = "text/plain; version=0.0.4; charset=utf-8";
  response.body = std::move(out);
  respond(std::move(response));
}

}  // namespace pkgtrust::api
