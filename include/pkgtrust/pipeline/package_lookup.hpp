// The answer for a package, the one way every front end gets it (the REST API, `pkgtrust
// score`, and the gateway and lockfile check to come): a fresh stored report at once;
// otherwise the package is submitted at priority (joining a run in flight, which it raises)
// and the answer comes when the run finishes or the wait runs out, with what is stored then.
// Several requests for one package share its one run. Reports are cached for a short time.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "pkgtrust/core/clock.hpp"
#include "pkgtrust/core/executor.hpp"
#include "pkgtrust/core/metrics.hpp"
#include "pkgtrust/core/status.hpp"
#include "pkgtrust/core/timer.hpp"
#include "pkgtrust/pipeline/package_waiters.hpp"
#include "pkgtrust/pipeline/pipeline.hpp"
#include "pkgtrust/store/store.hpp"

namespace pkgtrust::pipeline {

struct LookupConfig {
  std::chrono::milliseconds refresh_after{168 * 3600'000LL};  // a complete report older is stale; 0: never
  std::chrono::milliseconds not_found_recheck{3600'000};      // a not_found answer is rechecked after this
  // A version asked for that the stored facts do not list (published since the last run,
  // or never) makes a fresh report stale once the facts are this old: the newest release,
  // the one most likely to be compromised, is read instead of reported missing.
  std::chrono::milliseconds unlisted_version_recheck{300'000};
  std::size_t max_waiting = 10'000;                           // lookups waiting at once; more are refused
  // Built reports are cached. Within the TTL a hit is served without reading the database;
  // changes made by this process drop the entry at once, and the TTL bounds how long one
  // made by another process (pkgtrust rescore, a second instance) goes unseen.
  std::size_t report_cache_entries = 10'000;  // about 2.5 KB each
  std::chrono::milliseconds report_cache_ttl{2000};
  // When other processes may finish the runs (shared SQS queues), a waiting lookup also
  // re-reads its packages this often: their stage events reach only the process that ran
  // them. 0: only this process's events wake lookups (the memory transport).
  std::chrono::milliseconds recheck_interval{0};
};

// What one package's lookup found.
struct LookupAnswer {
  enum class Kind {
    kReport,       // `report` holds the report (complete, or the previous one while a run is under way)
    kNotFound,     // its registry does not have it
    kPending,      // no report yet: unknown, in flight, or failed (`record` says which, if known)
    kStoreError,   // the database did not answer (`error`)
    kReportError,  // complete, but its report cannot be built (`error`): a bug or a damaged row
    kOverloaded,   // max_waiting lookups already wait: nothing was submitted
  };
  Kind kind = Kind::kPending;
  core::PackageKey key;
  std::optional<store::PackageRecord>
      record;  // the row as read; absent when unknown or served from the cache
  std::shared_ptr<const std::string> report;   // kReport: JSON text, with "version" when one was asked
  bool version_unlisted = false;  // kReport: a version was asked that the stored facts do not list
  core::Status error;
};

// One package a lookup asks for; `version` (optional) adds that version's section.
struct LookupRequest {
  core::PackageKey key;
  std::string version;
};

// Safe for concurrent use. Everything passed in must outlive it.
class PackageLookup {
 public:
  // Answers that had to wait are built on `answer_on` (they read the store): never on the
  // thread that finished the run, nor on the caller's.
  PackageLookup(LookupConfig config, store::Store& store, Pipeline& pipeline, core::Executor& answer_on,
                const core::Clock& clock);
  ~PackageLookup();

  using Done = std::function<void(LookupAnswer)>;
  using DoneMany = std::function<void(core::Result<std::vector<LookupAnswer>>)>;

  // Calls `done` once: at once (on this thread) when the stored answer is fresh, the
  // database fails or too many lookups wait; otherwise after submitting the package at
  // priority, when its run finishes or `wait` runs out.
  void Lookup(const LookupRequest& request, std::chrono::milliseconds wait, std::string_view request_id,
              Done done);
  // Many packages, one shared wait: the answers, in the order asked, when every run has
  // finished or `wait` has run out. Repeated keys are looked up once. An error when the
  // database fails, ResourceExhausted when max_waiting lookups already wait.
  void LookupMany(std::vector<LookupRequest> requests, std::chrono::milliseconds wait,
                  std::string_view request_id, DoneMany done);

  // The answer from the row as stored now (read by the caller), without waiting.
  LookupAnswer Answer(const core::PackageKey& key, const std::optional<store::PackageRecord>& record,
                      std::string_view version = {});
  // Complete and younger than refresh_after, or not_found and younger than not_found_recheck.
  bool IsFresh(const store::PackageRecord& record) const;

  // Feed every stage's events here: finished runs wake their lookups, changes drop cached reports.
  void OnStageEvent(const StageEvent& event);
  // Drops `key`'s cached report: a run was started for it outside a lookup (a refresh), so
  // the next lookup reads the row and sees it in flight.
  void Forget(const core::PackageKey& key);
  // Shutdown: answers every waiting lookup now and answers later ones without waiting.
  void StopWaiting();

  // For /metrics.
  struct Stats {
    std::int64_t ondemand = 0;  // lookups that submitted work and waited
    std::int64_t timeouts = 0;  // of those, answered with something still pending
    std::int64_t refused = 0;   // refused because max_waiting lookups waited
    std::size_t waiting = 0;    // waiting now
  };
  Stats GetStats() const;
  // Time from the lookup to its answer, of the lookups that waited.
  const core::LatencyHistogram& ondemand_latency() const { return ondemand_latency_; }

 private:
  using Steady = std::chrono::steady_clock;
  // A complete, fresh report built less than report_cache_ttl ago, without reading the
  // database; null otherwise. `state_since` gets the row's time of that state.
  std::shared_ptr<const std::string> CachedReport(const core::PackageKey& key, core::Millis* state_since);
  // The report as JSON text (cached).
  core::Result<std::shared_ptr<const std::string>> ReportText(const store::PackageRecord& record);
  // The report text with "version": VersionSection added (read from the store);
  // `*unlisted` is set when the stored facts do not list the version.
  std::shared_ptr<const std::string> WithVersion(const core::PackageKey& key, std::string_view version,
                                                 const std::shared_ptr<const std::string>& report,
                                                 bool* unlisted);
  // A fresh report that does not list the version asked, from facts older than
  // unlisted_version_recheck: the registry is read again.
  bool UnlistedVersionDue(bool unlisted, core::Millis state_since) const;
  // Waits for `keys` (up to `wait`), then submits `runs` without blocking; `answer` runs
  // once, on answer_on_, when they have finished, the wait ran out, or the submit failed
  // (`failed` says why).
  // Runs another process may finish, re-read every recheck_interval until they are
  // finished (then their waiters are woken), the lookup is answered, or its deadline passes.
  struct Recheck {
    std::vector<std::pair<core::PackageKey, std::int64_t>> runs;  // (package, generation in flight)
    std::shared_ptr<std::atomic<bool>> answered;
    Steady::time_point deadline;
  };
  void ScheduleRecheck(std::shared_ptr<Recheck> recheck);
  void SubmitAndWait(std::vector<std::string> keys, std::vector<store::EnqueueRequest> runs,
                     std::chrono::milliseconds wait, std::string_view request_id,
                     std::function<void(const core::Status& failed)> answer);

  LookupConfig config_;
  store::Store& store_;
  Pipeline& pipeline_;
  core::Executor& answer_on_;
  const core::Clock& clock_;
  PackageWaiters waiters_;

  struct CacheEntry {
    std::int64_t generation;
    core::PackageState state;
    core::Millis state_since;
    Steady::time_point built;
    std::shared_ptr<const std::string> text;
  };
  std::mutex cache_mu_;
  std::unordered_map<core::PackageKey, CacheEntry, core::PackageKeyHash> cache_;

  std::atomic<std::int64_t> ondemand_{0}, timeouts_{0}, refused_{0};
  core::LatencyHistogram ondemand_latency_;
  std::unique_ptr<core::Timer> recheck_timer_;  // with recheck_interval; last: destroyed first
};

}  // namespace pkgtrust::pipeline
