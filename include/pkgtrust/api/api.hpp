// The REST API, the package-feeds webhook, health, readiness and Prometheus metrics
// (docs/api.md is the user's reference). A request for an unknown, stale or failed
// package submits it at priority and waits, sharing the run with every other request for
// the same package, up to its `wait`; then it answers with the report, 404, or 202.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "pkgtrust/api/http_server.hpp"
#include "pkgtrust/api/package_waiters.hpp"
#include "pkgtrust/core/clock.hpp"
#include "pkgtrust/pipeline/pipeline.hpp"
#include "pkgtrust/store/package_store.hpp"

namespace pkgtrust::api {

struct ApiConfig {
  std::chrono::milliseconds default_wait{2000};
  std::chrono::milliseconds max_wait{30'000};
  std::size_t max_query_packages = 1000;
  std::size_t max_waiting_requests = 10'000;  // beyond this, requests that must wait get 429
  std::string admin_token;                    // empty: refresh is refused (403)
  std::string feed_token;                     // empty: the webhook takes unauthenticated events
  std::chrono::milliseconds refresh_after{168 * 3600'000LL};  // a complete report older is stale; 0: never
  std::chrono::milliseconds not_found_recheck{3600'000};      // a not_found answer is rechecked after this
  int retry_after_seconds = 2;
  // Built reports are cached. Within the TTL a hit is served without reading the
  // database; changes made by this process drop the entry at once, and the TTL bounds
  // how long one made by another process (pkgtrust rescore, a second instance) goes unseen.
  std::size_t report_cache_entries = 10'000;  // about 2.5 KB each
  std::chrono::milliseconds report_cache_ttl{2000};
  // Change stream subscribers at once; more are answered 503 with Retry-After. Each holds at
  // most one chunk of events (about 64 KB) while its client is slow.
  std::size_t max_subscribers = 1000;
  int subscriber_retry_after_seconds = 5;
};

class ChangeFeed;

// Safe for concurrent use. Everything passed in must outlive it.
class Api final : public RequestHandler {
 public:
  Api(ApiConfig config, store::PackageStore& store, pipeline::Pipeline& pipeline, bus::Transport& transport,
      const core::Clock& clock);
  ~Api() override;

  void Handle(ServerRequest request, Responder respond) override;

  // Feed every stage's events here: wakes waiting requests and drops cached reports.
  void OnStageEvent(const pipeline::StageEvent& event);
  // Appends more Prometheus text to /metrics (upstream requests, server stats).
  void AddMetricsCollector(std::function<void(std::string&)> collector);
  // GET /v1/changes streams from this feed (503 while none is set). Set before serving.
  void SetChangeFeed(ChangeFeed* feed);
  // Change stream subscribers now (0 without a feed).
  std::int64_t Subscribers() const;
  // /readyz answers 200 only while ready (after start-up, before shutdown).
  void SetReady(bool ready);
  // Shutdown: answers every waiting request now and refuses new waits.
  void StopWaiting();

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace pkgtrust::api
