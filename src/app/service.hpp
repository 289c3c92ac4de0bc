// The composition root: builds the store, transport, executor and pipeline from a
// Config, starts them in order and stops them in reverse.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "app/config.hpp"
#include "pkgtrust/bus/transport.hpp"
#include "pkgtrust/github/github_client.hpp"
#include "pkgtrust/net/http_client.hpp"
#include "pkgtrust/pipeline/executor.hpp"
#include "pkgtrust/pipeline/pipeline.hpp"
#include "pkgtrust/registry/registry_client.hpp"
#include "pkgtrust/scoring/typosquat.hpp"
#include "pkgtrust/store/package_store.hpp"

namespace pkgtrust::app {

class Service {
 public:
  // The registry and repository stages get their real handlers, built from the config's
  // upstreams; `overrides` replaces a stage's handler by name (tests). A stage with no
  // handler (scoring, until its module exists) is not started.
  Service(Config config, std::map<std::string, pipeline::StageHandler*> overrides = {});
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
  std::unique_ptr<net::BeastHttpClient> http_;
  std::unique_ptr<registry::RegistryClient> registry_;
  std::unique_ptr<github::GitHubClient> github_;
  std::vector<std::unique_ptr<pipeline::StageHandler>> owned_handlers_;
  scoring::PopularPackages popular_;
  std::unique_ptr<pipeline::Pipeline> pipeline_;
  bool started_ = false;
};

}  // namespace pkgtrust::app
