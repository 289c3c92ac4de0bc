// The reconciler: on a timer, re-publishes packages stuck in a pending state, retries
// failed packages whose backoff has passed, and queues stale complete packages for a
// refresh at regular priority. With it a lost message or a killed process delays work
// but never loses it. It also compacts the change log.
#pragma once

#include <chrono>
#include <memory>
#include <mutex>

#include "pkgtrust/bus/transport.hpp"
#include "pkgtrust/core/clock.hpp"
#include "pkgtrust/core/timer.hpp"
#include "pkgtrust/store/store.hpp"

namespace pkgtrust::pipeline {

struct ReconcilerConfig {
  std::chrono::milliseconds interval{3600'000};     // how often it runs
  std::chrono::milliseconds stuck_after{3600'000};  // pending this long without a move: re-publish
  std::chrono::milliseconds refresh_after{7 * 24 * 3600'000LL};  // complete this long: refresh; 0 = never
  std::size_t batch_limit = 10'000;                              // packages of each kind per run
  // At start, publish the work of every in-flight package at once. For transports whose
  // queues die with the process (memory): what was queued before a crash or restart is
  // gone, and waiting `stuck_after` would leave users on 202 for an hour.
  bool republish_on_start = false;
  // The change log keeps at most this many changes, none older than the age (each pass
  // drops the rest: what a subscriber can resume from).
  std::int64_t change_log_max_changes = 100'000;
  std::chrono::milliseconds change_log_max_age{24 * 3600'000LL};
};

struct ReconcileCounts {
  std::int64_t republished = 0, retried = 0, refreshed = 0, changes_compacted = 0;
};

// Safe for concurrent use.
class Reconciler {
 public:
  Reconciler(ReconcilerConfig config, store::Store& store, bus::Transport& transport,
             const core::Clock& clock);
  ~Reconciler();

  void Start();
  void Stop();
  // One pass, synchronously (the timer calls this; tests too).
  ReconcileCounts RunOnce();
  // Publishes the work of every package in a pending state; returns how many.
  std::int64_t RepublishInFlight();
  ReconcileCounts Totals() const;

 private:
  // One timed pass (the first also re-publishes when configured), then the next is scheduled.
  void Pass(bool first);
  std::int64_t Restart(const std::vector<store::PackageRecord>& records, const char* reason);

  ReconcilerConfig config_;
  store::Store& store_;
  bus::Transport& transport_;
  const core::Clock& clock_;
  mutable std::mutex mu_;
  bool stopping_ = false;
  ReconcileCounts totals_;
  std::unique_ptr<core::Timer> timer_;  // while started: runs the passes
};

}  // namespace pkgtrust::pipeline
