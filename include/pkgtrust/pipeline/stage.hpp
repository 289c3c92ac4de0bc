// A stage: a worker pool with a limit on work in flight (not threads) that takes from
// its priority queue first and from its regular queue otherwise, keeping a minimum
// share for regular work. It drops stale and duplicate messages, runs the handler, and
// commits the handler's result as a conditional transition before acking.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

#include "pkgtrust/bus/transport.hpp"
#include "pkgtrust/core/clock.hpp"
#include "pkgtrust/core/executor.hpp"
#include "pkgtrust/core/package_state.hpp"
#include "pkgtrust/store/store.hpp"

namespace pkgtrust::pipeline {

struct WorkItem {
  core::PackageKey key;
  std::int64_t generation = 0;
  core::Priority priority = core::Priority::kRegular;
  std::string version;
  std::string request_id;
  int attempt = 1;  // how many times this message has been received
};

// What a handler decided. Advance names the next state and the facts to store with it.
struct StageResult {
  enum class Kind { kAdvance, kRetry, kFail, kPostpone };
  Kind kind = Kind::kAdvance;
  core::PackageState next = core::PackageState::kComplete;
  std::vector<store::Fact> facts;
  std::string error;
  std::optional<std::chrono::milliseconds> retry_after;  // e.g. an upstream's Retry-After

  static StageResult Advance(core::PackageState next, std::vector<store::Fact> facts = {});
  // A transient failure: try again later, up to the stage's max_attempts.
  static StageResult Retry(std::string error,
                           std::optional<std::chrono::milliseconds> retry_after = std::nullopt);
  // A failure that retrying now will not fix: the package goes to failed at once.
  static StageResult Fail(std::string error);
  // Not a failure: the work cannot be done before `delay` (an upstream's rate limit). The
  // message comes back then; no attempt is counted.
  static StageResult Postpone(std::string reason, std::chrono::milliseconds delay);
};

class StageHandler {
 public:
  virtual ~StageHandler() = default;
  // Starts the work and calls `done` exactly once, from any thread. Must not throw.
  virtual void Handle(const WorkItem& item, std::function<void(StageResult)> done) = 0;
  // While this is in the future (ms since the epoch), the stage takes no new work: the
  // handler's upstream has asked it to hold (e.g. a spent GitHub budget).
  virtual core::Millis PausedUntil() const { return 0; }
};

struct StageConfig {
  std::string name;                                                 // "registry", "repository", "scoring"
  core::PackageState state = core::PackageState::kPendingRegistry;  // the state it works on
  std::string priority_queue;
  std::string regular_queue;
  int concurrency = 16;        // work in flight
  double regular_share = 0.2;  // minimum share of regular work while priority work waits
  std::size_t receive_batch = 32;
  int max_attempts = 5;                        // receives of one message before the package goes to failed
  std::chrono::milliseconds retry_base{1000};  // retry delay after the n-th attempt: base * 2^(n-1)
  std::chrono::milliseconds retry_max{60'000};
  std::int64_t failed_retry_base_ms = 60'000;  // reconciler backoff for failed packages
  std::int64_t failed_retry_max_ms = 6 * 3600'000;
};

// What happened to one message, for metrics and tests.
struct StageEvent {
  enum class Kind { kCompleted, kStale, kDuplicate, kMalformed, kRetried, kFailed, kPostponed };
  Kind kind;
  std::string stage;
  core::PackageKey key;
  std::int64_t generation = 0;
  core::PackageState to = core::PackageState::kComplete;  // kCompleted only
  core::Priority priority = core::Priority::kRegular;
};

struct StageStats {
  std::int64_t in_flight = 0, completed = 0, stale = 0, duplicates = 0, malformed = 0, retried = 0,
               failed = 0, postponed = 0;
  std::int64_t taken_priority = 0, taken_regular = 0;
};

// Safe for concurrent use. Start() once, Stop() once; Stop waits for work in flight.
class Stage {
 public:
  Stage(StageConfig config, StageHandler& handler, bus::Transport& transport, store::Store& store,
        core::Executor& executor, const core::Clock& clock);
  ~Stage();

  void Start();
  // Stops taking messages, waits up to `drain` for work in flight, then returns. Messages
  // not acked by then come back after their visibility timeout.
  void Stop(std::chrono::milliseconds drain = std::chrono::seconds(10));

  void SetObserver(std::function<void(const StageEvent&)> observer) { observer_ = std::move(observer); }
  StageStats Stats() const;
  const StageConfig& config() const { return config_; }

 private:
  void PollLoop();
  void Process(bus::Delivery delivery);
  void OnResult(const bus::Delivery& delivery, const WorkItem& item, StageResult result);
  void Finish(const std::string& active_key);
  // Posts work to the executor, ahead of regular work when a user waits for the package.
  void PostFor(core::Priority priority, std::function<void()> task);
  void Emit(StageEvent::Kind kind, const WorkItem& item,
            core::PackageState to = core::PackageState::kComplete);
  std::chrono::milliseconds RetryDelay(int attempt, std::optional<std::chrono::milliseconds> hint) const;

  StageConfig config_;
  StageHandler& handler_;
  bus::Transport& transport_;
  store::Store& store_;
  core::Executor& executor_;
  const core::Clock& clock_;
  std::function<void(const StageEvent&)> observer_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  int in_flight_ = 0;
  bool stopping_ = false;
  double regular_credit_ = 0;
  std::unordered_set<std::string> active_;  // "eco/name#generation" being handled
  std::thread poller_;

  std::atomic<std::int64_t> completed_{0}, stale_{0}, duplicates_{0}, malformed_{0}, retried_{0}, failed_{0},
      postponed_{0};
  std::atomic<std::int64_t> taken_priority_{0}, taken_regular_{0};
};

}  // namespace pkgtrust::pipeline
