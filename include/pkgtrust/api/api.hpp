// The REST API, the package-feeds webhook, health, readiness and Prometheus metrics
// (docs/api.md is the user's reference). Package answers come from pipeline::PackageLookup:
// a request for an unknown, stale or failed package submits it at priority and waits,
// sharing the run with every other request for the same package, up to its `wait`; then it
// answers with the report, 404, or 202.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "pkgtrust/api/http_server.hpp"
#include "pkgtrust/core/clock.hpp"
#include "pkgtrust/pipeline/package_lookup.hpp"
#include "pkgtrust/pipeline/pipeline.hpp"
#include "pkgtrust/store/store.hpp"

namespace pkgtrust::api {

struct ApiConfig {
  std::chrono::milliseconds default_wait{2000};
  std::chrono::milliseconds max_wait{30'000};
  std::size_t max_query_packages = 1000;
  std::string admin_token;                    // empty: refresh is refused (403)
  std::string feed_token;                     // empty: the webhook takes unauthenticated events
  int retry_after_seconds = 2;
  // Change stream subscribers at once; more are answered 503 with Retry-After. Each holds at
  // most one chunk of events (about 64 KB) while its client is slow.
  std::size_t max_subscribers = 1000;
  int subscriber_retry_after_seconds = 5;
};

class ChangeStream;

// Safe for concurrent use. Everything passed in must outlive it.
class Api final : public RequestHandler {
 public:
  Api(ApiConfig config, store::Store& store, pipeline::Pipeline& pipeline, pipeline::PackageLookup& lookup);
  ~Api() override;

  void Handle(ServerRequest request, Responder respond) override;

  // Appends more Prometheus text to /metrics (stages, queues, packages, upstream requests,
  // server stats: whatever the composition root has).
  void AddMetricsCollector(std::function<void(std::string&)> collector);
  // /readyz also asks `check` (the transport, say): an error answers 503 with `code` and
  // the error's message, Retry-After 10.
  void AddReadinessCheck(std::string code, std::function<core::Status()> check);
  // Requests whose path starts with `prefix` ("/registry/npm/") go to `handler` instead
  // (the package gateway), whatever their method. Call before serving.
  void Mount(std::string prefix, RequestHandler& handler);
  // Requests that no route or mount takes and whose path is not under /v1/ go to `handler`
  // (the web page) instead of a 404. Call before serving.
  void SetFallback(RequestHandler& handler);
  // GET /v1/changes streams from this feed (503 while none is set). Set before serving.
  void SetChangeStream(ChangeStream* feed);
  // Change stream subscribers now (0 without a feed).
  std::int64_t Subscribers() const;
  // /readyz answers 200 only while ready (after start-up, before shutdown).
  void SetReady(bool ready);

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace pkgtrust::api
