#include "pkgtrust/pipeline/reconciler.hpp"

#include "pkgtrust/core/log.hpp"
#include "pkgtrust/pipeline/routing.hpp"

namespace pkgtrust::pipeline {

Reconciler::Reconciler(ReconcilerConfig config, store::Store& store, bus::Transport& transport,
                       const core::Clock& clock)
    : config_(config), store_(store), transport_(transport), clock_(clock) {}

Reconciler::~Reconciler() { Stop(); }

void Reconciler::Start() {
  std::lock_guard lock(mu_);
  if (timer_) return;
  stopping_ = false;
  timer_ = std::make_unique<core::Timer>();
  timer_->Schedule(std::chrono::milliseconds(0), [this] { Pass(/*first=*/true); });
}

void Reconciler::Stop() {
  std::unique_ptr<core::Timer> timer;
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    timer = std::move(timer_);
  }
  timer.reset();  // waits for a pass under way; the next one is dropped
}

void Reconciler::Pass(bool first) {
  if (first && config_.republish_on_start) {
    std::int64_t republished = RepublishInFlight();
    if (republished > 0)
      core::Log(core::LogLevel::kInfo, "reconciler", "re-published {} packages in flight at start-up",
                republished);
    std::lock_guard lock(mu_);
    totals_.republished += republished;
  } else if (!first) {
    ReconcileCounts counts = RunOnce();
    if (counts.republished + counts.retried + counts.refreshed > 0)
      core::Log(core::LogLevel::kInfo, "reconciler",
                "re-published {} stuck, retried {} failed, refreshing {} stale", counts.republished,
                counts.retried, counts.refreshed);
  }
  std::lock_guard lock(mu_);
  if (!stopping_ && timer_) timer_->Schedule(config_.interval, [this] { Pass(/*first=*/false); });
}

std::int64_t Reconciler::Restart(const std::vector<store::PackageRecord>& records, const char* reason) {
  if (records.empty()) return 0;
  std::vector<store::EnqueueRequest> requests;
  for (const auto& record : records) {
    store::EnqueueRequest request;
    request.key = record.key;
    request.restart_finished = true;
    request.restart_generation = record.generation;  // unless someone restarted it since the listing
    requests.push_back(std::move(request));
  }
  auto results = store_.EnqueueManySync(std::move(requests));
  if (!results.ok()) {
    core::Log(core::LogLevel::kWarn, "reconciler", "{}: {}", reason, results.status().message());
    return 0;
  }
  std::int64_t started = 0;
  for (const auto& result : *results) {
    if (result.outcome != store::EnqueueOutcome::kStarted) continue;
    if (PublishWork(transport_, result.record, reason).ok()) started++;
  }
  return started;
}

std::int64_t Reconciler::RepublishInFlight() {
  std::int64_t republished = 0;
  for (core::PackageState state :
       {core::PackageState::kPendingRegistry, core::PackageState::kPendingRepository,
        core::PackageState::kPendingScore}) {
    std::int64_t after = 0;
    while (true) {
      {
        std::lock_guard lock(mu_);
        if (stopping_) return republished;
      }
      auto page = store_.ListByState(state, after, config_.batch_limit);
      if (!page.ok()) {
        core::Log(core::LogLevel::kWarn, "reconciler", "listing in-flight packages: {}",
                  page.status().message());
        break;
      }
      if (page->empty()) break;
      for (const auto& record : *page) {
        after = record.id;
        if (PublishWork(transport_, record, "reconciler-start").ok()) republished++;
      }
    }
  }
  return republished;
}

ReconcileCounts Reconciler::RunOnce() {
  ReconcileCounts counts;
  core::Millis now = clock_.NowMillis();

  // Claimed, not just listed: with several processes on one store, each stuck package goes
  // to one reconciler. One whose publish fails is claimed again after stuck_after.
  if (auto stuck = store_.ClaimStuckSync(now - config_.stuck_after.count(), config_.batch_limit);
      stuck.ok()) {
    for (const auto& record : *stuck)
      if (PublishWork(transport_, record, "reconciler").ok()) counts.republished++;
  } else {
    core::Log(core::LogLevel::kWarn, "reconciler", "listing stuck packages: {}", stuck.status().message());
  }

  if (auto failed = store_.ListRetryable(now, config_.batch_limit); failed.ok())
    counts.retried = Restart(*failed, "reconciler-retry");
  else
    core::Log(core::LogLevel::kWarn, "reconciler", "listing failed packages: {}", failed.status().message());

  if (config_.refresh_after.count() > 0) {
    if (auto stale = store_.ListStale(now - config_.refresh_after.count(), config_.batch_limit); stale.ok())
      counts.refreshed = Restart(*stale, "reconciler-refresh");
    else
      core::Log(core::LogLevel::kWarn, "reconciler", "listing stale packages: {}", stale.status().message());
  }

  if (auto compacted =
          store_.CompactChangesSync(config_.change_log_max_changes, now - config_.change_log_max_age.count());
      compacted.ok())
    counts.changes_compacted = *compacted;
  else
    core::Log(core::LogLevel::kWarn, "reconciler", "compacting the change log: {}", compacted.status().message());

  std::lock_guard lock(mu_);
  totals_.changes_compacted += counts.changes_compacted;
  totals_.republished += counts.republished;
  totals_.retried += counts.retried;
  totals_.refreshed += counts.refreshed;
  return counts;
}

ReconcileCounts Reconciler::Totals() const {
  std::lock_guard lock(mu_);
  return totals_;
}

}  // namespace pkgtrust::pipeline
