// pkgtrust_bench adoption-*: the figures of adoption (issue 22, bench/README.md).
//   adoption-events   a synthetic request log (default 10,000,000 requests over 10,000
//                     packages and 30 days) written to the store, then processed into
//                     aggregates: events per second, database growth per million requests
//   adoption-gateway  a cached 100 KB tarball with wrk through the gateway, request logging
//                     off and on, alternating, in the same run
//   adoption-query    GET /v1/adoption/{ecosystem}/{name} for a package with a year of days
//                     and 50 versions, with wrk
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>

#include "app/service.hpp"
#include "bench/benches.hpp"
#include "pkgtrust/adoption/adoption.hpp"
#include "pkgtrust/adoption/routes.hpp"
#include "support/replay_server.hpp"
#include "support/test_support.hpp"

namespace pkgtrust::bench {

namespace {

namespace fs = std::filesystem;
using Steady = std::chrono::steady_clock;

double Seconds(Steady::time_point since) {
  return std::chrono::duration<double>(Steady::now() - since).count();
}

std::uintmax_t FileBytes(const fs::path& path) {
  std::error_code ec;
  auto size = fs::file_size(path, ec);
  return ec ? 0 : size;
}

std::uintmax_t DatabaseBytes(const fs::path& db) { return FileBytes(db) + FileBytes(db.string() + "-wal"); }

// The synthetic organisation: packages by a Zipf-like popularity, 1 to 5 versions each (a
// newer major taking over as the days pass), 300 origins a day, 15% metadata requests and 3%
// retries of the request before.
class SyntheticLog {
 public:
  SyntheticLog(int packages, std::int64_t first_day, int days, long requests)
      : packages_(packages), first_day_(first_day), days_(days), requests_(requests) {
    std::vector<double> weights(static_cast<std::size_t>(packages));
    for (int i = 0; i < packages; ++i) weights[static_cast<std::size_t>(i)] = 1.0 / (i + 1);
    popularity_ = std::discrete_distribution<int>(weights.begin(), weights.end());
  }

  // Rows `from` .. `from + n` of the log, in time order.
  std::vector<store::RequestLogRow> Chunk(long from, long n) {
    std::vector<store::RequestLogRow> rows;
    rows.reserve(static_cast<std::size_t>(n));
    long per_day = requests_ / days_;
    for (long i = from; i < from + n && i < requests_; ++i) {
      long day = std::min<long>(i / per_day, days_ - 1);
      long in_day = i - day * per_day;
      store::RequestLogRow r;
      r.at = (first_day_ + day) * store::kMillisPerDay + in_day * store::kMillisPerDay / per_day;
      r.ecosystem = "npm";
      r.method = "GET";
      r.status = 200;
      r.tool = "npm";
      r.tool_version = "10.2.4";
      r.runtime = "node/20.10.0";
      r.os = "linux";
      r.ci = (i % 3) == 0;
      if (!rows.empty() && uniform_(random_) < 0.03) {  // a retry of the request before
        r.path = rows.back().path;
        r.origin = rows.back().origin;
        r.at = rows.back().at + 1000;
        rows.push_back(std::move(r));
        continue;
      }
      int p = popularity_(random_);
      r.origin = static_cast<std::int64_t>((first_day_ + day) * 1000 + origin_(random_));
      std::string name = fmt::format("pkg-{}", p);
      if (uniform_(random_) < 0.15) {
        r.path = name;
      } else {
        int majors = 1 + p % 5;
        // Later days lean to the newest major.
        double lean = static_cast<double>(day) / days_;
        int major = uniform_(random_) < lean ? majors : 1 + static_cast<int>(uniform_(random_) * majors);
        r.path = fmt::format("{0}/-/{0}-{1}.{2}.0.tgz", name, major, p % 3);
      }
      rows.push_back(std::move(r));
    }
    return rows;
  }

 private:
  int packages_;
  std::int64_t first_day_;
  int days_;
  long requests_;
  std::mt19937_64 random_{22};
  std::discrete_distribution<int> popularity_;
  std::uniform_int_distribution<int> origin_{0, 299};
  std::uniform_real_distribution<double> uniform_{0.0, 1.0};
};

}  // namespace

int BenchAdoptionEvents(long requests, int packages, const std::string& postgres, bool json) {
  fs::path dir = fs::temp_directory_path() / fmt::format("pkgtrust-bench-adoption-{}", ::getpid());
  fs::create_directories(dir);
  store::StoreConfig config;
  config.path = (dir / "adoption.db").string();
  if (!postgres.empty()) {
    config.kind = store::StoreKind::kPostgres;
    config.postgres_url = postgres;
  }
  auto store = store::Store::Open(config, core::SystemClock::Instance());
  if (!store.ok()) {
    fmt::print(stderr, "adoption-events: {}\n", store.status().message());
    return 1;
  }
  constexpr int kDays = 30;
  std::int64_t first_day = store::DayOf(core::SystemClock::Instance().NowMillis()) - kDays;
  SyntheticLog log(packages, first_day, kDays, requests);
  std::uintmax_t empty_bytes = DatabaseBytes(config.path);
  auto written = Steady::now();
  constexpr long kChunk = 100'000;
  for (long from = 0; from < requests; from += kChunk) {
    if (auto s = (*store)->AppendRequestLogSync(log.Chunk(from, kChunk)); !s.ok()) {
      fmt::print(stderr, "adoption-events: writing the log: {}\n", s.message());
      return 1;
    }
  }
  double write_seconds = Seconds(written);
  std::uintmax_t log_bytes = DatabaseBytes(config.path) - empty_bytes;

  adoption::AdoptionConfig adoption_config;
  adoption::Processor processor(**store, nullptr, adoption_config, core::SystemClock::Instance());
  auto started = Steady::now();
  auto processed = processor.ProcessAll();
  double process_seconds = Seconds(started);
  if (!processed.ok()) {
    fmt::print(stderr, "adoption-events: processing: {}\n", processed.status().message());
    return 1;
  }
  std::uintmax_t wal_bytes = FileBytes(config.path + "-wal");
  (*store)->Close();  // checkpoints the WAL into the file
  std::uintmax_t total_bytes = DatabaseBytes(config.path) - empty_bytes;
  double millions = static_cast<double>(requests) / 1e6;
  double rate = static_cast<double>(processed->rows) / process_seconds;
  fmt::print("adoption-events: {} requests over {} packages and {} days on {}\n", requests, packages, kDays,
             postgres.empty() ? "SQLite" : "PostgreSQL");
  fmt::print("  log written   {:.1f} s ({:.0f} rows/s)\n", write_seconds, requests / write_seconds);
  if (postgres.empty()) fmt::print("  WAL at the end of processing {:.1f} MB\n", wal_bytes / 1e6);
  fmt::print(
      "  processed     {:.1f} s: {:.0f} events/s ({} downloads, {} repeats, {} metadata, {} first seen)\n",
      process_seconds, rate, processed->downloads, processed->repeats, processed->metadata,
      processed->first_seen.size());
  if (postgres.empty())
    fmt::print(
        "  growth        {:.1f} MB per million requests: log {:.1f} MB, aggregates and origins {:.1f} MB\n",
        total_bytes / 1e6 / millions, log_bytes / 1e6 / millions,
        (static_cast<double>(total_bytes) - static_cast<double>(log_bytes)) / 1e6 / millions);
  if (json)
    fmt::print(R"({{"bench":"adoption-events","requests":{},"events_per_s":{:.0f},"mb_per_million":{:.2f}}})"
               "\n",
               requests, rate, total_bytes / 1e6 / millions);
  fs::remove_all(dir);
  return processed->rows == requests ? 0 : 1;
}

int BenchAdoptionGateway(int seconds, int connections, int rounds, bool json) {
  fs::path dir = fs::temp_directory_path() / fmt::format("pkgtrust-bench-adoption-gw-{}", ::getpid());
  fs::create_directories(dir);
  std::string tarball(100 * 1024, '\0');
  std::mt19937_64 random(7);
  for (char& c : tarball) c = static_cast<char>(random());
  testing::ReplayServer upstream(1);
  std::string path = ServeBenchFile(upstream, tarball);
  // Three settings, in turn, `rounds` times: no request log; the log written but processed by
  // another process (adoption.process: false); the log written and processed here.
  constexpr const char* kNames[] = {"off", "log only", "log + processing"};
  std::vector<double> rates[3];
  std::int64_t logged = 0;
  for (int round = 0; round < 3 * rounds; ++round) {
    int variant = round % 3;
    app::Config config = ServiceConfig(dir, upstream.BaseUrl());
    config.database.path = (dir / fmt::format("bench-{}.db", round)).string();
    config.gateway.files.folder = (dir / "cache").string();
    config.adoption.enabled = variant > 0;
    config.adoption.process = variant == 2;
    app::Service service(config);
    service.Start();
    std::string url = fmt::format("http://127.0.0.1:{}/registry/npm{}", service.http_port(), path);
    auto warm = testing::RunCommand(fmt::format("curl -s -o /dev/null -w '%{{http_code}}' {}", url));
    if (warm.output != "200") {
      fmt::print(stderr, "adoption-gateway: warming the cache answered {}\n", warm.output);
      return 1;
    }
    auto result = Wrk(dir, url, connections, seconds);
    if (!result || (*result)["non_2xx"].get<int>() != 0) return 1;
    rates[variant].push_back(PerSecond(*result));
    fmt::print("  round {} {:17}: {:>8.0f}/s  p99 {:.2f} ms\n", round + 1, kNames[variant],
               PerSecond(*result), (*result)["p99_us"].get<double>() / 1000);
    service.Stop();
    if (variant > 0) {  // every request was written (the service flushes the log when it stops)
      store::StoreConfig check;
      check.path = config.database.path;
      auto s = store::Store::Open(check, core::SystemClock::Instance());
      if (s.ok())
        if (auto rows = (*s)->ReadRequestLog(0, 100'000'000, /*full=*/false); rows.ok())
          logged += static_cast<std::int64_t>(rows->size());
    }
  }
  fs::remove_all(dir);
  double median[3];
  for (int v = 0; v < 3; ++v) {
    std::sort(rates[v].begin(), rates[v].end());
    median[v] = rates[v][rates[v].size() / 2];
  }
  fmt::print(
      "adoption-gateway: a cached 100 KB tarball, wrk {} connections, {} s per round, {} rounds each\n",
      connections, seconds, rounds);
  fmt::print(
      "  off {:.0f}/s; log only {:.0f}/s ({:.2f} of off); log + processing {:.0f}/s ({:.2f} of off); {} "
      "requests logged\n",
      median[0], median[1], median[1] / median[0], median[2], median[2] / median[0], logged);
  if (json)
    fmt::print(
        R"({{"bench":"adoption-gateway","off_per_s":{:.0f},"log_ratio":{:.3f},"processing_ratio":{:.3f}}})"
        "\n",
        median[0], median[1] / median[0], median[2] / median[0]);
  return 0;
}

int BenchAdoptionQuery(int seconds, int connections, bool json) {
  fs::path dir = fs::temp_directory_path() / fmt::format("pkgtrust-bench-adoption-query-{}", ::getpid());
  fs::create_directories(dir);
  testing::ReplayServer upstream(1);
  app::Config config = ServiceConfig(dir, upstream.BaseUrl());
  config.adoption.enabled = false;  // nothing else writes while the query is measured
  constexpr int kDays = 365, kVersions = 50;
  std::int64_t today = store::DayOf(core::SystemClock::Instance().NowMillis());
  std::int64_t first_day = today - kDays + 1;
  {
    auto s = store::Store::Open(config.database, core::SystemClock::Instance());
    if (!s.ok()) return 1;
    core::PackageKey key{core::Ecosystem::kNpm, "bench-adopted"};
    std::int64_t cursor = 0;
    for (std::int64_t day = first_day; day <= today; ++day) {
      store::AdoptionUpdate u;
      u.from_cursor = cursor;
      u.to_cursor = ++cursor;
      std::int64_t total = 0;
      for (int v = 0; v < kVersions; ++v) {
        std::int64_t n = 10 + (day * 7 + v * 13) % 90;
        total += n;
        u.counts.push_back(
            {key, fmt::format("{}.{}.0", 1 + v / 10, v % 10), day, n, 0, day * store::kMillisPerDay});
      }
      u.counts.push_back({key, "", day, total, total / 5, day * store::kMillisPerDay});
      u.seen.push_back({key, first_day * store::kMillisPerDay});
      if (!(*s)->ApplyAdoptionSync(std::move(u)).ok()) return 1;
    }
  }
  app::Service service(config);
  service.Start();
  std::string target = fmt::format("/v1/adoption/npm/bench-adopted?from={}&to={}",
                                   adoption::FormatDay(first_day), adoption::FormatDay(today));
  std::string url = fmt::format("http://127.0.0.1:{}{}", service.http_port(), target);
  auto one = testing::RunCommand(
      fmt::format("curl -s -o /dev/null -w '%{{http_code}} %{{size_download}} %{{time_total}}' '{}'", url));
  auto result = Wrk(dir, url, connections, seconds);
  service.Stop();
  fs::remove_all(dir);
  if (!result) return 1;
  fmt::print("adoption-query: a year of days, {} versions; one request (curl: status, bytes, seconds): {}\n",
             kVersions, one.output);
  fmt::print("  wrk {} connections, {} s: {:.0f}/s  p50 {:.2f} ms  p99 {:.2f} ms  non-2xx {}\n", connections,
             seconds, PerSecond(*result), (*result)["p50_us"].get<double>() / 1000,
             (*result)["p99_us"].get<double>() / 1000, (*result)["non_2xx"].get<int>());
  if (json)
    fmt::print(R"({{"bench":"adoption-query","per_s":{:.0f},"p99_ms":{:.2f}}})"
               "\n",
               PerSecond(*result), (*result)["p99_us"].get<double>() / 1000);
  return (*result)["non_2xx"].get<int>() == 0 ? 0 : 1;
}

}  // namespace pkgtrust::bench
