#include "app/config.hpp"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "app/embedded_defaults.hpp"

namespace pkgtrust::app {
namespace {

const std::string kEmbeddedSource = "<embedded defaults>";

// Walks a YAML document, turning every problem into "file:line: key: message".
class Reader {
 public:
  explicit Reader(std::string source) : source_(std::move(source)) {}

  [[noreturn]] void Fail(const YAML::Node& node, const std::string& key, const std::string& message) const {
    int line = node.IsDefined() ? node.Mark().line + 1 : 0;
    if (line > 0) throw ConfigError(fmt::format("{}:{}: {}: {}", source_, line, key, message));
    throw ConfigError(fmt::format("{}: {}: {}", source_, key, message));
  }

  YAML::Node Load(std::string_view text) const {
    try {
      return YAML::Load(std::string(text));
    } catch (const YAML::ParserException& e) {
      throw ConfigError(
          fmt::format("{}:{}:{}: invalid YAML: {}", source_, e.mark.line + 1, e.mark.column + 1, e.msg));
    }
  }

  // Checks `node` is a mapping whose keys are all in `allowed`.
  void ExpectMap(const YAML::Node& node, const std::string& path,
                 std::initializer_list<const char*> allowed) const {
    if (!node.IsMap()) Fail(node, path, "expected a mapping of keys to values");
    std::set<std::string> names(allowed.begin(), allowed.end());
    for (auto it = node.begin(); it != node.end(); ++it) {
      std::string key = it->first.as<std::string>();
      if (!names.count(key)) {
        std::string expected;
        for (const char* n : allowed) expected += std::string(expected.empty() ? "" : ", ") + n;
        Fail(it->first, Join(path, key), fmt::format("unknown key (expected one of: {})", expected));
      }
    }
  }

  template <typename T>
  bool Get(const YAML::Node& parent, const std::string& path, const char* key, T* out) const {
    YAML::Node node = parent[key];
    if (!node.IsDefined()) return false;
    std::string full = Join(path, key);
    if (!node.IsScalar()) Fail(node, full, fmt::format("expected {}", TypeName<T>()));
    try {
      *out = node.as<T>();
    } catch (const YAML::BadConversion&) {
      Fail(node, full, fmt::format("expected {}, got '{}'", TypeName<T>(), node.Scalar()));
    }
    return true;
  }

  // A number of seconds (fractions allowed) as milliseconds, at least `min_ms`.
  void GetSeconds(const YAML::Node& parent, const std::string& path, const char* key, double scale_to_ms,
                  std::int64_t min_ms, std::chrono::milliseconds* out) const {
    double value;
    if (!Get(parent, path, key, &value)) return;
    auto ms = static_cast<std::int64_t>(value * scale_to_ms);
    if (value < 0 || ms < min_ms)
      Fail(parent[key], Join(path, key), fmt::format("must be at least {} ms", min_ms));
    *out = std::chrono::milliseconds(ms);
  }

  template <typename T>
  void GetInRange(const YAML::Node& parent, const std::string& path, const char* key, T min, T max,
                  T* out) const {
    if (!Get(parent, path, key, out)) return;
    if (*out < min || *out > max)
      Fail(parent[key], Join(path, key), fmt::format("must be between {} and {}", min, max));
  }

  static std::string Join(const std::string& path, const std::string& key) {
    return path.empty() ? key : path + "." + key;
  }

  const std::string& source() const { return source_; }

 private:
  template <typename T>
  static const char* TypeName() {
    if constexpr (std::is_same_v<T, bool>)
      return "true or false";
    else if constexpr (std::is_integral_v<T>)
      return "an integer";
    else if constexpr (std::is_floating_point_v<T>)
      return "a number";
    else
      return "a string";
  }
  std::string source_;
};

// YAML to JSON for filter policies: quoted scalars are strings, plain ones are numbers,
// booleans or null when they read as such (as SNS's JSON would have them).
nlohmann::json ToJson(const YAML::Node& node) {
  if (node.IsMap()) {
    nlohmann::json out = nlohmann::json::object();
    for (auto it = node.begin(); it != node.end(); ++it)
      out[it->first.as<std::string>()] = ToJson(it->second);
    return out;
  }
  if (node.IsSequence()) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& item : node) out.push_back(ToJson(item));
    return out;
  }
  if (node.IsNull()) return nullptr;
  const std::string& text = node.Scalar();
  if (node.Tag() != "!") {
    if (text == "true") return true;
    if (text == "false") return false;
    nlohmann::json number = nlohmann::json::parse(text, nullptr, false);
    if (number.is_number()) return number;
  }
  return text;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ConfigError(fmt::format("{}: cannot read file", path));
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

void ParseStage(const Reader& r, const YAML::Node& node, const std::string& path,
                pipeline::StageConfig* stage) {
  r.ExpectMap(node, path,
              {"concurrency", "regular_share", "max_attempts", "retry_base_seconds", "retry_max_seconds",
               "priority_queue", "regular_queue"});
  r.GetInRange(node, path, "concurrency", 1, 100'000, &stage->concurrency);
  r.GetInRange(node, path, "regular_share", 0.0, 0.95, &stage->regular_share);
  r.GetInRange(node, path, "max_attempts", 1, 1000, &stage->max_attempts);
  r.GetSeconds(node, path, "retry_base_seconds", 1000, 1, &stage->retry_base);
  r.GetSeconds(node, path, "retry_max_seconds", 1000, 1, &stage->retry_max);
  r.Get(node, path, "priority_queue", &stage->priority_queue);
  r.Get(node, path, "regular_queue", &stage->regular_queue);
}

void ParseHostPort(const Reader& r, const YAML::Node& node, Config* config) {
  std::string listen = node.as<std::string>();
  auto colon = listen.rfind(':');
  int port = -1;
  if (colon != std::string::npos && colon + 1 < listen.size()) {
    try {
      std::size_t used = 0;
      port = std::stoi(listen.substr(colon + 1), &used);
      if (used != listen.size() - colon - 1) port = -1;
    } catch (const std::exception&) {
      port = -1;
    }
  }
  if (colon == std::string::npos || colon == 0 || port < 0 || port > 65535)
    r.Fail(node, "server.listen", fmt::format("expected host:port such as 127.0.0.1:8080, got '{}'", listen));
  std::string host = listen.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  config->server.host = host;
  config->server.port = port;
}

}  // namespace

static bus::Topology ParseTopologyUnguarded(std::string_view yaml, const std::string& source) {
  Reader r(source);
  YAML::Node root = r.Load(yaml);
  r.ExpectMap(root, "", {"version", "queues"});
  bus::Topology topology;
  if (!r.Get(root, "", "version", &topology.version)) r.Fail(root, "version", "missing");
  YAML::Node queues = root["queues"];
  if (!queues.IsDefined()) r.Fail(root, "queues", "missing");
  if (!queues.IsSequence() || queues.size() == 0)
    r.Fail(queues, "queues", "expected a non-empty list of queues");
  for (std::size_t i = 0; i < queues.size(); ++i) {
    YAML::Node q = queues[i];
    std::string path = fmt::format("queues[{}]", i);
    bus::QueueSpec spec;
    if (q.IsMap() && q["name"].IsScalar()) path = fmt::format("queues[{}] ({})", i, q["name"].Scalar());
    r.ExpectMap(q, path, {"name", "topics", "filter_policy"});
    if (!r.Get(q, path, "name", &spec.name)) r.Fail(q, path + ".name", "missing");
    YAML::Node topics = q["topics"];
    if (!topics.IsDefined()) r.Fail(q, path + ".topics", "missing: a queue needs at least one topic");
    if (!topics.IsSequence() || topics.size() == 0)
      r.Fail(topics, path + ".topics", "expected a non-empty list of topic names");
    for (const auto& topic : topics) {
      if (!topic.IsScalar()) r.Fail(topic, path + ".topics", "topic names are strings");
      spec.topics.push_back(topic.as<std::string>());
    }
    if (YAML::Node policy = q["filter_policy"]; policy.IsDefined()) {
      if (!policy.IsMap())
        r.Fail(policy, path + ".filter_policy", "expected a mapping of attribute names to lists");
      std::string error_key;
      auto parsed = bus::FilterPolicy::Parse(ToJson(policy).dump(), &error_key);
      if (!parsed.ok()) {
        YAML::Node at = policy;
        for (auto it = policy.begin(); it != policy.end(); ++it)
          if (it->first.as<std::string>() == error_key)
            at.reset(it->first);  // reset rebinds; = would overwrite
        r.Fail(at, path + ".filter_policy" + (error_key.empty() ? "" : "." + error_key),
               parsed.status().message());
      }
      spec.filter_policy = std::move(parsed).value();
    }
    topology.queues.push_back(std::move(spec));
  }
  if (auto s = bus::ValidateTopology(topology); !s.ok()) r.Fail(queues, "queues", s.message());
  return topology;
}

bus::Topology LoadTopologyFile(const std::string& path) { return ParseTopology(ReadFile(path), path); }

// `gateway:` (docs/gateway.md has every key).
static void ParseGateway(const Reader& r, const YAML::Node& gw,
                         const std::function<std::string(const std::string&)>& resolve, Config* config) {
  gateway::GatewayConfig& g = config->gateway;
  r.ExpectMap(gw, "gateway",
              {"enabled", "npm_prefix", "pypi_prefix", "public_url", "metadata_ttl_seconds",
               "stale_if_error_seconds", "metadata_cache_mb", "cache_folder", "cache_max_mb",
               "upstream_timeout_seconds", "policy", "trusted_proxies"});
  if (YAML::Node proxies = gw["trusted_proxies"]; proxies.IsDefined() && !proxies.IsNull()) {
    if (!proxies.IsSequence())
      r.Fail(proxies, "gateway.trusted_proxies",
             "expected a list of IP addresses (e.g. [127.0.0.1, \"::1\"])");
    for (const auto& item : proxies) {
      if (!item.IsScalar() || !adoption::NetworkOf(item.Scalar()))
        r.Fail(item, "gateway.trusted_proxies",
               fmt::format("'{}' is not an IP address", item.IsScalar() ? item.Scalar() : std::string("?")));
      g.trusted_proxies.push_back(item.Scalar());
    }
  }
  r.Get(gw, "gateway", "enabled", &config->gateway_enabled);
  for (const char* key : {"npm_prefix", "pypi_prefix"}) {
    std::string& prefix = std::string_view(key) == "npm_prefix" ? g.npm_prefix : g.pypi_prefix;
    if (!r.Get(gw, "gateway", key, &prefix) || prefix.empty()) continue;
    if (!prefix.starts_with('/') || !prefix.ends_with('/') || prefix == "/" || prefix.starts_with("/v1/") ||
        prefix.find_first_of(" ?#%") != std::string::npos)
      r.Fail(gw[key], std::string("gateway.") + key,
             "expected a path that starts and ends with '/', such as /registry/npm/ (not / nor below /v1/)");
  }
  if (!g.npm_prefix.empty() && g.npm_prefix == g.pypi_prefix)
    r.Fail(gw, "gateway", "npm_prefix and pypi_prefix must differ");
  if (r.Get(gw, "gateway", "public_url", &g.public_url) && !g.public_url.empty() &&
      !g.public_url.starts_with("http://") && !g.public_url.starts_with("https://"))
    r.Fail(gw["public_url"], "gateway.public_url", "expected an http:// or https:// URL, or empty");
  double seconds = static_cast<double>(g.metadata_ttl.count());
  r.GetInRange(gw, "gateway", "metadata_ttl_seconds", 0.0, 86400.0 * 30, &seconds);
  g.metadata_ttl = std::chrono::seconds(static_cast<std::int64_t>(seconds));
  seconds = static_cast<double>(g.stale_if_error.count());
  r.GetInRange(gw, "gateway", "stale_if_error_seconds", 0.0, 86400.0 * 365, &seconds);
  g.stale_if_error = std::chrono::seconds(static_cast<std::int64_t>(seconds));
  seconds = static_cast<double>(g.upstream_timeout.count()) / 1000;
  r.GetInRange(gw, "gateway", "upstream_timeout_seconds", 1.0, 3600.0, &seconds);
  g.upstream_timeout = std::chrono::milliseconds(static_cast<std::int64_t>(seconds * 1000));
  double mb = static_cast<double>(g.metadata_cache_bytes >> 20);
  r.GetInRange(gw, "gateway", "metadata_cache_mb", 0.0, 1'048'576.0, &mb);
  g.metadata_cache_bytes = static_cast<std::size_t>(mb * (1 << 20));
  mb = static_cast<double>(g.files.max_bytes >> 20);
  r.GetInRange(gw, "gateway", "cache_max_mb", 0.0, 1e9, &mb);
  g.files.max_bytes = static_cast<std::uint64_t>(mb * (1 << 20));
  if (r.Get(gw, "gateway", "cache_folder", &g.files.folder) && !g.files.folder.empty())
    g.files.folder = resolve(g.files.folder);

  YAML::Node policy = gw["policy"];
  if (!policy.IsDefined()) return;
  r.ExpectMap(policy, "gateway.policy",
              {"mode", "malicious", "typosquat", "min_score", "below_min_score", "min_release_age_hours",
               "unscored", "allow", "deny"});
  gateway::Policy& p = g.policy;
  std::string text;
  if (r.Get(policy, "gateway.policy", "mode", &text)) {
    if (text != "enforce" && text != "monitor")
      r.Fail(policy["mode"], "gateway.policy.mode",
             fmt::format("expected enforce or monitor, got '{}'", text));
    p.monitor = text == "monitor";
  }
  for (auto [key, action] : {std::pair<const char*, gateway::Action*>{"malicious", &p.malicious},
                             {"typosquat", &p.typosquat},
                             {"below_min_score", &p.below_min_score}}) {
    if (!r.Get(policy, "gateway.policy", key, &text)) continue;
    auto parsed = gateway::ParseAction(text);
    if (!parsed)
      r.Fail(policy[key], std::string("gateway.policy.") + key,
             fmt::format("expected block, warn or off, got '{}'", text));
    *action = *parsed;
  }
  if (YAML::Node min = policy["min_score"]; min.IsDefined() && !min.IsNull()) {
    double score = 0;
    r.GetInRange(policy, "gateway.policy", "min_score", 0.0, 10.0, &score);
    p.min_score = score;
  }
  r.GetInRange(policy, "gateway.policy", "min_release_age_hours", 0.0, 87600.0, &p.min_release_age_hours);
  if (r.Get(policy, "gateway.policy", "unscored", &text)) {
    if (text != "allow" && text != "deny")
      r.Fail(policy["unscored"], "gateway.policy.unscored",
             fmt::format("expected allow or deny, got '{}'", text));
    p.deny_unscored = text == "deny";
  }
  for (auto [key, list] :
       {std::pair<const char*, std::vector<gateway::ListEntry>*>{"allow", &p.allow}, {"deny", &p.deny}}) {
    YAML::Node entries = policy[key];
    if (!entries.IsDefined() || entries.IsNull()) continue;
    std::string path = std::string("gateway.policy.") + key;
    if (!entries.IsSequence())
      r.Fail(entries, path, "expected a list of {package: <name pattern or purl>, reason: <why>}");
    for (const auto& item : entries) {
      r.ExpectMap(item, path, {"package", "reason"});
      std::string package, reason;
      if (!r.Get(item, path, "package", &package) || package.empty())
        r.Fail(item, path + ".package", "each entry names a package (a name pattern or a purl)");
      if (!r.Get(item, path, "reason", &reason) || reason.empty())
        r.Fail(item, path + ".reason", "each entry says why (it is logged and shown to the client)");
      auto entry = gateway::ParseListEntry(package, reason);
      if (!entry.ok()) r.Fail(item["package"], path + ".package", entry.status().message());
      list->push_back(std::move(entry).value());
    }
  }
}

static Config ParseConfigUnguarded(std::string_view yaml, const std::string& source, const std::string& base_dir) {
  Reader r(source);
  YAML::Node root = r.Load(yaml);
  Config config;
  config.source = source;
  if (root.IsNull()) root.reset(YAML::Node(YAML::NodeType::Map));
  r.ExpectMap(root, "",
              {"server", "api", "database", "transport", "workers", "stages", "reconciler", "changes",
               "upstreams", "secrets", "scoring", "log", "github", "gateway", "adoption", "index"});
  auto resolve = [&](const std::string& path) {
    if (path.empty() || path.front() == '/' || base_dir.empty()) return path;
    return (std::filesystem::path(base_dir) / path).string();
  };

  if (YAML::Node server = root["server"]; server.IsDefined()) {
    r.ExpectMap(server, "server",
                {"listen", "threads", "max_header_bytes", "max_body_bytes", "request_timeout_seconds",
                 "max_connections", "shutdown_grace_seconds", "shutdown_delay_seconds", "web_page"});
    r.Get(server, "server", "web_page", &config.web_page);
    std::string listen;
    if (r.Get(server, "server", "listen", &listen)) ParseHostPort(r, server["listen"], &config);
    r.GetInRange(server, "server", "threads", 1, 64, &config.server.threads);
    int header_bytes = static_cast<int>(config.server.max_header_bytes);
    r.GetInRange(server, "server", "max_header_bytes", 1024, static_cast<int>(api::kMaxHeaderBytesLimit),
                 &header_bytes);
    config.server.max_header_bytes = static_cast<std::size_t>(header_bytes);
    int body_bytes = static_cast<int>(config.server.max_body_bytes);
    r.GetInRange(server, "server", "max_body_bytes", 1024, 256 << 20, &body_bytes);
    config.server.max_body_bytes = static_cast<std::size_t>(body_bytes);
    r.GetSeconds(server, "server", "request_timeout_seconds", 1000, 100, &config.server.request_timeout);
    config.server.write_timeout = config.server.request_timeout;
    r.GetInRange(server, "server", "max_connections", 1, 1'000'000, &config.server.max_connections);
    r.GetSeconds(server, "server", "shutdown_grace_seconds", 1000, 0, &config.shutdown_grace);
    r.GetSeconds(server, "server", "shutdown_delay_seconds", 1000, 0, &config.shutdown_delay);
    if (config.shutdown_delay > std::chrono::minutes(10))
      r.Fail(server["shutdown_delay_seconds"], "server.shutdown_delay_seconds", "must be at most 600");
  }

  if (YAML::Node api = root["api"]; api.IsDefined()) {
    r.ExpectMap(api, "api",
                {"default_wait_seconds", "max_wait_seconds", "max_query_packages", "max_waiting_requests",
                 "not_found_recheck_seconds", "unlisted_version_recheck_seconds", "retry_after_seconds",
                 "report_cache_entries"});
    r.GetSeconds(api, "api", "default_wait_seconds", 1000, 0, &config.api.default_wait);
    r.GetSeconds(api, "api", "max_wait_seconds", 1000, 0, &config.api.max_wait);
    if (config.api.default_wait > config.api.max_wait)
      r.Fail(api, "api.default_wait_seconds", "must not be above api.max_wait_seconds");
    int max_query = static_cast<int>(config.api.max_query_packages);
    r.GetInRange(api, "api", "max_query_packages", 1, 100'000, &max_query);
    config.api.max_query_packages = static_cast<std::size_t>(max_query);
    int max_waiting = static_cast<int>(config.lookup.max_waiting);
    r.GetInRange(api, "api", "max_waiting_requests", 1, 10'000'000, &max_waiting);
    config.lookup.max_waiting = static_cast<std::size_t>(max_waiting);
    r.GetSeconds(api, "api", "not_found_recheck_seconds", 1000, 0, &config.lookup.not_found_recheck);
    r.GetSeconds(api, "api", "unlisted_version_recheck_seconds", 1000, 0,
                 &config.lookup.unlisted_version_recheck);
    r.GetInRange(api, "api", "retry_after_seconds", 1, 3600, &config.api.retry_after_seconds);
    int cache_entries = static_cast<int>(config.lookup.report_cache_entries);
    r.GetInRange(api, "api", "report_cache_entries", 1, 10'000'000, &cache_entries);
    config.lookup.report_cache_entries = static_cast<std::size_t>(cache_entries);
  }

  if (YAML::Node db = root["database"]; db.IsDefined()) {
    r.ExpectMap(
        db, "database",
        {"kind", "path", "postgres_url_env", "read_connections", "cache_mb_per_connection", "synchronous"});
    std::string kind;
    if (r.Get(db, "database", "kind", &kind)) {
      if (kind == "sqlite")
        config.database.kind = store::StoreKind::kSqlite;
      else if (kind == "postgres")
        config.database.kind = store::StoreKind::kPostgres;
      else
        r.Fail(db["kind"], "database.kind", "expected sqlite or postgres");
    }
    // The connection string holds a password: the file names the variable that holds it.
    if (r.Get(db, "database", "postgres_url_env", &config.database_url_env) &&
        config.database_url_env.empty())
      r.Fail(db["postgres_url_env"], "database.postgres_url_env", "must name an environment variable");
    if (config.database.kind == store::StoreKind::kPostgres && !config.database_url_env.empty()) {
      const char* url = std::getenv(config.database_url_env.c_str());
      if (!url || !*url)
        r.Fail(db["kind"], "database.kind",
               fmt::format("postgres: the environment variable {} (database.postgres_url_env) is not set; it "
                           "holds the connection string, e.g. postgresql://pkgtrust@db.internal/pkgtrust",
                           config.database_url_env));
      else
        config.database.postgres_url = url;
    }
    if (r.Get(db, "database", "path", &config.database.path)) {
      if (config.database.path.empty()) r.Fail(db["path"], "database.path", "must not be empty");
      if (config.database.path == ":memory:" || config.database.path.starts_with("file:"))
        r.Fail(db["path"], "database.path", "expected a file path (the writer and readers share one file)");
      config.database.path = resolve(config.database.path);
    }
    r.GetInRange(db, "database", "read_connections", 1, 64, &config.database.read_connections);
    r.GetInRange(db, "database", "cache_mb_per_connection", 1, 4096,
                 &config.database.cache_mb_per_connection);
    std::string sync;
    if (r.Get(db, "database", "synchronous", &sync)) {
      if (sync != "normal" && sync != "full")
        r.Fail(db["synchronous"], "database.synchronous", "expected normal or full");
      config.database.synchronous_full = sync == "full";
    }
  }

  std::string topology_path;
  if (YAML::Node tr = root["transport"]; tr.IsDefined()) {
    r.ExpectMap(tr, "transport", {"kind", "topology", "visibility_timeout_seconds", "max_receives", "sqs"});
    if (r.Get(tr, "transport", "kind", &config.transport_kind) && config.transport_kind != "memory" &&
        config.transport_kind != "sqs")
      r.Fail(tr["kind"], "transport.kind",
             fmt::format("expected memory or sqs, got '{}'", config.transport_kind));
    r.Get(tr, "transport", "topology", &topology_path);
    r.GetSeconds(tr, "transport", "visibility_timeout_seconds", 1000, 1,
                 &config.memory_transport.visibility_timeout);
    if (config.memory_transport.visibility_timeout > std::chrono::hours(12))
      r.Fail(tr["visibility_timeout_seconds"], "transport.visibility_timeout_seconds",
             "must be at most 43200 (12 hours, SQS's limit)");
    r.GetInRange(tr, "transport", "max_receives", 0, 1000, &config.memory_transport.max_receives);
    if (YAML::Node sqs = tr["sqs"]; sqs.IsDefined()) {
      const std::string path = "transport.sqs";
      r.ExpectMap(
          sqs, path,
          {"region", "endpoint", "sns_endpoint", "sqs_endpoint", "name_prefix", "raw_message_delivery",
           "batching", "wait_time_seconds", "prefetch", "max_extension_seconds", "publish_requests_per_topic",
           "http_connections", "subscription_check_seconds"});
      bus::SqsTransportConfig& c = config.sqs_transport;
      r.Get(sqs, path, "region", &c.region);
      std::string endpoint;
      if (r.Get(sqs, path, "endpoint", &endpoint)) c.sns_endpoint = c.sqs_endpoint = endpoint;
      r.Get(sqs, path, "sns_endpoint", &c.sns_endpoint);
      r.Get(sqs, path, "sqs_endpoint", &c.sqs_endpoint);
      for (const char* key : {"endpoint", "sns_endpoint", "sqs_endpoint"})
        if (sqs[key].IsDefined() && !sqs[key].Scalar().empty() && !sqs[key].Scalar().starts_with("http://") &&
            !sqs[key].Scalar().starts_with("https://"))
          r.Fail(sqs[key], path + "." + key, "expected an http:// or https:// URL");
      if (r.Get(sqs, path, "name_prefix", &c.name_prefix)) {
        for (char ch : c.name_prefix)
          if (!std::isalnum(static_cast<unsigned char>(ch)) && ch != '-' && ch != '_')
            r.Fail(sqs["name_prefix"], path + ".name_prefix", "may hold only letters, digits, '-' and '_'");
        if (c.name_prefix.size() > 30) r.Fail(sqs["name_prefix"], path + ".name_prefix", "at most 30 characters");
      }
      r.Get(sqs, path, "raw_message_delivery", &c.raw_message_delivery);
      r.Get(sqs, path, "batching", &c.batching);
      r.GetInRange(sqs, path, "wait_time_seconds", 0, 20, &c.wait_time_seconds);
      r.GetInRange(sqs, path, "prefetch", 1, 1000, &c.prefetch);
      int max_extension = static_cast<int>(c.max_extension.count());
      r.GetInRange(sqs, path, "max_extension_seconds", 0, 12 * 3600, &max_extension);
      c.max_extension = std::chrono::seconds(max_extension);
      r.GetInRange(sqs, path, "publish_requests_per_topic", 1, 64, &c.publish_requests_per_topic);
      r.GetInRange(sqs, path, "http_connections", 1, 1024, &c.http_connections);
      int check = static_cast<int>(c.subscription_check_interval.count());
      r.GetInRange(sqs, path, "subscription_check_seconds", 1, 3600, &check);
      c.subscription_check_interval = std::chrono::seconds(check);
    }
  }
  config.sqs_transport.visibility_timeout = std::chrono::duration_cast<std::chrono::seconds>(
      config.memory_transport.visibility_timeout + std::chrono::milliseconds(999));
  config.sqs_transport.max_receives = config.memory_transport.max_receives;

  if (YAML::Node workers = root["workers"]; workers.IsDefined()) {
    r.ExpectMap(workers, "workers",
                {"threads", "http_threads", "http_connections_per_host", "upstream_body_budget_mb"});
    int budget_mb = static_cast<int>(config.upstream_body_budget_bytes >> 20);
    r.GetInRange(workers, "workers", "upstream_body_budget_mb", 16, 65536, &budget_mb);
    config.upstream_body_budget_bytes = static_cast<std::size_t>(budget_mb) << 20;
    r.GetInRange(workers, "workers", "threads", 1, 256, &config.worker_threads);
    r.GetInRange(workers, "workers", "http_threads", 1, 64, &config.http_threads);
    r.GetInRange(workers, "workers", "http_connections_per_host", 1, 10'000,
                 &config.http_connections_per_host);
  }

  if (YAML::Node stages = root["stages"]; stages.IsDefined()) {
    r.ExpectMap(stages, "stages", {"registry", "repository", "scoring"});
    for (auto& stage : config.stages)
      if (YAML::Node node = stages[stage.name]; node.IsDefined())
        ParseStage(r, node, "stages." + stage.name, &stage);
  }

  if (YAML::Node changes = root["changes"]; changes.IsDefined()) {
    r.ExpectMap(changes, "changes",
                {"log_max_changes", "log_max_age_hours", "max_subscribers", "stall_timeout_seconds",
                 "poll_interval_ms"});
    // The log is read at least this often. On SQLite this is how other processes' changes
    // arrive; on PostgreSQL a notification wakes the stream at once and the poll is a backstop.
    int poll_ms = static_cast<int>(config.change_stream.poll_interval.count());
    r.GetInRange(changes, "changes", "poll_interval_ms", 10, 600'000, &poll_ms);
    config.change_stream.poll_interval = std::chrono::milliseconds(poll_ms);
    int max_subscribers = static_cast<int>(config.api.max_subscribers);
    r.GetInRange(changes, "changes", "max_subscribers", 1, 1'000'000, &max_subscribers);
    config.api.max_subscribers = static_cast<std::size_t>(max_subscribers);
    r.GetSeconds(changes, "changes", "stall_timeout_seconds", 1000, 100, &config.server.stream_write_timeout);
    r.GetInRange(changes, "changes", "log_max_changes", std::int64_t{0}, std::int64_t{1'000'000'000},
                 &config.reconciler.change_log_max_changes);
    r.GetSeconds(changes, "changes", "log_max_age_hours", 3600'000, 0, &config.reconciler.change_log_max_age);
  }

  if (YAML::Node rec = root["reconciler"]; rec.IsDefined()) {
    r.ExpectMap(rec, "reconciler",
                {"interval_seconds", "stuck_after_seconds", "refresh_after_hours",
                 "failed_retry_base_seconds", "failed_retry_max_seconds", "batch_limit"});
    r.GetSeconds(rec, "reconciler", "interval_seconds", 1000, 1000, &config.reconciler.interval);
    r.GetSeconds(rec, "reconciler", "stuck_after_seconds", 1000, 1000, &config.reconciler.stuck_after);
    r.GetSeconds(rec, "reconciler", "refresh_after_hours", 3600'000, 0, &config.reconciler.refresh_after);
    std::chrono::milliseconds base{0}, max{0};
    r.GetSeconds(rec, "reconciler", "failed_retry_base_seconds", 1000, 1000, &base);
    r.GetSeconds(rec, "reconciler", "failed_retry_max_seconds", 1000, 1000, &max);
    for (auto& stage : config.stages) {
      if (base.count() > 0) stage.failed_retry_base_ms = base.count();
      if (max.count() > 0) stage.failed_retry_max_ms = max.count();
    }
    int limit = static_cast<int>(config.reconciler.batch_limit);
    r.GetInRange(rec, "reconciler", "batch_limit", 1, 1'000'000, &limit);
    config.reconciler.batch_limit = static_cast<std::size_t>(limit);
  }

  if (YAML::Node up = root["upstreams"]; up.IsDefined()) {
    r.ExpectMap(
        up, "upstreams",
        {"npm", "npm_downloads", "pypi", "pypi_files", "crates", "maven", "go", "github", "redirect_hosts"});
    for (auto it = up.begin(); it != up.end(); ++it) {
      std::string name = it->first.as<std::string>();
      if (name == "redirect_hosts") {
        YAML::Node hosts = it->second;  // a copy: the iterator's pair is a temporary
        if (!hosts.IsSequence()) r.Fail(hosts, "upstreams.redirect_hosts", "expected a list of host names");
        for (const auto& host : hosts) {
          if (!host.IsScalar() || host.Scalar().empty() || host.Scalar().find_first_of("/: ") != std::string::npos)
            r.Fail(host, "upstreams.redirect_hosts", "each entry is a host name, such as cdn.example.com");
          config.redirect_hosts.push_back(host.Scalar());
        }
        continue;
      }
      std::string url;
      r.Get(up, "upstreams", name.c_str(), &url);
      if (!url.starts_with("http://") && !url.starts_with("https://"))
        r.Fail(it->second, "upstreams." + name,
               fmt::format("expected an http:// or https:// base URL, got '{}'", url));
      while (url.ends_with('/')) url.pop_back();
      config.upstreams[name] = url;
    }
  }

  if (YAML::Node gh = root["github"]; gh.IsDefined()) {
    r.ExpectMap(gh, "github", {"repository_ttl_hours", "graphql_batch", "batch_wait_ms"});
    r.GetInRange(gh, "github", "graphql_batch", 0, 100, &config.repository_sharing.graphql_batch);
    int wait_ms = static_cast<int>(config.repository_sharing.batch_wait.count());
    r.GetInRange(gh, "github", "batch_wait_ms", 0, 5000, &wait_ms);
    config.repository_sharing.batch_wait = std::chrono::milliseconds(wait_ms);
    double hours =
        std::chrono::duration<double, std::ratio<3600>>(config.repository_sharing.repository_ttl).count();
    if (r.Get(gh, "github", "repository_ttl_hours", &hours)) {
      if (hours < 0 || hours > 720)
        r.Fail(gh["repository_ttl_hours"], "github.repository_ttl_hours", "must be from 0 to 720 (30 days)");
      config.repository_sharing.repository_ttl =
          std::chrono::milliseconds(static_cast<std::int64_t>(hours * 3'600'000));
    }
  }

  if (YAML::Node sec = root["secrets"]; sec.IsDefined()) {
    r.ExpectMap(sec, "secrets",
                {"github_token_env", "admin_token_env", "feed_token_env", "gateway_token_env"});
    r.Get(sec, "secrets", "gateway_token_env", &config.secrets.gateway_token_env);
    r.Get(sec, "secrets", "github_token_env", &config.secrets.github_token_env);
    r.Get(sec, "secrets", "admin_token_env", &config.secrets.admin_token_env);
    r.Get(sec, "secrets", "feed_token_env", &config.secrets.feed_token_env);
  }

  if (YAML::Node scoring = root["scoring"]; scoring.IsDefined()) {
    r.ExpectMap(scoring, "scoring", {"popular", "internal_names", "young_package_days", "young_version_hours"});
    if (YAML::Node popular = scoring["popular"]; popular.IsDefined()) {
      r.ExpectMap(popular, "scoring.popular", {"npm", "pypi"});
      for (const char* eco : {"npm", "pypi"}) {
        std::string path;
        if (!r.Get(popular, "scoring.popular", eco, &path)) continue;
        if (path.empty())
          r.Fail(popular[eco], std::string("scoring.popular.") + eco, "expected shipped, off or a file path");
        config.scoring.popular_lists[eco] = path == "shipped" || path == "off" ? path : resolve(path);
      }
    }
    if (YAML::Node names = scoring["internal_names"]; names.IsDefined()) {
      if (!names.IsSequence()) r.Fail(names, "scoring.internal_names", "expected a list of name patterns");
      for (const auto& item : names) {
        if (!item.IsScalar() || item.Scalar().empty() || item.Scalar().size() > 256)
          r.Fail(item, "scoring.internal_names", "each pattern is a non-empty string such as \"@acme/*\"");
        config.scoring.internal_names.push_back(item.Scalar());
      }
    }
    r.GetInRange(scoring, "scoring", "young_package_days", 0.0, 3650.0, &config.scoring.young_package_days);
    r.GetInRange(scoring, "scoring", "young_version_hours", 0.0, 87600.0, &config.scoring.young_version_hours);
  }

  if (YAML::Node gw = root["gateway"]; gw.IsDefined()) ParseGateway(r, gw, resolve, &config);

  if (YAML::Node a = root["adoption"]; a.IsDefined()) {
    adoption::AdoptionConfig& c = config.adoption;
    r.ExpectMap(a, "adoption",
                {"enabled", "process", "retention_days", "exposure_days", "flush_interval_ms",
                 "process_interval_ms", "step_rows"});
    r.Get(a, "adoption", "process", &c.process);
    r.GetInRange(a, "adoption", "step_rows", std::size_t{100}, std::size_t{1'000'000}, &c.step_rows);
    r.Get(a, "adoption", "enabled", &c.enabled);
    r.GetInRange(a, "adoption", "retention_days", 1, 3650, &c.retention_days);
    r.GetInRange(a, "adoption", "exposure_days", 1, 3650, &c.exposure_days);
    if (c.exposure_days > c.retention_days)
      r.Fail(a, "adoption.exposure_days",
             fmt::format("{} is more than retention_days ({}): the origins of older days are gone",
                         c.exposure_days, c.retention_days));
    int ms = static_cast<int>(c.flush_interval.count());
    r.GetInRange(a, "adoption", "flush_interval_ms", 10, 60'000, &ms);
    c.flush_interval = std::chrono::milliseconds(ms);
    ms = static_cast<int>(c.process_interval.count());
    r.GetInRange(a, "adoption", "process_interval_ms", 10, 3'600'000, &ms);
    c.process_interval = std::chrono::milliseconds(ms);
  }
  config.adoption.min_score = config.gateway.policy.min_score.value_or(0);

  if (YAML::Node index = root["index"]; index.IsDefined()) {
    Config::Index& c = config.index;
    r.ExpectMap(index, "index",
                {"popular", "lists", "top", "max_pending", "github_reserve_share", "interval_ms"});
    r.Get(index, "index", "popular", &c.popular);
    if (YAML::Node lists = index["lists"]; lists.IsDefined()) {
      r.ExpectMap(lists, "index.lists", {"npm", "pypi", "crates", "maven", "go"});
      for (const char* eco : {"npm", "pypi", "crates", "maven", "go"}) {
        std::string source;
        if (!r.Get(lists, "index.lists", eco, &source)) continue;
        bool shipped_exists = std::string_view(eco) == "npm" || std::string_view(eco) == "pypi";
        if (source == "shipped" && !shipped_exists)
          r.Fail(lists[eco], std::string("index.lists.") + eco,
                 "no list is shipped for this ecosystem: give a file (name<TAB>downloads or name<TAB>rank) "
                 "or off");
        c.lists[eco] = source == "shipped" || source == "off" ? source : resolve(source);
      }
    }
    r.GetInRange(index, "index", "top", std::size_t{0}, std::size_t{10'000'000}, &c.top);
    r.GetInRange(index, "index", "max_pending", std::int64_t{1}, std::int64_t{1'000'000}, &c.max_pending);
    r.GetInRange(index, "index", "github_reserve_share", 0.0, 0.95, &c.github_reserve_share);
    int ms = static_cast<int>(c.interval.count());
    r.GetInRange(index, "index", "interval_ms", 10, 3'600'000, &ms);
    c.interval = std::chrono::milliseconds(ms);
  }

  if (YAML::Node log = root["log"]; log.IsDefined()) {
    r.ExpectMap(log, "log", {"level"});
    std::string level;
    if (r.Get(log, "log", "level", &level) && !core::ParseLogLevel(level, &config.log_level))
      r.Fail(log["level"], "log.level",
             fmt::format("expected debug, info, warn, error or off, got '{}'", level));
  }

  // The embedded config's "topology.yaml" is the embedded topology.
  if (topology_path.empty() || source == kEmbeddedSource) {
    config.topology_source = "<embedded topology>";
    config.topology = ParseTopology(kEmbeddedTopologyYaml, config.topology_source);
  } else {
    config.topology_source = resolve(topology_path);
    config.topology = LoadTopologyFile(config.topology_source);
  }
  // Every stage reads queues the topology must define.
  for (const auto& stage : config.stages) {
    for (const std::string* queue : {&stage.priority_queue, &stage.regular_queue}) {
      if (!config.topology.FindQueue(*queue))
        throw ConfigError(fmt::format("{}: stages.{}: queue '{}' is not in the topology {}", source,
                                      stage.name, *queue, config.topology_source));
    }
  }
  return config;
}

// Whatever the file holds, the answer is a config or one ConfigError naming the file: the
// YAML and JSON libraries' own exceptions (a node of an unexpected kind, invalid UTF-8 in a
// filter policy) are turned into one.
template <typename F>
auto Guarded(const std::string& source, F&& parse) -> decltype(parse()) {
  try {
    return parse();
  } catch (const ConfigError&) {
    throw;
  } catch (const YAML::Exception& e) {
    throw ConfigError(fmt::format("{}:{}: invalid YAML: {}", source, e.mark.line + 1, e.msg));
  } catch (const nlohmann::json::exception& e) {
    throw ConfigError(fmt::format("{}: a filter policy or value cannot be read: {}", source, e.what()));
  }
}

bus::Topology ParseTopology(std::string_view yaml, const std::string& source) {
  return Guarded(source, [&] { return ParseTopologyUnguarded(yaml, source); });
}

Config ParseConfig(std::string_view yaml, const std::string& source, const std::string& base_dir) {
  return Guarded(source, [&] { return ParseConfigUnguarded(yaml, source, base_dir); });
}

Config LoadConfigFile(const std::string& path) {
  std::string base = std::filesystem::path(path).parent_path().string();
  return ParseConfig(ReadFile(path), path, base);
}

// The embedded file behaves as config/pkgtrust.yaml read from the current folder (a
// checkout): its relative paths resolve from there.
Config DefaultConfig() {
  Config config = ParseConfig(kEmbeddedConfigYaml, kEmbeddedSource, "config");
  // The embedded defaults serve `pkgtrust dev` and the commands run without --config: a
  // development database starts empty. `serve --config` with the shipped file backfills.
  config.index.popular = false;
  return config;
}

core::Result<std::vector<pipeline::BackfillList>> LoadBackfillLists(const Config::Index& index) {
  std::vector<pipeline::BackfillList> lists;
  std::vector<pipeline::BackfillList> shipped;
  for (const auto& [name, source] : index.lists) {
    if (source == "off") continue;
    auto parsed = core::ParseEcosystemOrError(name);
    if (!parsed.ok())
      return core::Status::InvalidArgument(
          fmt::format("index.lists.{}: {}", name, parsed.status().message()));
    core::Ecosystem eco = *parsed;
    if (source == "shipped") {
      if (shipped.empty()) shipped = pipeline::ShippedPopularLists();
      for (const pipeline::BackfillList& list : shipped)
        if (list.ecosystem == eco) lists.push_back(list);
      continue;
    }
    auto list = pipeline::ReadPopularList(eco, source);
    if (!list.ok())
      return core::Status::InvalidArgument(fmt::format("index.lists.{}: {}", name, list.status().message()));
    lists.push_back(std::move(list).value());
  }
  return lists;
}

core::Status LoadModelOptions(const ScoringConfig& config, scoring::PopularPackages* popular,
                              scoring::ModelOptions* options) {
  for (const auto& [name, source] : config.popular_lists) {
    auto parsed = core::ParseEcosystemOrError(name);
    if (!parsed.ok())
      return core::Status::InvalidArgument(
          fmt::format("index.lists.{}: {}", name, parsed.status().message()));
    core::Ecosystem eco = *parsed;
    if (source == "off") continue;
    core::Status s = source == "shipped" ? popular->LoadShipped(eco) : popular->Load(eco, source);
    if (!s.ok()) return core::Status::InvalidArgument(fmt::format("scoring.popular.{}: {}", name, s.message()));
  }
  options->popular = popular;
  options->internal_names = config.internal_names;
  options->young_package_days = config.young_package_days;
  options->young_version_hours = config.young_version_hours;
  return core::Status::Ok();
}

}  // namespace pkgtrust::app
