// Stage handlers for tests: they move a package on like the real stages will (registry
// -> repository or, without a GitHub repository, straight to scoring; repository ->
// scoring; scoring -> complete), asynchronously after a configurable latency, writing a
// small fact, and can fail their first attempts.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <thread>

#include "pkgtrust/core/timer.hpp"
#include "pkgtrust/pipeline/stage.hpp"

namespace pkgtrust::testing {

using core::Timer;

class TestStageHandler : public pipeline::StageHandler {
 public:
  struct Options {
    std::string fact_kind;
    std::function<core::PackageState(const pipeline::WorkItem&)> next;
    std::chrono::milliseconds latency{0};  // 0: done is called before Handle returns
    int fail_first_attempts = 0;           // attempts below this number answer Retry
    bool fail_permanently = false;         // answer Fail
  };

  TestStageHandler(Options options, Timer* timer) : options_(std::move(options)), timer_(timer) {}
  void Handle(const pipeline::WorkItem& item, std::function<void(pipeline::StageResult)> done) override;
  std::int64_t invocations() const { return invocations_.load(); }

 private:
  Options options_;
  Timer* timer_;
  std::atomic<std::int64_t> invocations_{0};
};

// The three stages with test handlers. Packages whose name ends in an even digit "have a
// GitHub repository" and go through the repository stage; the others skip it.
struct TestStages {
  explicit TestStages(std::chrono::milliseconds latency = std::chrono::milliseconds(0));
  static bool HasRepository(const core::PackageKey& key);

  Timer timer;
  TestStageHandler registry;
  TestStageHandler repository;
  TestStageHandler scoring;
  pipeline::StageHandler& ForStage(const std::string& name);
};

}  // namespace pkgtrust::testing
