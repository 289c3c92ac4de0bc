// Benchmarks that live in their own files; pkgtrust_bench.cpp dispatches to them.
#pragma once

#include <string>

namespace pkgtrust::bench {

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
