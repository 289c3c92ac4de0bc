#include "pkgtrust/pipeline/pipeline.hpp"

#include "pkgtrust/core/log.hpp"
#include "pkgtrust/pipeline/routing.hpp"

namespace pkgtrust::pipeline {

std::vector<StageConfig> DefaultStageConfigs() {
  std::vector<StageConfig> stages(3);
  stages[0].name = "registry";
  stages[0].state = core::PackageState::kPendingRegistry;
  stages[0].priority_queue = "priority_parse_package";
  stages[0].regular_queue = "regular_parse_package";
  stages[0].concurrency = 64;
  stages[1].name = "repository";
  stages[1].state = core::PackageState::kPendingRepository;
  stages[1].priority_queue = "priority_parse_repository";
  stages[1].regular_queue = "regular_parse_repository";
  stages[1].concurrency = 32;
  stages[2].name = "scoring";
  stages[2].state = core::PackageState::kPendingScore;
  stages[2].priority_queue = "priority_score_package";
  stages[2].regular_queue = "regular_score_package";
  stages[2].concurrency = 4;
  return stages;
}

Pipeline::Pipeline(store::Store& store, bus::Transport& transport, core::Executor& executor,
                   const core::Clock& clock, ReconcilerConfig reconciler_config)
    : store_(store),
      transport_(transport),
      executor_(executor),
      clock_(clock),
      reconciler_(reconciler_config, store, transport, clock) {}

Pipeline::~Pipeline() { Stop(std::chrono::milliseconds(0)); }

Stage& Pipeline::AddStage(StageConfig config, StageHandler& handler) {
  stages_.push_back(
      std::make_unique<Stage>(std::move(config), handler, transport_, store_, executor_, clock_));
  return *stages_.back();
}

void Pipeline::Start() {
  for (auto& stage : stages_) stage->Start();
  reconciler_.Start();
}

void Pipeline::Stop(std::chrono::milliseconds drain) {
  reconciler_.Stop();
  for (auto& stage : stages_) stage->Stop(drain);
}

core::Result<std::vector<store::EnqueueResult>> Pipeline::Submit(std::vector<store::EnqueueRequest> requests,
                                                                 std::string_view request_id) {
  auto results = store_.EnqueueManySync(std::move(requests));
  if (!results.ok()) return results.status();
  PublishStarted(*results, request_id);
  return results;
}

void Pipeline::SubmitAsync(std::vector<store::EnqueueRequest> requests, std::string_view request_id,
                           SubmitDone done) {
  // The store calls back on its writer thread, which must not publish (a network call
  // with SQS): the rest runs on the executor.
  store_.EnqueueMany(std::move(requests),
                     [this, request_id = std::string(request_id), done = std::move(done)](
                         core::Result<std::vector<store::EnqueueResult>> results) mutable {
                       executor_.PostUrgent([this, request_id = std::move(request_id), done = std::move(done),
                                             results = std::move(results)]() mutable {
                         if (results.ok()) PublishStarted(*results, request_id);
                         done(std::move(results));
                       });
                     });
}

void Pipeline::PublishStarted(const std::vector<store::EnqueueResult>& results, std::string_view request_id) {
  for (const auto& result : results) {
    if (result.outcome != store::EnqueueOutcome::kStarted && result.outcome != store::EnqueueOutcome::kRaised)
      continue;
    // Committed already: a failed publish is repaired by the reconciler.
    if (auto s = PublishWork(transport_, result.record, request_id); !s.ok())
      core::Log(core::LogLevel::kWarn, "pipeline", "{}: publish failed: {}", result.record.key.ToString(),
                s.message());
  }
}

core::Result<store::EnqueueResult> Pipeline::SubmitOne(store::EnqueueRequest request,
                                                       std::string_view request_id) {
  std::vector<store::EnqueueRequest> requests;
  requests.push_back(std::move(request));
  auto results = Submit(std::move(requests), request_id);
  if (!results.ok()) return results.status();
  return std::move(results->front());
}

}  // namespace pkgtrust::pipeline
