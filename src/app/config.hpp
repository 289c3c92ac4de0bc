// Configuration: config/pkgtrust.yaml and config/topology.yaml parsed into plain structs in
// this one place (the userver rule). Unknown keys, wrong types and bad values stop start-up
// with one message naming file, line and key.
#pragma once

#include <chrono>
#include <map>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "pkgtrust/adoption/adoption.hpp"
#include "pkgtrust/api/api.hpp"
#include "pkgtrust/api/change_stream.hpp"
#include "pkgtrust/bus/memory_transport.hpp"
#include "pkgtrust/bus/sqs_transport.hpp"
#include "pkgtrust/bus/topology.hpp"
#include "pkgtrust/core/log.hpp"
#include "pkgtrust/gateway/gateway.hpp"
#include "pkgtrust/pipeline/backfill.hpp"
#include "pkgtrust/pipeline/package_lookup.hpp"
#include "pkgtrust/pipeline/pipeline.hpp"
#include "pkgtrust/pipeline/stage_handlers.hpp"
#include "pkgtrust/scoring/model.hpp"
#include "pkgtrust/scoring/typosquat.hpp"
#include "pkgtrust/store/store.hpp"

namespace pkgtrust::app {

class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct SecretsConfig {
  std::string github_token_env = "GITHUB_TOKEN";
  std::string admin_token_env = "PKGTRUST_ADMIN_TOKEN";
  std::string feed_token_env = "PKGTRUST_FEED_TOKEN";
  std::string gateway_token_env = "PKGTRUST_GATEWAY_TOKEN";  // set: gateway clients must present it
};

// `scoring:`: what the model reads beyond the facts (scoring::ModelOptions).
struct ScoringConfig {
  // ecosystem -> "shipped" (the list compiled in), "off", or a TSV file (typosquatting).
  std::map<std::string, std::string> popular_lists = {{"npm", "shipped"}, {"pypi", "shipped"}};
  std::vector<std::string> internal_names;  // dependency confusion: "[ecosystem:]glob"
  double young_package_days = 7;
  double young_version_hours = 48;
};

struct Config {
  std::string source;        // the file it came from, or "<embedded defaults>"
  api::ServerConfig server;  // server.listen and the HTTP limits
  api::ApiConfig api;
  // The api section's not_found_recheck_seconds, max_waiting_requests and
  // report_cache_entries; refresh_after is the reconciler's (Service copies it in).
  pipeline::LookupConfig lookup;
  std::chrono::milliseconds shutdown_grace{10'000};  // requests in flight may finish within this
  // On SIGTERM the listener stays open at least this long, answering /readyz 503, so a load
  // balancer stops sending before connections are refused.
  std::chrono::milliseconds shutdown_delay{0};
  bool web_page = true;  // server.web_page: GET / serves the web page (docs/web.md)
  store::StoreConfig database;
  api::ChangeStreamConfig change_stream;  // changes.poll_interval_ms
  // database.postgres_url_env: the environment variable holding the PostgreSQL connection
  // string (database.postgres_url is read from it when the config is loaded).
  std::string database_url_env = "PKGTRUST_DATABASE_URL";
  std::string transport_kind = "memory";
  std::string topology_source;
  bus::Topology topology;
  // transport.visibility_timeout_seconds: 300 unless the file says otherwise (the memory
  // transport's own default is for tests).
  bus::MemoryTransportConfig memory_transport{.visibility_timeout = std::chrono::seconds(300)};
  bus::SqsTransportConfig sqs_transport;  // visibility timeout and max receives as memory_transport
  pipeline::RepositorySharing repository_sharing;  // github.repository_ttl_hours
  int worker_threads = 2;
  int http_threads = 1;  // threads running upstream HTTP I/O
  int http_connections_per_host =
      64;  // upstream connections per host; requests beyond wait (user requests first)
  std::vector<pipeline::StageConfig> stages = pipeline::DefaultStageConfigs();
  pipeline::ReconcilerConfig reconciler;
  std::map<std::string, std::string> upstreams;         // name -> base URL
  std::vector<std::string> redirect_hosts;              // other hosts an upstream may redirect to
  std::size_t upstream_body_budget_bytes = 128u << 20;  // upstream bodies in flight, all requests
  SecretsConfig secrets;
  ScoringConfig scoring;
  // `gateway:`. Service takes its upstreams from `upstreams` (npm, pypi, pypi_files); an
  // empty files.folder is the database's path with "-gateway-cache" added.
  bool gateway_enabled = true;
  gateway::GatewayConfig gateway;
  // `adoption:` (docs/privacy.md): the gateway's request log, its processing and retention.
  // min_score is the gateway policy's (a score below it raises an exposure alert).
  adoption::AdoptionConfig adoption;
  // index: the popular-package backfill (pipeline/backfill.hpp). Off unless the config file
  // turns it on (the shipped one does; `pkgtrust dev` turns it off).
  struct Index {
    bool popular = false;
    // ecosystem name -> "shipped" (npm, pypi), "off" or a file in the shipped lists' format
    std::map<std::string, std::string> lists = {{"npm", "shipped"}, {"pypi", "shipped"}};
    std::size_t top = 0;  // of each list; 0: all
    std::int64_t max_pending = 200;
    double github_reserve_share = 0.2;
    std::chrono::milliseconds interval{2000};
    bool without_http = false;  // pkgtrust backfill: run it in a service that serves no HTTP
  } index;
  core::LogLevel log_level = core::LogLevel::kInfo;
};

// Reads a config file; a relative `transport.topology` is resolved against its folder.
Config LoadConfigFile(const std::string& path);
// Parses config text; `base_dir` resolves relative paths. An absent `transport.topology`
// means the embedded default topology.
Config ParseConfig(std::string_view yaml, const std::string& source, const std::string& base_dir);
// The compiled-in config/pkgtrust.yaml with the compiled-in topology, index.popular off
// (it serves `pkgtrust dev` and the commands run without --config).
Config DefaultConfig();

// The backfill's lists as `index.lists` names them (the shipped ones, files); an error
// names the key and the file's line.
core::Result<std::vector<pipeline::BackfillList>> LoadBackfillLists(const Config::Index& index);

// The popular-package lists the config names, loaded into `popular`, and the model's options
// pointing at them. A list that cannot be read is an error naming it (a broken path must not
// silently turn the typosquatting check off).
core::Status LoadModelOptions(const ScoringConfig& config, scoring::PopularPackages* popular,
                              scoring::ModelOptions* options);

bus::Topology LoadTopologyFile(const std::string& path);
bus::Topology ParseTopology(std::string_view yaml, const std::string& source);

}  // namespace pkgtrust::app
