// The composition root: builds the store, transport, executor, upstream clients,
// pipeline, API and HTTP server from a Config, starts them in that order and stops them
// in reverse (the server first, so requests in flight finish while the pipeline runs).
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <string>

#include "app/config.hpp"
#include "pkgtrust/adoption/adoption.hpp"
#include "pkgtrust/adoption/routes.hpp"
#include "pkgtrust/api/api.hpp"
#include "pkgtrust/api/change_stream.hpp"
#include "pkgtrust/api/http_server.hpp"
#include "pkgtrust/bus/transport.hpp"
#include "pkgtrust/core/executor.hpp"
#include "pkgtrust/core/timer.hpp"
#include "pkgtrust/gateway/gateway.hpp"
#include "pkgtrust/github/github_client.hpp"
#include "pkgtrust/net/http_client.hpp"
#include "pkgtrust/net/measured_http_client.hpp"
#include "pkgtrust/pipeline/backfill.hpp"
#include "pkgtrust/pipeline/package_lookup.hpp"
#include "pkgtrust/pipeline/pipeline.hpp"
#include "pkgtrust/registry/registry_client.hpp"
#include "pkgtrust/scoring/typosquat.hpp"
#include "pkgtrust/store/store.hpp"
#include "pkgtrust/web/web_app.hpp"

namespace pkgtrust::app {

class Service {
 public:
  // The registry and repository stages get their real handlers, built from the config's
  // upstreams; `overrides` replaces a stage's handler by name (tests). A stage with no
  // handler (scoring, until its module exists) is not started.
  Service(Config config, std::map<std::string, pipeline::StageHandler*> overrides = {});
  ~Service();

  // Opens the database (applying migrations) and starts every part. Throws
  // std::runtime_error with a clear message when a part cannot start. With
  // `serve_http` false (pkgtrust score), no HTTP listener is opened.
  void Start(bool serve_http = true);
  void Stop();

  // The port the HTTP server listens on (useful with server.listen port 0), or 0.
  int http_port() const { return server_ ? server_->port() : 0; }
  api::Api& api() { return *api_; }
  gateway::Gateway* gateway() { return gateway_.get(); }
  // The answer for one package, as the REST API gives it (pkgtrust score asks here).
  pipeline::PackageLookup& lookup() { return *lookup_; }

  const Config& config() const { return config_; }
  store::Store& store() { return *store_; }
  bus::Transport& transport() { return *transport_; }
  pipeline::Pipeline& pipeline() { return *pipeline_; }
  // The popular-package backfill (index.popular, serve only); null when off.
  const pipeline::Backfill* backfill() const { return backfill_.get(); }
  const scoring::ModelOptions& model_options() const { return model_options_; }

 private:
  Config config_;
  std::map<std::string, pipeline::StageHandler*> handlers_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<bus::Transport> transport_;
  std::unique_ptr<api::ChangeStream> change_stream_;
  std::unique_ptr<core::ThreadPoolExecutor> executor_;
  std::unique_ptr<net::BeastHttpClient> http_;
  std::unique_ptr<net::MeasuredHttpClient> measured_http_;
  std::unique_ptr<registry::RegistryClient> registry_;
  std::unique_ptr<github::GitHubClient> github_;
  std::vector<std::unique_ptr<pipeline::StageHandler>> owned_handlers_;
  pipeline::RepositoryStageHandler* repository_handler_ = nullptr;  // one of owned_handlers_
  scoring::PopularPackages popular_;
  scoring::ModelOptions model_options_;  // points at popular_
  std::unique_ptr<pipeline::Pipeline> pipeline_;
  std::unique_ptr<core::ThreadPoolExecutor> lookup_pool_;  // answers of lookups that waited
  std::unique_ptr<pipeline::PackageLookup> lookup_;
  std::unique_ptr<api::Api> api_;
  std::unique_ptr<api::HttpServer> server_;
  std::unique_ptr<core::ThreadPoolExecutor> gateway_pool_;  // filters gateway metadata
  std::unique_ptr<gateway::Gateway> gateway_;               // null when gateway.enabled is false
  std::unique_ptr<adoption::RequestLog> request_log_;       // null without the gateway or adoption
  std::unique_ptr<adoption::Processor> adoption_;           // null when adoption.enabled is false
  std::unique_ptr<core::ThreadPoolExecutor> adoption_pool_;  // builds adoption answers
  std::unique_ptr<adoption::AdoptionRoutes> adoption_routes_;
  std::unique_ptr<web::WebApp> web_app_;
  std::unique_ptr<pipeline::Backfill> backfill_;
  std::atomic<bool> started_{false};
  void StartGateway(const core::Clock& clock);
  void StartBackfill(const core::Clock& clock);
  void ScheduleMemoryTrim();
  core::Timer memory_timer_;  // last: its callbacks use the members above
};

}  // namespace pkgtrust::app
