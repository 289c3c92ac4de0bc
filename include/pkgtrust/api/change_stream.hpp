// The change stream: GET /v1/changes as Server-Sent Events over the store's change log.
//
// - Without an offset a subscriber gets the compacted state (every finished package,
//   filtered) as `snapshot` events, then `snapshot_end` with the log's last offset S as its
//   id, then every change after S (`change` events, id = offset), live. A package that
//   changed after S while the state was being read is sent again only by a change newer
//   than the one its snapshot event already showed: no gap, no duplicate offset.
// - With `Last-Event-ID` (or ?offset=) still in the log it resumes after it; an older one
//   gets a `reset` event naming the reason, then the state again.
// - A subscriber that falls so far behind that its offset leaves the log is cut off with a
//   `reset` event saying so. Each subscriber reads at its own pace: the feed never waits
//   for one (recent changes are kept in memory, older ones are read from the log).
// - An exposure alert (adoption: a flagged package that origins downloaded) is an `alert`
//   event in the same sequence of offsets; its data has the package and the alert. The
//   ecosystem and prefix filters apply to it; the score and flag filters let it through.
// - Heartbeat comments keep idle connections alive.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "pkgtrust/api/http_server.hpp"
#include "pkgtrust/core/ecosystem.hpp"
#include "pkgtrust/core/executor.hpp"
#include "pkgtrust/core/status.hpp"
#include "pkgtrust/core/timer.hpp"
#include "pkgtrust/store/store.hpp"

namespace pkgtrust::api {

// Which changes a subscriber wants: AND of what is set.
struct ChangeFilter {
  std::optional<core::Ecosystem> ecosystem;
  std::string name_prefix;
  std::optional<double> score_below;  // score < this
  std::optional<double> score_above;  // score > this
  bool any_flag = false;              // at least one flag set (malicious, deprecated, ...)

  bool Matches(const store::PackageChange& change) const;
  // From the decoded query parameters: ecosystem, prefix, score_below, score_above,
  // flagged=true (and offset, snapshot and tail, which the handler reads); anything else is
  // an error.
  static core::Result<ChangeFilter> FromParams(const std::map<std::string, std::string>& params);
};

struct ChangeStreamConfig {
  std::chrono::milliseconds poll_interval{200};  // the log is read at least this often (other processes)
  std::size_t recent_changes = 65'536;           // changes kept in memory for subscribers
  std::chrono::milliseconds heartbeat{15'000};
  std::size_t page = 2'000;             // log changes read per step
  std::size_t snapshot_page = 400;      // state rows read per step (about 90 KB of events)
  std::size_t chunk_bytes = 64 * 1024;  // at most this (and one event) handed to a subscriber at once
  int threads = 2;                      // the pool that reads the store and builds events for subscribers
};

// Reads new changes from the log (at once after Notify, else every poll interval, and at
// each subscriber's heartbeat), keeps the recent ones in memory and wakes subscribers.
// Its steps run one at a time on its core::Timer. Safe for concurrent use.
class ChangeStream {
 public:
  struct Entry {
    store::PackageChange change;
    std::string data;  // the event's JSON
  };

  ChangeStream(store::Store& store, ChangeStreamConfig config);
  ~ChangeStream();
  void Start();
  void Stop();
  // A change was committed in this process: read the log now.
  void Notify();

  // Changes after `offset` from memory, up to `max`; false when memory no longer holds
  // all changes after `offset` (read the log instead).
  bool Recent(std::int64_t offset, std::size_t max, std::vector<std::shared_ptr<const Entry>>* out) const;
  std::int64_t Last() const;
  // Calls `wake(timed_out)` once, from the feed's thread: when a change after `offset` is
  // known, or after the heartbeat interval. Returns an id for Unwatch.
  std::uint64_t Watch(std::int64_t offset, std::function<void(bool timed_out)> wake);
  void Unwatch(std::uint64_t id);
  // Runs a subscriber's store reads and event building: never on an HTTP I/O thread.
  void Post(std::function<void()> work) { workers_.Post(std::move(work)); }

  store::Store& store() { return store_; }
  const ChangeStreamConfig& config() const { return config_; }
  std::int64_t subscribers() const { return subscribers_; }
  void AddSubscriber(int delta) { subscribers_ += delta; }

  // The event JSON of a change (also used for snapshot rows).
  static std::string EventData(const store::PackageChange& change);

 private:
  // Reads what the log has after last_ and wakes the watchers that are due.
  void Step();
  // Step, then the next poll.
  void Poll();

  store::Store& store_;
  ChangeStreamConfig config_;
  mutable std::mutex mu_;
  std::deque<std::shared_ptr<const Entry>> recent_;
  std::int64_t last_ = 0;  // newest offset read
  bool notified_ = false;  // a step is scheduled for a Notify
  struct Watcher {
    std::int64_t offset;
    std::chrono::steady_clock::time_point deadline;
    std::function<void(bool)> wake;
  };
  std::map<std::uint64_t, Watcher> watchers_;
  std::uint64_t next_watch_ = 1;
  std::atomic<std::int64_t> subscribers_{0};
  core::ThreadPoolExecutor workers_;
  std::unique_ptr<core::Timer> timer_;  // while started: runs the steps (destroyed before workers_)
};

// One subscriber's stream: GET /v1/changes.
// `resume_from`: the Last-Event-ID (or ?offset=), absent for a cold start. `tail` (with no
// `resume_from`; ?snapshot=false&tail=N): no state, `snapshot_end` at the log's last offset
// minus N (not before its first), then the changes after it.
std::shared_ptr<ResponseStream> MakeChangeSubscription(ChangeStream& feed, ChangeFilter filter,
                                                       std::optional<std::int64_t> resume_from,
                                                       std::optional<std::int64_t> tail = std::nullopt);

}  // namespace pkgtrust::api
