// Benchmarks that live in their own files; pkgtrust_bench.cpp dispatches to them.
#pragma once

namespace pkgtrust::bench {

// Known-package queries with wrk against the whole service (bench/README.md).
int BenchApi(int packages, int seconds, int connections, int server_threads, bool json);
// SNS -> SQS -> receive -> ack on the fauxqs emulator, batching on and off (bench/README.md).
int BenchSqs(int messages, int rounds, int publishers, bool json);

}  // namespace pkgtrust::bench
