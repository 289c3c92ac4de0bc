#include "app/config.hpp"

#include <catch2/catch.hpp>

#include "support/test_support.hpp"

using namespace pkgtrust;

namespace {

const std::string kSource = PKGTRUST_SOURCE_DIR;

// Loads `yaml` written to a temp file; returns the error message, or "" if it loaded.
std::string ConfigError(const std::string& yaml, const std::string& topology = "") {
  testing::TempDir dir;
  testing::WriteText(dir.File("pkgtrust.yaml"), yaml);
  if (!topology.empty()) testing::WriteText(dir.File("topology.yaml"), topology);
  try {
    app::LoadConfigFile(dir.File("pkgtrust.yaml"));
    return "";
  } catch (const app::ConfigError& e) {
    std::string message = e.what();
    // Make the temp folder anonymous for matching.
    auto pos = message.find(dir.path().string());
    if (pos != std::string::npos) message.replace(pos, dir.path().string().size() + 1, "");
    return message;
  }
}

std::string TopologyError(const std::string& topology) {
  return ConfigError("transport:\n  topology: topology.yaml\n", topology);
}

}  // namespace

TEST_CASE("the shipped config files load and equal the embedded defaults", "[app][config]") {
  app::Config shipped = app::LoadConfigFile(kSource + "/config/pkgtrust.yaml");
  app::Config embedded = app::DefaultConfig();
  CHECK(shipped.server.host == "127.0.0.1");
  CHECK(shipped.server.port == 8080);
  CHECK(shipped.transport_kind == "memory");
  CHECK(shipped.topology_source == kSource + "/config/topology.yaml");
  CHECK(shipped.reconciler.interval == std::chrono::hours(1));
  CHECK(shipped.reconciler.refresh_after == std::chrono::hours(168));
  CHECK(shipped.upstreams.at("npm") == "https://registry.npmjs.org");
  CHECK(shipped.upstreams.size() == 8);
  REQUIRE(shipped.stages.size() == 3);
  CHECK(shipped.stages[0].concurrency == 64);
  CHECK(shipped.database.cache_mb_per_connection == 8);
  CHECK(shipped.lookup.report_cache_entries == 10'000);
  CHECK(embedded.server.port == shipped.server.port);
  CHECK(embedded.upstreams == shipped.upstreams);
  CHECK(embedded.stages[1].concurrency == shipped.stages[1].concurrency);
  CHECK(embedded.topology.queues.size() == shipped.topology.queues.size());
  // Both use the popular-package lists compiled into the binary: no path to resolve.
  CHECK(shipped.scoring.popular_lists.at("npm") == "shipped");
  CHECK(embedded.scoring.popular_lists.at("pypi") == "shipped");
  CHECK(embedded.scoring.internal_names.empty());
  CHECK(embedded.scoring.young_package_days == 7);
  // The popular-package backfill: on in the shipped file (serve), off in the embedded
  // defaults (pkgtrust dev, commands without --config), both shipped lists.
  CHECK(shipped.index.popular);
  CHECK_FALSE(embedded.index.popular);
  CHECK(shipped.index.lists == std::map<std::string, std::string>{{"npm", "shipped"}, {"pypi", "shipped"}});
  CHECK(shipped.index.max_pending == 200);
}

TEST_CASE("index: the backfill's keys are checked, its lists loaded", "[app][config]") {
  CHECK_FALSE(app::Config().index.popular);  // a config file without index: leaves it off
  CHECK_THAT(ConfigError("index:\n  lists:\n    crates: shipped\n"), Catch::Contains("no list is shipped"));
  CHECK_THAT(ConfigError("index:\n  lists:\n    cobol: x.tsv\n"), Catch::Contains("cobol"));
  CHECK_THAT(ConfigError("index:\n  max_pending: 0\n"), Catch::Contains("index.max_pending"));
  CHECK_THAT(ConfigError("index:\n  github_reserve_share: 0.96\n"),
             Catch::Contains("index.github_reserve_share"));
  CHECK_THAT(ConfigError("index:\n  popular: maybe\n"), Catch::Contains("index.popular"));
  testing::TempDir dir;
  testing::WriteText(dir.File("crates.tsv"), "name\tdownloads\nsyn\t800\nserde\t900\n");
  testing::WriteText(dir.File("pkgtrust.yaml"),
                     "index:\n  popular: true\n  lists:\n    pypi: off\n    crates: crates.tsv\n");
  app::Config config = app::LoadConfigFile(dir.File("pkgtrust.yaml"));
  CHECK(config.index.popular);
  CHECK(config.index.lists.at("crates") == dir.File("crates.tsv"));  // relative to the config file
  auto lists = app::LoadBackfillLists(config.index);
  REQUIRE(lists.ok());
  REQUIRE(lists->size() == 2);  // crates and npm (shipped); pypi off
  std::map<core::Ecosystem, std::vector<std::string>> names;
  for (const auto& list : *lists) names[list.ecosystem] = list.names;
  CHECK(names.at(core::Ecosystem::kCrates) == std::vector<std::string>{"serde", "syn"});
  CHECK(names.at(core::Ecosystem::kNpm).size() == 10'000);
  CHECK(names.at(core::Ecosystem::kNpm)[0] == "semver");
  testing::WriteText(dir.File("crates.tsv"), "name\trank\nsyn\t2\nserde\t1\n");  // by rank: ascending
  CHECK(app::LoadBackfillLists(config.index)->at(0).names == std::vector<std::string>{"serde", "syn"});
  testing::WriteText(dir.File("crates.tsv"), "name\tdownloads\nserde\tmany\n");
  CHECK_THAT(app::LoadBackfillLists(config.index).status().message(),
             Catch::Contains("index.lists.crates") && Catch::Contains("crates.tsv:2"));
}

TEST_CASE("the shipped topology is exactly the seed topology", "[app][config]") {
  bus::Topology t = app::LoadTopologyFile(kSource + "/config/topology.yaml");
  CHECK(t.version == "1.0.1");
  std::vector<std::string> names;
  for (const auto& q : t.queues) names.push_back(q.name);
  CHECK(names == std::vector<std::string>{"priority_parse_package", "regular_parse_package",
                                          "priority_parse_repository", "regular_parse_repository",
                                          "priority_score_package", "regular_score_package"});
  CHECK(t.Topics() == std::vector<std::string>{"parse_registry", "parse_repo", "score_package"});
  CHECK(t.queues[0].filter_policy.json() ==
        R"({"package_type":["pypi","npm","crates","maven","go"],"priority":["1"]})");
  CHECK(t.queues[2].filter_policy.json() == R"({"priority":["1"],"repo_engine":["github"]})");
  CHECK(t.queues[5].filter_policy.json() == R"({"priority":["2"]})");
}

TEST_CASE("database.kind postgres reads its connection string from the variable the config names",
          "[app][config]") {
  CHECK(ConfigError("database:\n  kind: mysql\n") ==
        "pkgtrust.yaml:2: database.kind: expected sqlite or postgres");
  CHECK(ConfigError("database:\n  postgres_url_env: \"\"\n") ==
        "pkgtrust.yaml:2: database.postgres_url_env: must name an environment variable");
  unsetenv("PKGTRUST_TEST_DB_URL");
  CHECK_THAT(ConfigError("database:\n  kind: postgres\n  postgres_url_env: PKGTRUST_TEST_DB_URL\n"),
             Catch::StartsWith("pkgtrust.yaml:2: database.kind: postgres: the environment variable "
                               "PKGTRUST_TEST_DB_URL (database.postgres_url_env) is not set"));
  setenv("PKGTRUST_TEST_DB_URL", "host=127.0.0.1 dbname=pkgtrust", 1);
  testing::TempDir dir;
  testing::WriteText(dir.File("pkgtrust.yaml"),
                     "database:\n  kind: postgres\n  postgres_url_env: PKGTRUST_TEST_DB_URL\n");
  app::Config config = app::LoadConfigFile(dir.File("pkgtrust.yaml"));
  unsetenv("PKGTRUST_TEST_DB_URL");
  CHECK(config.database.kind == store::StoreKind::kPostgres);
  CHECK(config.database.postgres_url == "host=127.0.0.1 dbname=pkgtrust");
  // The default is SQLite, and the string is not read for it.
  CHECK(app::DefaultConfig().database.kind == store::StoreKind::kSqlite);
  CHECK(app::DefaultConfig().database.postgres_url.empty());
  CHECK(app::DefaultConfig().database_url_env == "PKGTRUST_DATABASE_URL");
}

TEST_CASE("a broken config names file, line and key", "[app][config]") {
  CHECK(ConfigError("server:\n  listen: oops: x\n") == "pkgtrust.yaml:2:15: invalid YAML: illegal map value");
  CHECK_THAT(ConfigError("server:\n  listen: [oops\n"), Catch::Contains("invalid YAML"));
  CHECK(ConfigError("database:\n  path: x.db\n  pth: y\n") ==
        "pkgtrust.yaml:3: database.pth: unknown key (expected one of: kind, path, postgres_url_env, "
        "read_connections, cache_mb_per_connection, synchronous)");
  CHECK(ConfigError("stages:\n  registry:\n    concurrency: lots\n") ==
        "pkgtrust.yaml:3: stages.registry.concurrency: expected an integer, got 'lots'");
  CHECK(ConfigError("reconciler:\n  interval_seconds: 0.5\n") ==
        "pkgtrust.yaml:2: reconciler.interval_seconds: must be at least 1000 ms");
  CHECK(ConfigError("transport:\n  kind: kafka\n") ==
        "pkgtrust.yaml:2: transport.kind: expected memory or sqs, got 'kafka'");
  CHECK(ConfigError("server:\n  listen: localhost\n") ==
        "pkgtrust.yaml:2: server.listen: expected host:port such as 127.0.0.1:8080, got 'localhost'");
  CHECK(ConfigError("upstreams:\n  npm: ftp://x\n") ==
        "pkgtrust.yaml:2: upstreams.npm: expected an http:// or https:// base URL, got 'ftp://x'");
  CHECK(ConfigError("stages:\n  registry:\n    regular_share: 2\n") ==
        "pkgtrust.yaml:3: stages.registry.regular_share: must be between 0 and 0.95");
  CHECK(ConfigError("log:\n  level: loud\n") ==
        "pkgtrust.yaml:2: log.level: expected debug, info, warn, error or off, got 'loud'");
  CHECK(ConfigError("- a\n- b\n") == "pkgtrust.yaml:1: : expected a mapping of keys to values");
  CHECK_THAT(ConfigError("transport:\n  topology: missing.yaml\n"),
             Catch::Contains("missing.yaml: cannot read file"));
  CHECK(ConfigError("database:\n  path: \":memory:\"\n") ==
        "pkgtrust.yaml:2: database.path: expected a file path (the writer and readers share one file)");
  CHECK(ConfigError("") == "");
}

TEST_CASE("a broken topology names file, line and key", "[app][config]") {
  const std::string head = "version: 1.0.1\nqueues:\n";
  CHECK(TopologyError(head + "  - name: q\n    filter_policy: {priority: [\"1\"]}\n") ==
        "topology.yaml:3: queues[0] (q).topics: missing: a queue needs at least one topic");
  CHECK(TopologyError(head + "  - name: q\n    topics: []\n") ==
        "topology.yaml:4: queues[0] (q).topics: expected a non-empty list of topic names");
  CHECK(TopologyError(head + "  - name: q\n    topics: [t]\n    filter_policy:\n      priority: [\"1\"]\n"
                             "      package_type: [{regex: \"n.*\"}]\n") ==
        "topology.yaml:7: queues[0] (q).filter_policy.package_type: filter policy key \"package_type\": "
        "unknown "
        "operator \"regex\" (SNS has prefix, suffix, equals-ignore-case, anything-but, numeric, exists)");
  CHECK(TopologyError(head + "  - name: q\n    topics: [t]\n    filter_policy: {priority: \"1\"}\n") ==
        "topology.yaml:5: queues[0] (q).filter_policy.priority: filter policy key \"priority\": the value of "
        "a key is "
        "a list, e.g. [\"value\"]");
  CHECK(TopologyError(head + "  - name: q\n    topics: [t]\n    subscribers: 3\n") ==
        "topology.yaml:5: queues[0] (q).subscribers: unknown key (expected one of: name, topics, "
        "filter_policy)");
  CHECK(TopologyError("version: 1\nqueues: {}\n") ==
        "topology.yaml:2: queues: expected a non-empty list of queues");
  CHECK_THAT(TopologyError(head + "  - name: q\n    topics: [t]\n  - name: q\n    topics: [t]\n"),
             Catch::Contains("queue 'q' is defined twice"));
  // Stages read queues the topology must have.
  CHECK_THAT(TopologyError(head + "  - name: q\n    topics: [t]\n"),
             Catch::Contains("stages.registry: queue 'priority_parse_package' is not in the topology"));
}

TEST_CASE("numbers and quoted strings in policies keep their YAML types", "[app][config]") {
  testing::TempDir dir;
  testing::WriteText(dir.File("t.yaml"),
                     "version: x\nqueues:\n  - name: q\n    topics: [t]\n"
                     "    filter_policy: {size: [{numeric: [\">\", 10]}], id: [\"10\"]}\n");
  bus::Topology t = app::LoadTopologyFile(dir.File("t.yaml"));
  bus::Attributes big;
  big.Set("size", {bus::AttributeType::kNumber, "11"});
  big.SetString("id", "10");
  CHECK(t.queues[0].filter_policy.Matches(big));
  big.Set("id", {bus::AttributeType::kNumber, "10"});
  CHECK_FALSE(t.queues[0].filter_policy.Matches(big));
}

TEST_CASE("the visibility timeout is 300 s wherever the file omits it, as documented", "[app][config]") {
  testing::TempDir dir;
  auto load = [&](const std::string& yaml) {
    testing::WriteText(dir.File("pkgtrust.yaml"), yaml);
    return app::LoadConfigFile(dir.File("pkgtrust.yaml"));
  };
  for (const char* yaml :
       {"log:\n  level: warn\n", "transport:\n  kind: sqs\n", "transport:\n  max_receives: 3\n"}) {
    INFO(yaml);
    app::Config config = load(yaml);
    CHECK(config.memory_transport.visibility_timeout == std::chrono::seconds(300));
    CHECK(config.sqs_transport.visibility_timeout == std::chrono::seconds(300));
  }
  app::Config set = load("transport:\n  visibility_timeout_seconds: 45\n");
  CHECK(set.memory_transport.visibility_timeout == std::chrono::seconds(45));
  CHECK(set.sqs_transport.visibility_timeout == std::chrono::seconds(45));
  CHECK(app::DefaultConfig().sqs_transport.visibility_timeout == std::chrono::seconds(300));
}

TEST_CASE("server.shutdown_delay_seconds: 0 by default, at most 600", "[app][config]") {
  CHECK(app::DefaultConfig().shutdown_delay == std::chrono::seconds(0));
  CHECK(ConfigError("server:\n  shutdown_delay_seconds: 600\n").empty());
  CHECK_THAT(ConfigError("server:\n  shutdown_delay_seconds: 601\n"),
             Catch::Contains("server.shutdown_delay_seconds") && Catch::Contains("at most 600"));
}

TEST_CASE("github.repository_ttl_hours: 24 by default, 0 to 720", "[app][config]") {
  CHECK(app::DefaultConfig().repository_sharing.repository_ttl == std::chrono::hours(24));
  CHECK(ConfigError("github:\n  repository_ttl_hours: 0\n").empty());
  CHECK(ConfigError("github:\n  repository_ttl_hours: 720\n").empty());
  for (const char* bad : {"721", "-1"})
    CHECK_THAT(ConfigError(std::string("github:\n  repository_ttl_hours: ") + bad + "\n"),
               Catch::Contains("github.repository_ttl_hours") && Catch::Contains("0 to 720"));
  CHECK_THAT(ConfigError("github:\n  ttl: 3\n"), Catch::Contains("github.ttl: unknown key"));
  CHECK(app::DefaultConfig().repository_sharing.graphql_batch == 50);
  CHECK(app::DefaultConfig().repository_sharing.batch_wait == std::chrono::milliseconds(200));
  CHECK(ConfigError("github:\n  graphql_batch: 100\n  batch_wait_ms: 5000\n").empty());
  CHECK_THAT(ConfigError("github:\n  graphql_batch: 101\n"), Catch::Contains("github.graphql_batch"));
  CHECK_THAT(ConfigError("github:\n  batch_wait_ms: 5001\n"), Catch::Contains("github.batch_wait_ms"));
}

TEST_CASE("gateway: on by default with the documented policy; every key read; mistakes named",
          "[app][config]") {
  app::Config embedded = app::DefaultConfig();
  CHECK(embedded.gateway_enabled);
  CHECK(embedded.gateway.npm_prefix == "/registry/npm/");
  CHECK(embedded.gateway.pypi_prefix == "/registry/pypi/");
  CHECK(embedded.gateway.policy.malicious == gateway::Action::kBlock);
  CHECK(embedded.gateway.policy.typosquat == gateway::Action::kWarn);
  CHECK_FALSE(embedded.gateway.policy.monitor);
  CHECK_FALSE(embedded.gateway.policy.min_score.has_value());
  CHECK_FALSE(embedded.gateway.policy.deny_unscored);
  CHECK(embedded.gateway.metadata_ttl == std::chrono::seconds(300));
  CHECK(embedded.gateway.files.folder.empty());  // the service puts it beside the database
  CHECK(embedded.upstreams.at("pypi_files") == "https://files.pythonhosted.org");
  CHECK(embedded.secrets.gateway_token_env == "PKGTRUST_GATEWAY_TOKEN");

  testing::TempDir dir;
  testing::WriteText(dir.File("pkgtrust.yaml"), R"(gateway:
  enabled: false
  npm_prefix: /npm/
  pypi_prefix: ""
  public_url: https://pkgtrust.example.com
  metadata_ttl_seconds: 60
  stale_if_error_seconds: 0
  cache_folder: files
  cache_max_mb: 100
  policy:
    mode: monitor
    malicious: warn
    typosquat: block
    min_score: 4.5
    below_min_score: warn
    min_release_age_hours: 48
    unscored: deny
    allow:
      - {package: "pkg:npm/left-pad", reason: reviewed}
    deny:
      - {package: "npm:event-*", reason: compromised}
)");
  app::Config config = app::LoadConfigFile(dir.File("pkgtrust.yaml"));
  const auto& g = config.gateway;
  CHECK_FALSE(config.gateway_enabled);
  CHECK(g.npm_prefix == "/npm/");
  CHECK(g.pypi_prefix.empty());
  CHECK(g.public_url == "https://pkgtrust.example.com");
  CHECK(g.metadata_ttl == std::chrono::seconds(60));
  CHECK(g.stale_if_error == std::chrono::seconds(0));
  CHECK(g.files.folder == dir.File("files"));
  CHECK(g.files.max_bytes == 100ull << 20);
  CHECK(g.policy.monitor);
  CHECK(g.policy.malicious == gateway::Action::kWarn);
  CHECK(g.policy.typosquat == gateway::Action::kBlock);
  CHECK(g.policy.min_score == 4.5);
  CHECK(g.policy.below_min_score == gateway::Action::kWarn);
  CHECK(g.policy.min_release_age_hours == 48);
  CHECK(g.policy.deny_unscored);
  REQUIRE(g.policy.allow.size() == 1);
  CHECK(g.policy.allow[0].reason == "reviewed");
  REQUIRE(g.policy.deny.size() == 1);
  CHECK(g.policy.deny[0].written == "npm:event-*");

  CHECK(ConfigError("gateway:\n  policy:\n    typosquat: deny\n") ==
        "pkgtrust.yaml:3: gateway.policy.typosquat: expected block, warn or off, got 'deny'");
  CHECK(ConfigError("gateway:\n  policy:\n    mode: audit\n") ==
        "pkgtrust.yaml:3: gateway.policy.mode: expected enforce or monitor, got 'audit'");
  CHECK(ConfigError("gateway:\n  npm_prefix: registry/npm\n").find("gateway.npm_prefix: expected a path") !=
        std::string::npos);
  CHECK(ConfigError("gateway:\n  npm_prefix: /v1/npm/\n").find("gateway.npm_prefix") != std::string::npos);
  CHECK(ConfigError("gateway:\n  policy:\n    min_score: 11\n") ==
        "pkgtrust.yaml:3: gateway.policy.min_score: must be between 0 and 10");
  CHECK(ConfigError("gateway:\n  policy:\n    allow:\n      - {package: left-pad}\n")
            .find("gateway.policy.allow.reason: each entry says why") != std::string::npos);
  CHECK(ConfigError("gateway:\n  policy:\n    deny:\n      - {package: \"pkg:npm/\", reason: x}\n")
            .find("gateway.policy.deny.package") != std::string::npos);
  CHECK(ConfigError("gateway:\n  cache: x\n").find("gateway.cache: unknown key") != std::string::npos);
}
