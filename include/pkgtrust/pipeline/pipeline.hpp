// The pipeline: the registry, repository and scoring stages, the reconciler, and the one
// entry point that starts work for a package (Submit). This is the only module that
// moves a package along; the API and the webhook call Submit.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "pkgtrust/pipeline/reconciler.hpp"
#include "pkgtrust/pipeline/stage.hpp"

namespace pkgtrust::pipeline {

// The three stages of DESIGN.md with the shipped topology's queue names.
std::vector<StageConfig> DefaultStageConfigs();

// Safe for concurrent use once started.
class Pipeline {
 public:
  Pipeline(store::Store& store, bus::Transport& transport, core::Executor& executor, const core::Clock& clock,
           ReconcilerConfig reconciler_config);
  ~Pipeline();

  // Before Start(): adds a stage; the handler must outlive the pipeline.
  Stage& AddStage(StageConfig config, StageHandler& handler);
  void Start();
  void Stop(std::chrono::milliseconds drain = std::chrono::seconds(10));

  // Starts a run for each request unless one is in flight (a priority request raises a
  // regular one), in one transaction, and publishes the work that starts. The request
  // is durable when this returns ok.
  core::Result<std::vector<store::EnqueueResult>> Submit(std::vector<store::EnqueueRequest> requests,
                                                         std::string_view request_id = {});
  core::Result<store::EnqueueResult> SubmitOne(store::EnqueueRequest request,
                                               std::string_view request_id = {});
  // The same without blocking: `done` runs on the executor (ahead of stage work) once the
  // requests have committed and their work is published.
  using SubmitDone = std::function<void(core::Result<std::vector<store::EnqueueResult>>)>;
  void SubmitAsync(std::vector<store::EnqueueRequest> requests, std::string_view request_id, SubmitDone done);

  Reconciler& reconciler() { return reconciler_; }
  const std::vector<std::unique_ptr<Stage>>& stages() const { return stages_; }

 private:
  // Publishes the first message of each run that started (or was raised).
  void PublishStarted(const std::vector<store::EnqueueResult>& results, std::string_view request_id);

  store::Store& store_;
  bus::Transport& transport_;
  core::Executor& executor_;
  const core::Clock& clock_;
  Reconciler reconciler_;
  std::vector<std::unique_ptr<Stage>> stages_;
};

}  // namespace pkgtrust::pipeline
