// The composition root: builds the store, transport, executor and pipeline from a
// Config, starts them in order and stops them in reverse.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "app/config.hpp"
#include "pkgtrust/bus/transport.hpp"
#include "pkgtrust/pipeline/executor.hpp"
#include "pkgtrust/pipeline/pipeline.hpp"
#include "pkgtrust/store/package_store.hpp"

namespace pkgtrust::app {

class Service {
 public:
  // `handlers` maps stage names to their handlers; a stage without one is not started.
  Service(Config config, std::map<std::string, pipeline::StageHandler*> handlers = {});
  ~Service();

  // Opens the database (applying migrations) and starts every part. Throws
  // std::runtime_error with a clear message when a part cannot start.
  void Start();
  void Stop();

  const Config& config() const { return config_; }
  store::PackageStore& store() { return *store_; }
  bus::Transport& transport() { return *transport_; }
  pipeline::Pipeline& pipeline() { return *pipeline_; }

 private:
  Config config_;
  std::map<std::string, pipeline::StageHandler*> handlers_;
  std::unique_ptr<store::PackageStore> store_;
  std::unique_ptr<bus::Transport> transport_;
  std::unique_ptr<pipeline::ThreadPoolExecutor> executor_;
  std::unique_ptr<pipeline::Pipeline> pipeline_;
  bool started_ = false;
};

}  // namespace pkgtrust::app
