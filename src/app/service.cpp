#include "app/service.hpp"

#include <algorithm>
#include <stdexcept>

#include "pkgtrust/bus/memory_transport.hpp"
#include "pkgtrust/core/log.hpp"
#include "pkgtrust/pipeline/ingest_handlers.hpp"

namespace pkgtrust::app {

Service::Service(Config config, std::map<std::string, pipeline::StageHandler*> handlers)
    : config_(std::move(config)), handlers_(std::move(handlers)) {}

Service::~Service() { Stop(); }

void Service::Start() {
  const core::Clock& clock = core::SystemClock::Instance();
  auto store = store::PackageStore::Open(config_.database, clock);
  if (!store.ok()) throw std::runtime_error(store.status().message());
  store_ = std::move(store).value();

  // Transports by name, from an explicit map (STYLE.md: no self-registration).
  if (config_.transport_kind == "memory") {
    transport_ = std::make_unique<bus::MemoryTransport>(config_.topology, config_.memory_transport, clock);
  } else {
    throw std::runtime_error("transport '" + config_.transport_kind + "' is not available in this build");
  }
  executor_ = std::make_unique<pipeline::ThreadPoolExecutor>(config_.worker_threads, "workers");

  // Upstreams: one HTTP client for every registry and GitHub.
  net::HttpClientConfig http_config;
  http_config.threads = config_.http_threads;
  http_ = std::make_unique<net::BeastHttpClient>(http_config);
  auto upstream = [&](const char* name, const std::string& fallback) {
    auto it = config_.upstreams.find(name);
    return it == config_.upstreams.end() ? fallback : it->second;
  };
  registry::RegistryEndpoints defaults;
  registry::RegistryEndpoints endpoints{
      upstream("npm", defaults.npm),     upstream("npm_downloads", defaults.npm_downloads),
      upstream("pypi", defaults.pypi),   upstream("crates", defaults.crates),
      upstream("maven", defaults.maven), upstream("go", defaults.go)};
  registry_ = std::make_unique<registry::RegistryClient>(*http_, endpoints);
  github::GitHubOptions github_options;
  github_options.base_url = upstream("github", github_options.base_url);
  if (const char* token = std::getenv(config_.secrets.github_token_env.c_str())) github_options.token = token;
  // The token goes into a header: refuse one that would break it rather than send it.
  if (std::any_of(github_options.token.begin(), github_options.token.end(),
                  [](unsigned char c) { return c < 0x21 || c > 0x7e; }))
    throw std::runtime_error("$" + config_.secrets.github_token_env +
                             " holds spaces, line breaks or non-ASCII characters; it must be a bare token");
  if (github_options.token.empty())
    core::Log(core::LogLevel::kWarn, "service",
              "${} is not set: GitHub allows 60 unauthenticated requests an hour",
              config_.secrets.github_token_env);
  github_ = std::make_unique<github::GitHubClient>(*http_, github_options);
  owned_handlers_.push_back(std::make_unique<pipeline::RegistryStageHandler>(*registry_));
  handlers_.try_emplace("registry", owned_handlers_.back().get());
  owned_handlers_.push_back(std::make_unique<pipeline::RepositoryStageHandler>(*github_, *store_));
  handlers_.try_emplace("repository", owned_handlers_.back().get());
  for (const auto& [eco, path] : config_.popular_lists) {
    // Without a list, scoring still runs; only the typosquatting check is off.
    if (auto s = popular_.Load(*core::ParseEcosystem(eco), path); !s.ok())
      core::Log(core::LogLevel::kWarn, "service", "typosquatting check for {} is off: {}", eco, s.message());
  }
  owned_handlers_.push_back(std::make_unique<pipeline::ScoringStageHandler>(*store_, clock, &popular_));
  handlers_.try_emplace("scoring", owned_handlers_.back().get());

  pipeline_ =
      std::make_unique<pipeline::Pipeline>(*store_, *transport_, *executor_, clock, config_.reconciler);
  for (const auto& stage : config_.stages) {
    auto it = handlers_.find(stage.name);
    if (it == handlers_.end() || it->second == nullptr) {
      core::Log(core::LogLevel::kWarn, "service", "stage '{}' has no handler in this build; its queues wait",
                stage.name);
      continue;
    }
    pipeline_->AddStage(stage, *it->second);
  }
  pipeline_->Start();
  started_ = true;
  auto counts = store_->CountByState();
  std::int64_t total = 0;
  if (counts.ok())
    for (const auto& [state, n] : *counts) total += n;
  core::Log(core::LogLevel::kInfo, "service",
            "started: database {} (schema v{}, {} packages), transport {} ({} queues from {}), reconciler "
            "every {} s",
            config_.database.path, store_->SchemaVersion(), total, config_.transport_kind,
            config_.topology.queues.size(), config_.topology_source,
            config_.reconciler.interval.count() / 1000);
}

void Service::Stop() {
  if (!started_) return;
  started_ = false;
  // Stages drain first; then queued writes commit (their callbacks post to the
  // executor); then the executor runs what is left.
  pipeline_->Stop();
  store_->Close();
  executor_->Stop();
  http_.reset();  // joins the HTTP threads; no handler callback can arrive after this
  core::Log(core::LogLevel::kInfo, "service", "stopped");
}

}  // namespace pkgtrust::app
