// Adoption: the gateway's requests become a request log without personal data, the log
// becomes package events and daily aggregates, and a package that becomes flagged after
// origins downloaded it raises an exposure alert (docs/api.md "Adoption", docs/privacy.md).
//
//   gateway ──AnsweredRequest──▶ RequestLog (origin keyed, User-Agent reduced, batched)
//                                   │ request_log rows
//                                   ▼
//                               Processor ── steps: rows → EventStep → ApplyAdoptionSync
//                                   │          first-seen packages → pipeline, at priority
//                                   │ follows the change log: flagged packages → alerts
//                                   └ expires log rows after retention_days
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "pkgtrust/adoption/origin.hpp"
#include "pkgtrust/core/clock.hpp"
#include "pkgtrust/core/status.hpp"
#include "pkgtrust/gateway/gateway.hpp"
#include "pkgtrust/pipeline/pipeline.hpp"
#include "pkgtrust/store/store.hpp"

namespace pkgtrust::adoption {

struct AdoptionConfig {
  bool enabled = true;      // the gateway's requests are logged and processed
  // This process turns the log into counts and alerts. false: it only logs (a gateway host
  // whose log another process sharing the database processes).
  bool process = true;
  int retention_days = 30;  // request log rows (and the origins of each day) are kept this long
  int exposure_days = 30;   // an alert counts the downloads of this many days back (<= retention)
  std::chrono::milliseconds flush_interval{500};  // the request log is written at least this often
  std::size_t flush_rows = 5'000;                 // ... or when this many rows wait
  std::size_t max_waiting_rows = 200'000;         // beyond: rows are dropped (and counted)
  std::chrono::milliseconds process_interval{1'000};
  std::size_t step_rows = 50'000;  // rows per processing step (one transaction)
  double min_score = 0;  // the gateway policy's min_score: a score below it raises an alert (0: never)
};

// Buffers answered gateway requests and writes them to the store's request log in batches,
// from its own thread. The address is replaced by its origin key on the thread that records
// it: no address is ever queued, logged or written. Safe for concurrent use.
class RequestLog {
 public:
  RequestLog(store::Store& store, AdoptionConfig config, const core::Clock& clock);
  ~RequestLog();
  void Start();
  // Writes what waits, then stops.
  void Stop();

  void Record(gateway::AnsweredRequest request);
  // Writes what waits now (tests, the import).
  core::Status Flush();

  struct Stats {
    std::int64_t recorded = 0, written = 0, dropped = 0, write_errors = 0, batches = 0;
  };
  Stats GetStats() const;

 private:
  void Loop();
  store::Store& store_;
  AdoptionConfig config_;
  const core::Clock& clock_;
  OriginKeys keys_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<store::RequestLogRow> waiting_;
  bool stopping_ = false;
  std::thread thread_;
  std::mutex flush_mu_;  // one write at a time, in order
  std::atomic<std::int64_t> recorded_{0}, written_{0}, dropped_{0}, write_errors_{0}, batches_{0};
};

// What one processing step did.
struct StepResult {
  std::int64_t rows = 0;  // log rows read (0: the log is processed up to its end)
  bool applied = false;   // false: another process applied these rows first
  std::int64_t downloads = 0, repeats = 0, metadata = 0, ignored = 0;
  std::vector<core::PackageKey> first_seen;
};

// Turns the request log into aggregates and alerts, in steps, from its own thread (or by
// hand: StepOnce, AlertsOnce). Several processes may run one on a shared store: each step is
// applied once (the cursor), each alert raised once (one open alert per package and reason).
class Processor {
 public:
  // `pipeline` (null: none) receives first-seen packages at priority.
  Processor(store::Store& store, pipeline::Pipeline* pipeline, AdoptionConfig config,
            const core::Clock& clock);
  ~Processor();
  void Start();
  void Stop();

  core::Result<StepResult> StepOnce();
  // Processes until the log's end (or `max_steps`); the steps' sum.
  core::Result<StepResult> ProcessAll(int max_steps = 1'000'000);
  // Looks at the change log after the alerts' cursor: raises and resolves alerts. Returns
  // how many alerts were raised.
  core::Result<std::int64_t> AlertsOnce();
  // Deletes expired log rows and origins. Returns the log rows deleted.
  core::Result<std::int64_t> ExpireOnce();

  // pkgtrust_adoption_* for /metrics.
  void AppendPrometheus(std::string& out) const;

 private:
  void Loop();
  core::Status RaiseOrResolve(const store::PackageChange& change);
  struct Read;
  struct Prepared;
  core::Result<Read> ReadStep(std::int64_t from);
  static Prepared Count(const Read& read);
  core::Result<StepResult> Apply(Prepared prepared);

  store::Store& store_;
  pipeline::Pipeline* pipeline_;
  AdoptionConfig config_;
  const core::Clock& clock_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread thread_;
  std::mutex step_mu_;  // one step at a time in this process
  std::atomic<std::int64_t> rows_{0}, downloads_{0}, repeats_{0}, metadata_{0}, ignored_{0}, steps_{0},
      lost_steps_{0}, first_seen_{0}, alerts_{0}, expired_{0}, errors_{0};
};

}  // namespace pkgtrust::adoption
