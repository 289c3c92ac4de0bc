#include "app/service.hpp"

#include <fmt/format.h>
#include <malloc.h>

#include <algorithm>
#include <stdexcept>

#include "pkgtrust/bus/memory_transport.hpp"
#include "pkgtrust/bus/sqs_transport.hpp"
#include "pkgtrust/core/log.hpp"
#include "pkgtrust/core/metrics.hpp"
#include "pkgtrust/net/sigv4.hpp"
#include "pkgtrust/net/url.hpp"
#include "pkgtrust/pipeline/stage_handlers.hpp"

namespace pkgtrust::app {

namespace {

// /metrics lines of the pipeline's parts: stages, queues and packages by state.
void AppendPipelineMetrics(std::string& out, pipeline::Pipeline& pipeline, bus::Transport& transport,
                           store::Store& store) {
  auto label = [](std::string_view name, std::string_view value) {
    return fmt::format("{}=\"{}\"", name, core::PrometheusLabelValue(value));
  };
  core::AppendPrometheusHeader(out, "pkgtrust_stage_in_flight", "gauge", "Work in flight per stage.");
  for (const auto& stage : pipeline.stages())
    core::AppendPrometheusSample(out, "pkgtrust_stage_in_flight", label("stage", stage->config().name),
                                 static_cast<double>(stage->Stats().in_flight));
  core::AppendPrometheusHeader(out, "pkgtrust_stage_messages_total", "counter", "Stage messages by outcome.");
  for (const auto& stage : pipeline.stages()) {
    pipeline::StageStats s = stage->Stats();
    std::string stage_label = label("stage", stage->config().name);
    std::pair<const char*, std::int64_t> outcomes[] = {
        {"completed", s.completed}, {"failed", s.failed},        {"retried", s.retried},
        {"stale", s.stale},         {"duplicate", s.duplicates}, {"malformed", s.malformed},
        {"postponed", s.postponed}};
    for (const auto& [outcome, n] : outcomes)
      core::AppendPrometheusSample(out, "pkgtrust_stage_messages_total",
                                   fmt::format("{},outcome=\"{}\"", stage_label, outcome),
                                   static_cast<double>(n));
  }
  bus::TransportStats queues = transport.Stats();
  core::AppendPrometheusHeader(out, "pkgtrust_queue_messages", "gauge", "Messages per queue by state.");
  for (const auto& [queue, q] : queues.queues) {
    std::string queue_label = label("queue", queue);
    core::AppendPrometheusSample(out, "pkgtrust_queue_messages", queue_label + ",state=\"visible\"",
                                 static_cast<double>(q.visible));
    core::AppendPrometheusSample(out, "pkgtrust_queue_messages", queue_label + ",state=\"delayed\"",
                                 static_cast<double>(q.delayed));
    core::AppendPrometheusSample(out, "pkgtrust_queue_messages", queue_label + ",state=\"in_flight\"",
                                 static_cast<double>(q.in_flight));
  }
  core::AppendPrometheusHeader(out, "pkgtrust_queue_dead_lettered_total", "counter",
                               "Messages dead-lettered.");
  for (const auto& [queue, q] : queues.queues)
    core::AppendPrometheusSample(out, "pkgtrust_queue_dead_lettered_total", label("queue", queue),
                                 static_cast<double>(q.dead_lettered));
  core::AppendPrometheusHeader(out, "pkgtrust_messages_unroutable_total", "counter",
                               "Published messages no queue's filter policy matched.");
  core::AppendPrometheusSample(out, "pkgtrust_messages_unroutable_total", "",
                               static_cast<double>(queues.unroutable));
  // This process's store writer: requests, transactions (batches), stale transitions and
  // batches run again (a lost PostgreSQL connection, a deadlock with another process).
  store::Store::WriterStats writer = store.GetWriterStats();
  core::AppendPrometheusHeader(out, "pkgtrust_store_writes_total", "counter",
                               "Store writes of this process by kind.");
  std::pair<const char*, std::int64_t> writes[] = {{"request", writer.requests},
                                                   {"transaction", writer.transactions},
                                                   {"stale", writer.stale},
                                                   {"retried_batch", writer.retried_batches}};
  for (const auto& [kind, n] : writes)
    core::AppendPrometheusSample(out, "pkgtrust_store_writes_total", label("kind", kind),
                                 static_cast<double>(n));
  if (auto counts = store.CountByState(); counts.ok()) {
    core::AppendPrometheusHeader(out, "pkgtrust_packages", "gauge",
                                 "Packages by state (complete and failed included).");
    for (core::PackageState state : core::kAllPackageStates) {
      auto it = counts->find(state);
      core::AppendPrometheusSample(out, "pkgtrust_packages", label("state", core::PackageStateName(state)),
                                   it == counts->end() ? 0.0 : static_cast<double>(it->second));
    }
  }
}

}  // namespace

Service::Service(Config config, std::map<std::string, pipeline::StageHandler*> handlers)
    : config_(std::move(config)), handlers_(std::move(handlers)) {}

Service::~Service() { Stop(); }

void Service::Start(bool serve_http) {
  const core::Clock& clock = core::SystemClock::Instance();
  auto store = store::Store::Open(config_.database, clock);
  if (!store.ok()) throw std::runtime_error(store.status().message());
  store_ = std::move(store).value();

  // Transports by name, from an explicit map (STYLE.md: no self-registration).
  if (config_.transport_kind == "memory") {
    transport_ = std::make_unique<bus::MemoryTransport>(config_.topology, config_.memory_transport, clock);
  } else if (config_.transport_kind == "sqs") {
    auto credentials = net::AwsCredentialsFromEnvironment();
    if (!credentials.ok()) throw std::runtime_error("transport sqs: " + credentials.status().message());
    auto sqs =
        bus::SqsTransport::Create(config_.topology, config_.sqs_transport, std::move(credentials).value());
    if (!sqs.ok()) throw std::runtime_error("transport sqs: " + sqs.status().message());
    transport_ = std::move(sqs).value();
  } else {
    throw std::runtime_error("transport '" + config_.transport_kind + "' is not available in this build");
  }
  executor_ = std::make_unique<core::ThreadPoolExecutor>(config_.worker_threads, "workers");

  // Upstreams: one HTTP client for every registry and GitHub.
  net::HttpClientConfig http_config;
  http_config.threads = config_.http_threads;
  http_config.max_connections_per_host = config_.http_connections_per_host;
  http_config.redirect_hosts = config_.redirect_hosts;
  http_config.body_budget_bytes = config_.upstream_body_budget_bytes;
  // The configured upstreams may be on private addresses (a mirror, a test server); a
  // redirect elsewhere may not.
  for (const auto& [name, base] : config_.upstreams)
    if (auto url = net::ParseUrl(base); url.ok()) http_config.trusted_hosts.push_back(url->host);
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
  measured_http_ = std::make_unique<net::MeasuredHttpClient>(
      *http_, std::vector<std::pair<std::string, std::string>>{
                  {"npm", endpoints.npm},
                  {"npm_downloads", endpoints.npm_downloads},
                  {"pypi", endpoints.pypi},
                  {"pypi_files", upstream("pypi_files", config_.gateway.pypi_files_upstream)},
                  {"crates", endpoints.crates},
                  {"maven", endpoints.maven},
                  {"go", endpoints.go},
                  {"github", upstream("github", "https://api.github.com")}});
  // Answers are parsed on the worker pool, user requests first, never on the HTTP thread.
  core::RunCpuWork on_workers = [executor = executor_.get()](bool urgent, std::function<void()> work) {
    if (urgent)
      executor->PostUrgent(std::move(work));
    else
      executor->Post(std::move(work));
  };
  registry::RegistryOptions registry_options;
  registry_options.run_cpu_work = on_workers;
  registry_ = std::make_unique<registry::RegistryClient>(*measured_http_, endpoints, registry_options);
  github::GitHubOptions github_options;
  github_options.base_url = upstream("github", github_options.base_url);
  github_options.run_cpu_work = on_workers;
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
  github_ = std::make_unique<github::GitHubClient>(*measured_http_, github_options);
  owned_handlers_.push_back(std::make_unique<pipeline::RegistryStageHandler>(*registry_));
  handlers_.try_emplace("registry", owned_handlers_.back().get());
  auto repository_handler = std::make_unique<pipeline::RepositoryStageHandler>(
      *github_, *store_, config_.repository_sharing, clock);
  repository_handler_ = repository_handler.get();
  owned_handlers_.push_back(std::move(repository_handler));
  handlers_.try_emplace("repository", owned_handlers_.back().get());
  if (auto s = LoadModelOptions(config_.scoring, &popular_, &model_options_); !s.ok())
    throw std::runtime_error(s.message());
  owned_handlers_.push_back(std::make_unique<pipeline::ScoringStageHandler>(*store_, clock, model_options_));
  handlers_.try_emplace("scoring", owned_handlers_.back().get());

  pipeline::ReconcilerConfig reconciler_config = config_.reconciler;
  // The memory transport's queues start empty: whatever was in flight must be published again.
  reconciler_config.republish_on_start = config_.transport_kind == "memory";
  pipeline_ =
      std::make_unique<pipeline::Pipeline>(*store_, *transport_, *executor_, clock, reconciler_config);
  for (const auto& stage : config_.stages) {
    auto it = handlers_.find(stage.name);
    if (it == handlers_.end() || it->second == nullptr) {
      core::Log(core::LogLevel::kWarn, "service", "stage '{}' has no handler in this build; its queues wait",
                stage.name);
      continue;
    }
    pipeline_->AddStage(stage, *it->second);
  }
  // The lookup hears every stage event: finished packages wake the lookups waiting for them.
  pipeline::LookupConfig lookup_config = config_.lookup;
  lookup_config.refresh_after = config_.reconciler.refresh_after;
  // With shared SQS queues another process may run what a lookup here waits for.
  if (config_.transport_kind == "sqs") lookup_config.recheck_interval = std::chrono::seconds(1);
  lookup_pool_ = std::make_unique<core::ThreadPoolExecutor>(2, "lookup");
  lookup_ =
      std::make_unique<pipeline::PackageLookup>(lookup_config, *store_, *pipeline_, *lookup_pool_, clock);
  api::ApiConfig api_config = config_.api;
  if (const char* token = std::getenv(config_.secrets.admin_token_env.c_str()))
    api_config.admin_token = token;
  if (const char* token = std::getenv(config_.secrets.feed_token_env.c_str())) api_config.feed_token = token;
  api_ = std::make_unique<api::Api>(api_config, *store_, *pipeline_, *lookup_);
  change_stream_ = std::make_unique<api::ChangeStream>(*store_, config_.change_stream);
  api_->SetChangeStream(change_stream_.get());
  for (const auto& stage : pipeline_->stages())
    stage->SetObserver(
        [lookup = lookup_.get()](const pipeline::StageEvent& event) { lookup->OnStageEvent(event); });
  // A change is committed (here or, on PostgreSQL, by any process): subscribers can have it now.
  store_->SetChangeListener([changes = change_stream_.get()] { changes->Notify(); });
  change_stream_->Start();
  api_->AddMetricsCollector(
      [this](std::string& out) { AppendPipelineMetrics(out, *pipeline_, *transport_, *store_); });
  api_->AddReadinessCheck("transport_not_ready",
                          [transport = transport_.get()] { return transport->Health(); });
  api_->AddMetricsCollector([http = measured_http_.get()](std::string& out) { http->AppendPrometheus(out); });
  api_->AddMetricsCollector([http = http_.get()](std::string& out) {
    net::HttpClientStats stats = http->Stats();
    core::AppendPrometheusHeader(out, "pkgtrust_upstream_body_budget_bytes", "gauge",
                                 "Bytes of upstream bodies held now, of workers.upstream_body_budget_mb.");
    core::AppendPrometheusSample(out, "pkgtrust_upstream_body_budget_bytes", "",
                                 static_cast<double>(stats.budget_bytes));
    core::AppendPrometheusHeader(out, "pkgtrust_upstream_body_budget_waits_total", "counter",
                                 "Times an upstream body waited for its share of the byte budget.");
    core::AppendPrometheusSample(out, "pkgtrust_upstream_body_budget_waits_total", "",
                                 static_cast<double>(stats.budget_waits));
    core::AppendPrometheusHeader(
        out, "pkgtrust_upstream_redirects_refused_total", "counter",
        "Upstream redirects refused: another host, https to http, a private address.");
    core::AppendPrometheusSample(out, "pkgtrust_upstream_redirects_refused_total", "",
                                 static_cast<double>(stats.refused_redirects));
  });
  if (serve_http && config_.gateway_enabled) StartGateway(clock);
  if (config_.adoption.enabled && config_.adoption.process) {
    adoption_ = std::make_unique<adoption::Processor>(*store_, pipeline_.get(), config_.adoption, clock);
    api_->AddMetricsCollector(
        [processor = adoption_.get()](std::string& out) { processor->AppendPrometheus(out); });
    adoption_->Start();
  }
  if (serve_http) {
    adoption_pool_ = std::make_unique<core::ThreadPoolExecutor>(1, "adoption");
    adoption_routes_ = std::make_unique<adoption::AdoptionRoutes>(*store_, clock, *adoption_pool_);
    api_->Mount("/v1/adoption/", *adoption_routes_);
    api_->Mount("/v1/alerts", *adoption_routes_);
    if (config_.web_page) {
      web_app_ = std::make_unique<web::WebApp>();
      api_->SetFallback(*web_app_);
    }
  }
  pipeline_->Start();
  // Not for one-off commands (score, check); `pkgtrust backfill` asks for it.
  if ((serve_http || config_.index.without_http) && config_.index.popular) StartBackfill(clock);
  started_ = true;
  if (serve_http) {
    if (api_config.feed_token.empty())
      core::Log(core::LogLevel::kWarn, "service", "${} is not set: the webhook takes events without a token",
                config_.secrets.feed_token_env);
    server_ = std::make_unique<api::HttpServer>(config_.server, *api_);
    if (auto s = server_->Start(); !s.ok()) {
      server_.reset();
      Stop();
      throw std::runtime_error(s.message());
    }
    api_->AddMetricsCollector([server = server_.get()](std::string& out) {
      api::HttpServer::Stats stats = server->GetStats();
      core::AppendPrometheusHeader(out, "pkgtrust_http_connections", "gauge", "Open HTTP connections.");
      core::AppendPrometheusSample(out, "pkgtrust_http_connections", "",
                                   static_cast<double>(stats.connections_open));
      core::AppendPrometheusHeader(out, "pkgtrust_http_timeouts_total", "counter",
                                   "Connections closed because a request did not arrive in time.");
      core::AppendPrometheusSample(out, "pkgtrust_http_timeouts_total", "",
                                   static_cast<double>(stats.timeouts));
      core::AppendPrometheusHeader(out, "pkgtrust_http_rejected_connections_total", "counter",
                                   "Connections closed at once because server.max_connections were open.");
      core::AppendPrometheusSample(out, "pkgtrust_http_rejected_connections_total", "",
                                   static_cast<double>(stats.rejected_connections));
    });
  }
  api_->SetReady(true);
  ScheduleMemoryTrim();
  auto counts = store_->CountByState();
  std::int64_t total = 0;
  if (counts.ok())
    for (const auto& [state, n] : *counts) total += n;
  core::Log(core::LogLevel::kInfo, "service",
            "started: database {} (schema v{}, {} packages), transport {} ({} queues from {}), reconciler "
            "every {} s{}",
            config_.database.kind == store::StoreKind::kPostgres
                ? fmt::format("PostgreSQL (${})", config_.database_url_env)
                : config_.database.path,
            store_->SchemaVersion(), total, config_.transport_kind, config_.topology.queues.size(),
            config_.topology_source, config_.reconciler.interval.count() / 1000,
            server_ ? fmt::format(", HTTP on {}:{}", config_.server.host, server_->port()) : "");
}

// The package gateway, mounted on the API's server below its prefixes.
void Service::StartGateway(const core::Clock& clock) {
  gateway::GatewayConfig gateway_config = config_.gateway;
  for (auto [name, base] : {std::pair<const char*, std::string*>{"npm", &gateway_config.npm_upstream},
                            {"pypi", &gateway_config.pypi_upstream},
                            {"pypi_files", &gateway_config.pypi_files_upstream}})
    if (auto it = config_.upstreams.find(name); it != config_.upstreams.end()) *base = it->second;
  if (gateway_config.files.folder.empty())
    gateway_config.files.folder = config_.database.path + "-gateway-cache";
  if (const char* token = std::getenv(config_.secrets.gateway_token_env.c_str()))
    gateway_config.client_token = token;
  gateway_pool_ = std::make_unique<core::ThreadPoolExecutor>(2, "gateway");
  auto gateway = gateway::Gateway::Create(gateway_config, *store_, pipeline_.get(), &popular_,
                                          *measured_http_, *gateway_pool_, clock);
  if (!gateway.ok()) throw std::runtime_error(gateway.status().message());
  gateway_ = std::move(gateway).value();
  for (const std::string& prefix : {gateway_config.npm_prefix, gateway_config.pypi_prefix})
    if (!prefix.empty()) api_->Mount(prefix, *gateway_);
  api_->AddMetricsCollector([gateway = gateway_.get()](std::string& out) { gateway->AppendPrometheus(out); });
  if (config_.adoption.enabled) {
    request_log_ = std::make_unique<adoption::RequestLog>(*store_, config_.adoption, clock);
    request_log_->Start();
    gateway_->SetRecorder(
        [log = request_log_.get()](gateway::AnsweredRequest r) { log->Record(std::move(r)); });
    api_->AddMetricsCollector([log = request_log_.get()](std::string& out) {
      auto stats = log->GetStats();
      core::AppendPrometheusHeader(out, "pkgtrust_request_log_rows_total", "counter",
                                   "Gateway requests for the request log, by what became of them.");
      for (auto [outcome, n] :
           {std::pair{"recorded", stats.recorded}, {"written", stats.written}, {"dropped", stats.dropped}})
        core::AppendPrometheusSample(out, "pkgtrust_request_log_rows_total",
                                     fmt::format("outcome=\"{}\"", outcome), static_cast<double>(n));
    });
  }
  core::Log(core::LogLevel::kInfo, "service",
            "gateway: npm at {} (from {}), PyPI at {} (from {}); policy {}{}",
            gateway_config.npm_prefix.empty() ? "-" : gateway_config.npm_prefix, gateway_config.npm_upstream,
            gateway_config.pypi_prefix.empty() ? "-" : gateway_config.pypi_prefix,
            gateway_config.pypi_upstream, gateway_config.policy.monitor ? "monitor" : "enforce",
            gateway_config.client_token.empty() ? "" : ", clients need the token");
}

// Large upstream bodies come and go; glibc keeps the freed pages in its heaps. Giving them
// back every half minute keeps the resident size near what is in use (a gzip bomb's 500 MB
// do not stay with the process for ever).
void Service::ScheduleMemoryTrim() {
  if (!started_) return;
  memory_timer_.Schedule(std::chrono::seconds(30), [this] {
    malloc_trim(0);
    ScheduleMemoryTrim();
  });
}

// index.popular: the popular lists' packages the store does not know, paced by the work in
// flight and GitHub's budget (pipeline/backfill.hpp).
void Service::StartBackfill(const core::Clock& clock) {
  auto lists = LoadBackfillLists(config_.index);
  if (!lists.ok()) throw std::runtime_error(lists.status().message());
  pipeline::BackfillConfig backfill;
  backfill.lists = std::move(lists).value();
  backfill.top = config_.index.top;
  backfill.max_pending = config_.index.max_pending;
  backfill.github_reserve_share = config_.index.github_reserve_share;
  backfill.interval = config_.index.interval;
  backfill_ = std::make_unique<pipeline::Backfill>(std::move(backfill), *store_, *pipeline_, clock, [this] {
    return pipeline::GitHubBudget{github_->RemainingBudget(), github_->RateLimitedUntil()};
  });
  api_->AddMetricsCollector(
      [backfill = backfill_.get()](std::string& out) { backfill->AppendPrometheus(out); });
  backfill_->Start();
}

void Service::Stop() {
  if (!started_) return;
  started_ = false;
  // Readiness fails first (load balancers stop sending), waiting requests are answered,
  // requests in flight finish; then the stages drain, queued writes commit (their
  // callbacks post to the executor), and the executor runs what is left.
  api_->SetReady(false);
  lookup_->StopWaiting();
  if (server_) server_->Stop(config_.shutdown_grace, config_.shutdown_delay);
  store_->SetChangeListener(nullptr);
  change_stream_->Stop();
  if (gateway_pool_) gateway_pool_->Stop();  // metadata being filtered is answered (or dropped)
  if (adoption_pool_) adoption_pool_->Stop();  // adoption answers being built
  if (request_log_) request_log_->Stop();    // the last requests are written
  if (adoption_) adoption_->Stop();
  if (backfill_) backfill_->Stop();
  lookup_pool_->Stop();  // the last answers are built (they read the store)
  pipeline_->Stop();
  store_->Close();
  executor_->Stop();
  if (repository_handler_) repository_handler_->StopBatching();
  http_.reset();  // joins the HTTP threads; no handler callback can arrive after this
  gateway_.reset();  // after the HTTP client: a file download's callbacks use it
  server_.reset();
  api_.reset();
  lookup_.reset();
  change_stream_.reset();
  core::Log(core::LogLevel::kInfo, "service", "stopped");
}

}  // namespace pkgtrust::app
