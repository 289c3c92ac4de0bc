#include "support/test_stages.hpp"

#include <fmt/format.h>

namespace pkgtrust::testing {

void TestStageHandler::Handle(const pipeline::WorkItem& item,
                              std::function<void(pipeline::StageResult)> done) {
  invocations_++;
  pipeline::StageResult result;
  if (options_.fail_permanently) {
    result = pipeline::StageResult::Fail("test handler: permanent failure");
  } else if (item.attempt <= options_.fail_first_attempts) {
    result = pipeline::StageResult::Retry(fmt::format("test handler: failing attempt {}", item.attempt));
  } else {
    std::string fact = fmt::format(R"({{"generation":{},"attempt":{}}})", item.generation, item.attempt);
    result = pipeline::StageResult::Advance(options_.next(item), {{options_.fact_kind, fact}});
  }
  if (options_.latency.count() == 0 || timer_ == nullptr) {
    done(std::move(result));
    return;
  }
  timer_->Schedule(options_.latency, [done = std::move(done), result = std::move(result)]() mutable {
    done(std::move(result));
  });
}

bool TestStages::HasRepository(const core::PackageKey& key) {
  char last = key.name.empty() ? '0' : key.name.back();
  return last >= '0' && last <= '9' && (last - '0') % 2 == 0;
}

TestStages::TestStages(std::chrono::milliseconds latency)
    : registry({"registry",
                [](const pipeline::WorkItem& item) {
                  return HasRepository(item.key) ? core::PackageState::kPendingRepository
                                                 : core::PackageState::kPendingScore;
                },
                latency},
               &timer),
      repository({"repository", [](const pipeline::WorkItem&) { return core::PackageState::kPendingScore; },
                  latency},
                 &timer),
      scoring({"score", [](const pipeline::WorkItem&) { return core::PackageState::kComplete; }, latency},
              &timer) {}

pipeline::StageHandler& TestStages::ForStage(const std::string& name) {
  if (name == "registry") return registry;
  if (name == "repository") return repository;
  return scoring;
}

}  // namespace pkgtrust::testing
