// Requests waiting for packages to finish (the on-demand path): a request registers the
// packages it waits for with a deadline, and the pipeline's stage events notify them as
// each package reaches complete, not_found or failed. Several requests for one package
// share its one run and are all woken by it.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "pkgtrust/core/timer.hpp"

namespace pkgtrust::pipeline {

// Safe for concurrent use. Callbacks run on the notifying thread or on the waiters' own
// timer thread (a core::Timer); they must be short (post the real work elsewhere).
class PackageWaiters {
 public:
  using Deadline = std::chrono::steady_clock::time_point;
  PackageWaiters();
  ~PackageWaiters();  // Stop()

  // Calls `done` exactly once: when every key has been notified, at `deadline`, or at
  // Stop(), whichever comes first. `keys` must not repeat; an empty list answers at once.
  void Wait(std::vector<std::string> keys, Deadline deadline, std::function<void()> done);
  // A package finished (or failed): wakes the requests waiting for it.
  void Notify(const std::string& key);
  // Wakes every waiting request now (shutdown); later Waits answer at once.
  void Stop();

  std::size_t Waiting() const;

 private:
  struct Waiter {
    std::vector<std::string> keys;
    std::size_t remaining = 0;
    bool done = false;
    std::function<void()> callback;
  };
  // The deadline of `w` (held weakly: an answered waiter is not kept for its deadline).
  void Expire(const std::weak_ptr<Waiter>& w);
  // With mu_ held: marks `w` done and unlinks it from every key; returns its callback.
  std::function<void()> Finish(const std::shared_ptr<Waiter>& w);

  mutable std::mutex mu_;
  std::unordered_map<std::string, std::vector<std::shared_ptr<Waiter>>> by_key_;
  std::unordered_set<std::shared_ptr<Waiter>> live_;  // not answered yet
  bool stopping_ = false;
  core::Timer timer_;  // last: destroyed first, so no deadline runs on a half-destroyed object
};

}  // namespace pkgtrust::pipeline
