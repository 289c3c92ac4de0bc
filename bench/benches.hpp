// Benchmarks that live in their own files; pkgtrust_bench.cpp dispatches to them.
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "app/config.hpp"

namespace pkgtrust::testing {
class ReplayServer;
}

namespace pkgtrust::bench {

// Shared by the benches that run the service (gateway_bench.cpp): a config on loopback with
// every upstream at `upstream` and the database in `dir`; wrk against `url` (its figures as
// JSON: requests, duration_us, p50_us, p99_us, non_2xx, socket_errors); requests per second.
app::Config ServiceConfig(const std::filesystem::path& dir, const std::string& upstream);
std::optional<nlohmann::json> Wrk(const std::filesystem::path& dir, const std::string& url, int connections,
                                  int seconds);
double PerSecond(const nlohmann::json& wrk);
// npm's integrity string of `bytes`: "sha512-<base64>".
std::string Sri512(const std::string& bytes);
// Serves `tarball` as bench-file 1.0.0 (its packument, with the integrity) from `upstream`;
// returns the tarball's path.
std::string ServeBenchFile(testing::ReplayServer& upstream, const std::string& tarball);

// Adoption (adoption_bench.cpp): processing a synthetic request log of `requests` rows over
// `packages` packages (events per second, database growth; `postgres`: a connection string
// to run it on PostgreSQL instead); the gateway's cached-file throughput with the request log
// on and off; GET /v1/adoption for a package with a year of days and 50 versions, with wrk.
int BenchAdoptionEvents(long requests, int packages, const std::string& postgres, bool json);
int BenchAdoptionGateway(int seconds, int connections, int rounds, bool json);
int BenchAdoptionQuery(int seconds, int connections, bool json);

// Known-package queries with wrk against the whole service (bench/README.md).
int BenchApi(int packages, int seconds, int connections, int server_threads, bool json);
// SNS -> SQS -> receive -> ack on the fauxqs emulator, batching on and off (bench/README.md).
int BenchSqs(int messages, int rounds, int publishers, bool json);
// The change stream: cold start to one subscriber, fan-out delay to many (bench/README.md).
int BenchChanges(int packages, int subscribers, int changes, int per_second, bool json);

// pkgtrust import-osv over a dump the size of ossf/malicious-packages' (bench/README.md).
int BenchOsvImport(int records, bool json);

// The memory attacks (silent change-stream subscribers, gzip bombs) against `binary`.
int BenchAttack(const std::string& binary, int packages, int subscribers, bool json);

// The package gateway (gateway_bench.cpp): a cached file with wrk against nginx; filtering
// the largest recorded packument; npm install through it, direct and through Verdaccio
// (`verdaccio`: a folder with node_modules/verdaccio; empty: not measured).
int BenchGatewayFiles(int seconds, int connections, bool json);
int BenchGatewayMetadata(int rounds, bool json);
int BenchGatewayInstall(int packages, int rounds, const std::string& verdaccio, bool json);

// `pkgtrust check` (check_bench.cpp): parse speed of the largest real lockfiles; a check
// of a `dependencies`-package lockfile against a server that knows them all, with hyperfine.
int BenchCheckParse(int rounds, bool json);
int BenchCheckServer(int dependencies, int runs, bool json);

}  // namespace pkgtrust::bench
