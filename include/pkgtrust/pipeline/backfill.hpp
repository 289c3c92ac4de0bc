// The popular-package backfill (config `index:`, `pkgtrust backfill`; docs/deploy.md): the
// packages of popular lists (the shipped npm and PyPI lists, or any list in the same
// format) that the store does not know are submitted at regular priority, in rank order
// (the lists interleaved: each list's first, then each list's second, ...), so that a new
// installation answers the packages people use from its database.
//
// The pace: a step (every `interval`) submits the next names only while
//  - fewer than `max_pending` packages are in flight in the store, all work counted: feed
//    work shares the regular queue with the backfill, so it never waits behind more than
//    that many backfill packages, and user requests go ahead of both at priority;
//  - GitHub's budget is not held and its remaining requests are above `github_reserve_share`
//    of the most it has had since the last reset: the rest of each hour's budget is left
//    for feed and on-demand runs, and the backfill waits for the reset instead of
//    spending the budget ahead of it.
// Submitting never restarts a package the store knows (EnqueueRequest::restart_finished is
// false) and a new row is started by one process only, so a restart, or several processes
// walking the same lists, enqueue each package once; the reconciler keeps them fresh like
// any other package.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "pkgtrust/core/clock.hpp"
#include "pkgtrust/core/timer.hpp"
#include "pkgtrust/pipeline/pipeline.hpp"
#include "pkgtrust/store/store.hpp"

namespace pkgtrust::pipeline {

// One popular list: names most popular first, as the list spells them.
struct BackfillList {
  core::Ecosystem ecosystem;
  std::vector<std::string> names;
  std::string source;  // the file, or "shipped npm list", for messages
};

struct BackfillConfig {
  std::vector<BackfillList> lists;
  std::size_t top = 0;  // the first `top` names of each list; 0: all
  std::int64_t max_pending = 200;
  double github_reserve_share = 0.2;
  std::size_t batch = 100;  // names submitted per step at most
  std::chrono::milliseconds interval{2000};
};

// What the GitHub client says of its budget (GitHubClient::RemainingBudget, RateLimitedUntil).
struct GitHubBudget {
  std::int64_t remaining = -1;  // -1: not known yet
  core::Millis held_until = 0;  // 0: requests may be sent
};

struct BackfillProgress {
  std::int64_t listed = 0;     // names in the lists (after `top`)
  std::int64_t submitted = 0;  // names walked so far
  std::int64_t enqueued = 0;   // new to the store: a run started here
  std::int64_t known = 0;      // the store knew them (or another process enqueued them first)
  std::int64_t invalid = 0;    // not a valid name of the ecosystem (skipped)
  bool waiting_for_github = false;
  bool done = false;
};

// Safe for concurrent use.
class Backfill {
 public:
  Backfill(BackfillConfig config, store::Store& store, Pipeline& pipeline, const core::Clock& clock,
           std::function<GitHubBudget()> budget);
  ~Backfill();

  void Start();
  void Stop();
  // One step (the timer runs them; tests too): how many names it submitted.
  core::Result<std::int64_t> Step();
  BackfillProgress Progress() const;
  // The packages this backfill enqueued (new to the store), in the order it did.
  std::vector<core::PackageKey> Enqueued() const;
  // pkgtrust_backfill_* for /metrics.
  void AppendPrometheus(std::string& out) const;

 private:
  void Tick();

  BackfillConfig config_;
  store::Store& store_;
  Pipeline& pipeline_;
  const core::Clock& clock_;
  std::function<GitHubBudget()> budget_;
  std::vector<core::PackageKey> order_;  // the lists merged by rank, valid names only
  mutable std::mutex mu_;
  BackfillProgress progress_;
  std::size_t cursor_ = 0;           // the next name of order_
  std::vector<core::PackageKey> enqueued_;
  std::int64_t most_remaining_ = 0;  // GitHub's highest remaining budget since its last reset
  std::unique_ptr<core::Timer> timer_;
};

// A list's text in the shipped format, most popular first (see ReadPopularList); `source`
// names it in errors.
core::Result<BackfillList> ParsePopularList(core::Ecosystem ecosystem, std::string_view text,
                                            const std::string& source);
// The shipped popular lists (data/popular/: npm and PyPI), most popular first.
std::vector<BackfillList> ShippedPopularLists();
// A list in the shipped format, most popular first: "name<TAB>downloads" (most first) or,
// under a header line whose second column is "rank", "name<TAB>rank"; a header line is
// allowed. Any ecosystem. An error names the file and line.
core::Result<BackfillList> ReadPopularList(core::Ecosystem ecosystem, const std::string& path);

}  // namespace pkgtrust::pipeline
