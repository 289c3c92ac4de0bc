// pkgtrust micro-benchmarks (see bench/README.md for figures):
//   pkgtrust_bench bus      [--messages N]  publish -> filter -> queue -> receive -> ack, memory transport
//   pkgtrust_bench store    [--packages N] [--postgres CONNINFO]
//                                           state transitions committed per second, SQLite file
//                                           (or a new database on that PostgreSQL server)
//   pkgtrust_bench registry                 npm packument parse throughput and memory (largest recorded)
//   pkgtrust_bench http     [--requests N]  upstream client against the replay server, 64 in flight
//   pkgtrust_bench api      [--packages N] [--seconds S] [--connections C] [--server-threads T]
//                                           known-package GETs with wrk against the whole service
//   pkgtrust_bench changes  [--packages N] [--subscribers S] [--changes C] [--rate R]
//                                           change stream: cold start of N packages to one
//                                           subscriber; C changes at R/s fanned out to S subscribers
//   pkgtrust_bench attack   [--packages N] [--subscribers S] [--binary PATH]
//                                           silent change-stream subscribers and gzip bombs
//                                           against pkgtrust serve (PATH: another build)
//   pkgtrust_bench osv      [--records N]   pkgtrust import-osv of a dump of N records (31,500),
//                                           again unchanged, again with 1% newer
//   pkgtrust_bench adoption-events [--requests N] [--packages N] [--postgres CONNINFO]
//                                           a synthetic request log processed into adoption data
//   pkgtrust_bench adoption-gateway [--seconds S] [--connections C] [--rounds R]
//                                           cached-file throughput, request logging off and on
//   pkgtrust_bench adoption-query [--seconds S] [--connections C]
//                                           GET /v1/adoption for a year of days, 50 versions
//   pkgtrust_bench check-parse [--rounds R] the largest real lockfiles of the fixtures, MB/s
//   pkgtrust_bench check-server [--dependencies N] [--rounds R]
//                                           pkgtrust check of an N-package lockfile (2,000)
//                                           against a server that knows them, with hyperfine
//   pkgtrust_bench sqs      [--messages N] [--rounds R] [--publishers P]
//                                           SNS -> SQS -> receive -> ack on the fauxqs emulator,
//                                           batching on and off
// Each prints one human line per figure and, with --json, one JSON object at the end.
#include <fmt/format.h>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "app/config.hpp"
#include "bench/benches.hpp"
#include "pkgtrust/bus/memory_transport.hpp"
#include "pkgtrust/net/http_client.hpp"
#include "pkgtrust/registry/parsers.hpp"
#include "pkgtrust/store/store.hpp"
#include "support/postgres_admin.hpp"
#include "support/replay_server.hpp"

using namespace pkgtrust;
using Clock = std::chrono::steady_clock;

namespace {

double Seconds(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// CPU seconds (user + system) used by the whole process so far.
double CpuSeconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  auto secs = [](const timeval& tv) { return static_cast<double>(tv.tv_sec) + tv.tv_usec / 1e6; };
  return secs(usage.ru_utime) + secs(usage.ru_stime);
}

bus::Message WorkMessage(int i) {
  static const char* kTypes[] = {"npm", "pypi", "crates", "maven", "go"};
  bus::Message m;
  m.attributes.SetString("priority", i % 10 == 0 ? "1" : "2");
  m.attributes.SetString("package_type", kTypes[i % 5]);
  m.body = fmt::format(R"({{"ecosystem":"{}","name":"package-{}","generation":1,"request_id":"bench"}})",
                       kTypes[i % 5], i);
  return m;
}

// Drains both parse_package queues in batches, acking each message.
std::int64_t Drain(bus::Transport& transport, std::int64_t want, std::size_t batch) {
  static const std::vector<std::string> queues = {"priority_parse_package", "regular_parse_package"};
  std::int64_t got = 0;
  while (got < want) {
    bool any = false;
    for (const auto& q : queues) {
      for (const auto& d : transport.Receive(q, batch)) {
        (void)transport.Ack(d);
        ++got;
        any = true;
      }
    }
    if (!any) transport.WaitForMessages(queues, std::chrono::milliseconds(10));
  }
  return got;
}

int BenchBus(int messages, bool json) {
  bus::Topology topology = app::DefaultConfig().topology;
  std::vector<bus::Message> prepared;
  prepared.reserve(messages);
  for (int i = 0; i < messages; ++i) prepared.push_back(WorkMessage(i));

  // 1. One thread: publish everything, then receive and ack everything (batches of 32).
  double sequential;
  {
    bus::MemoryTransport transport(topology, {});
    auto start = Clock::now();
    for (const auto& m : prepared) (void)transport.Publish("parse_registry", m);
    Drain(transport, messages, 32);
    sequential = messages / Seconds(start);
  }
  // 2. A producer thread and a consumer thread at the same time.
  double concurrent;
  {
    bus::MemoryTransport transport(topology, {});
    auto start = Clock::now();
    std::thread producer([&] {
      for (const auto& m : prepared) (void)transport.Publish("parse_registry", m);
    });
    Drain(transport, messages, 32);
    producer.join();
    concurrent = messages / Seconds(start);
  }
  fmt::print("bus: {} messages, publish->filter->queue->receive->ack\n", messages);
  fmt::print("  one thread (publish all, then drain):  {:>10.0f} messages/s\n", sequential);
  fmt::print("  producer + consumer threads:           {:>10.0f} messages/s\n", concurrent);
  if (json)
    fmt::print(R"({{"bench":"bus","messages":{},"sequential_per_s":{:.0f},"concurrent_per_s":{:.0f}}})"
               "\n",
               messages, sequential, concurrent);
  return 0;
}

// With `postgres_server` (a libpq connection string), the same benchmark on PostgreSQL: in
// a database made for it on that server and dropped at the end.
int BenchStore(int packages, const std::string& postgres_server, bool json) {
  std::string path =
      (std::filesystem::temp_directory_path() / fmt::format("pkgtrust-bench-{}.db", getpid())).string();
  store::StoreConfig config{.path = path};
  std::string database = fmt::format("pkgtrust_bench_{}", getpid());
  auto admin = [&](const std::string& sql) {
    testing::PostgresAnswer answer = testing::RunPostgresStatement(postgres_server, sql);
    if (!answer.ok) fmt::print(stderr, "{}: {}", sql, answer.error);
    return answer.ok;
  };
  if (!postgres_server.empty()) {
    if (!admin("CREATE DATABASE " + database)) return 1;
    config.kind = store::StoreKind::kPostgres;
    config.postgres_url = postgres_server + " dbname=" + database;
  }
  auto opened = store::Store::Open(config, core::SystemClock::Instance());
  if (!opened.ok()) {
    fmt::print(stderr, "{}\n", opened.status().message());
    return 1;
  }
  auto& db = **opened;
  std::vector<core::PackageKey> keys;
  for (int i = 0; i < packages; ++i) keys.push_back({core::Ecosystem::kNpm, fmt::format("package-{}", i)});

  // Enqueue: new rows, submitted one request at a time, committed in batches.
  std::atomic<int> done{0};
  auto wait_for = [&](int target) {
    while (done.load() < target) std::this_thread::sleep_for(std::chrono::microseconds(200));
  };
  auto start = Clock::now();
  for (const auto& key : keys) db.Enqueue({key}, [&](auto) { done++; });
  wait_for(packages);
  double enqueue = packages / Seconds(start);

  // Transitions: conditional updates pending_registry -> pending_score, each with a fact.
  done = 0;
  auto tx_before = db.GetWriterStats().transactions;
  double cpu_before = CpuSeconds();
  start = Clock::now();
  for (const auto& key : keys)
    db.Transition({key,
                   core::PackageState::kPendingRegistry,
                   1,
                   core::PackageState::kPendingScore,
                   {{"registry", R"({"latest":"1.0.0","versions":12})"}}},
                  [&](auto) { done++; });
  wait_for(packages);
  double transitions = packages / Seconds(start);
  double cpu_us = (CpuSeconds() - cpu_before) * 1e6 / packages;
  auto transactions = db.GetWriterStats().transactions - tx_before;

  // Stale duplicates: the same transitions again find nothing to update.
  done = 0;
  start = Clock::now();
  for (const auto& key : keys)
    db.Transition({key, core::PackageState::kPendingRegistry, 1, core::PackageState::kPendingScore, {}},
                  [&](auto) { done++; });
  wait_for(packages);
  double stale = packages / Seconds(start);
  db.Close();
  opened->reset();
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path + suffix);
  if (!postgres_server.empty()) admin("DROP DATABASE " + database + " WITH (FORCE)");

  fmt::print("store: {} packages, {}\n", packages,
             postgres_server.empty() ? "SQLite WAL, synchronous=NORMAL" : "PostgreSQL, pipelined batches");
  fmt::print("  enqueue (insert, new run):             {:>10.0f} per s\n", enqueue);
  fmt::print("  transitions committed (with a fact):   {:>10.0f} per s ({} transactions)\n", transitions,
             transactions);
  fmt::print("  CPU per transition (all threads):      {:>10.1f} us\n", cpu_us);
  fmt::print("  stale transitions dropped:             {:>10.0f} per s\n", stale);
  if (json)
    fmt::print(
        R"({{"bench":"store","kind":"{}","packages":{},"enqueue_per_s":{:.0f},"transitions_per_s":{:.0f},"cpu_us_per_transition":{:.1f},"stale_per_s":{:.0f}}})"
        "\n",
        postgres_server.empty() ? "sqlite" : "postgres", packages, enqueue, transitions, cpu_us, stale);
  return 0;
}

// Peak resident memory so far (VmHWM), in bytes.
std::int64_t PeakRssBytes() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::stoll(line.substr(6)) * 1024;
  return -1;
}

int BenchRegistry(bool json) {
  std::ifstream in(std::string(PKGTRUST_FIXTURES_DIR) + "/registry/npm/next.json.gz", std::ios::binary);
  std::ostringstream gz;
  gz << in.rdbuf();
  auto body = net::Gunzip(gz.str(), 256u << 20);
  if (!body.ok()) {
    fmt::print(stderr, "cannot read the next.json.gz fixture: {}\n", body.status().message());
    return 1;
  }
  double mb = static_cast<double>(body->size()) / 1e6;
  std::int64_t rss_body = PeakRssBytes();
  const int rounds = 5;
  std::size_t facts_bytes = 0;
  auto start = Clock::now();
  for (int i = 0; i < rounds; ++i) {
    auto facts = registry::ParseNpmPackument(*body, {core::Ecosystem::kNpm, "next"});
    if (!facts.ok()) return 1;
    facts_bytes = facts->ToJson().size();
  }
  double sax_mbps = mb * rounds / Seconds(start);
  std::int64_t rss_sax = PeakRssBytes();
  // For comparison, in the same run: a DOM of the same document (what the SAX reader avoids).
  start = Clock::now();
  std::size_t dom_versions = 0;
  {
    auto dom = nlohmann::json::parse(*body);
    dom_versions = dom["versions"].size();
  }
  double dom_mbps = mb / Seconds(start);
  std::int64_t rss_dom = PeakRssBytes();
  fmt::print("registry: npm packument 'next', {:.1f} MB, {} versions -> {:.1f} KB of facts\n", mb,
             dom_versions, facts_bytes / 1e3);
  fmt::print("  SAX parse to facts:                    {:>10.1f} MB/s\n", sax_mbps);
  fmt::print("  peak RSS: body loaded {:.1f} MB, after SAX parses {:.1f} MB (+{:.1f} MB)\n", rss_body / 1e6,
             rss_sax / 1e6, (rss_sax - rss_body) / 1e6);
  fmt::print("  for comparison, nlohmann DOM parse:    {:>10.1f} MB/s, peak RSS {:.1f} MB (+{:.1f} MB)\n",
             dom_mbps, rss_dom / 1e6, (rss_dom - rss_sax) / 1e6);
  if (json)
    fmt::print(
        R"({{"bench":"registry","document_mb":{:.1f},"sax_mb_per_s":{:.1f},"sax_extra_rss_mb":{:.1f},"dom_mb_per_s":{:.1f},"dom_extra_rss_mb":{:.1f}}})"
        "\n",
        mb, sax_mbps, (rss_sax - rss_body) / 1e6, dom_mbps, (rss_dom - rss_sax) / 1e6);
  return 0;
}

int BenchHttp(int requests, bool json) {
  testing::ReplayServer server(1);
  std::string doc(2048, 'x');
  server.Add("GET", "/pkg", testing::ReplayResponse{200, {{"Content-Type", "application/json"}}, doc});
  net::HttpClientConfig config;
  config.max_connections_per_host = 64;
  net::BeastHttpClient client(config);
  const int in_flight = 64;
  std::mutex mu;
  std::condition_variable cv;
  std::vector<double> latencies_ms;
  latencies_ms.reserve(requests);
  int started = 0, finished = 0, failed = 0;
  std::function<void()> launch = [&] {
    auto t0 = Clock::now();
    net::HttpRequest request;
    request.url = server.BaseUrl() + "/pkg";
    client.Fetch(std::move(request), [&, t0](core::Result<net::HttpResponse> r) {
      double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
      bool again = false;
      {
        std::lock_guard lock(mu);
        latencies_ms.push_back(ms);
        if (!r.ok() || r->status != 200) failed++;
        finished++;
        if (started < requests) {
          started++;
          again = true;
        }
      }
      if (again) launch();
      cv.notify_all();
    });
  };
  auto start = Clock::now();
  {
    std::lock_guard lock(mu);
    started = std::min(in_flight, requests);
  }
  for (int i = 0; i < std::min(in_flight, requests); ++i) launch();
  {
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return finished == requests; });
  }
  double secs = Seconds(start);
  std::sort(latencies_ms.begin(), latencies_ms.end());
  auto pct = [&](double p) {
    return latencies_ms[std::min(latencies_ms.size() - 1, static_cast<std::size_t>(p * latencies_ms.size()))];
  };
  fmt::print("http: {} GETs of 2 KB, {} in flight, client and replay server in one process on loopback\n",
             requests, in_flight);
  fmt::print("  requests per second:                   {:>10.0f}\n", requests / secs);
  fmt::print("  latency p50 {:.2f} ms, p99 {:.2f} ms, max {:.2f} ms; {} failed; {} connections\n", pct(0.5),
             pct(0.99), latencies_ms.back(), failed, client.Stats().connections);
  if (json)
    fmt::print(
        R"({{"bench":"http","requests":{},"per_s":{:.0f},"p50_ms":{:.2f},"p99_ms":{:.2f},"failed":{}}})"
        "\n",
        requests, requests / secs, pct(0.5), pct(0.99), failed);
  return failed == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  core::SetLogLevel(core::LogLevel::kWarn);
  std::string what = argc > 1 ? argv[1] : "";
  int count = 0, seconds = 10, connections = 64, threads = 2, rounds = 3, publishers = 16, subscribers = 1000,
      changes = 5000, rate = 1000;
  bool json = false;
  std::string binary, verdaccio, postgres;
  long requests = 0, packages = 0;  // adoption-events takes both
  for (int i = 2; i < argc; ++i) {
    std::string arg = argv[i];
    if ((arg == "--messages" || arg == "--packages" || arg == "--requests" || arg == "--records") &&
        i + 1 < argc) {
      count = std::atoi(argv[++i]);
      if (arg == "--requests") requests = std::atol(argv[i]);
      if (arg == "--packages") packages = std::atol(argv[i]);
    } else if (arg == "--seconds" && i + 1 < argc)
      seconds = std::atoi(argv[++i]);
    else if (arg == "--connections" && i + 1 < argc)
      connections = std::atoi(argv[++i]);
    else if (arg == "--server-threads" && i + 1 < argc)
      threads = std::atoi(argv[++i]);
    else if (arg == "--subscribers" && i + 1 < argc)
      subscribers = std::atoi(argv[++i]);
    else if (arg == "--changes" && i + 1 < argc)
      changes = std::atoi(argv[++i]);
    else if (arg == "--rate" && i + 1 < argc)
      rate = std::atoi(argv[++i]);
    else if (arg == "--publishers" && i + 1 < argc)
      publishers = std::atoi(argv[++i]);
    else if (arg == "--rounds" && i + 1 < argc)
      rounds = std::max(1, std::atoi(argv[++i]));
    else if (arg == "--json")
      json = true;
    else if (arg == "--binary" && i + 1 < argc)
      binary = argv[++i];
    else if (arg == "--dependencies" && i + 1 < argc)
      count = std::atoi(argv[++i]);
    else if (arg == "--verdaccio" && i + 1 < argc)
      verdaccio = argv[++i];
    else if (arg == "--postgres" && i + 1 < argc)
      postgres = argv[++i];
  }
  if (what == "bus") return BenchBus(count > 0 ? count : 1'000'000, json);
  if (what == "store") return BenchStore(count > 0 ? count : 200'000, postgres, json);
  if (what == "registry") return BenchRegistry(json);
  if (what == "http") return BenchHttp(count > 0 ? count : 50'000, json);
  if (what == "api")
    return bench::BenchApi(count > 0 ? count : 1000, seconds > 0 ? seconds : 10, connections,
                           threads > 0 ? threads : 2, json);
  if (what == "changes")
    return bench::BenchChanges(count > 0 ? count : 1'000'000, subscribers, changes, std::max(1, rate), json);
  if (what == "sqs") return bench::BenchSqs(count > 0 ? count : 5000, rounds, publishers, json);
  if (what == "osv") return bench::BenchOsvImport(count > 0 ? count : 31'500, json);
  if (what == "gateway-files")
    return bench::BenchGatewayFiles(seconds > 0 ? seconds : 10, connections > 0 ? connections : 64, json);
  if (what == "gateway-metadata") return bench::BenchGatewayMetadata(std::max(rounds, 5), json);
  if (what == "gateway-install")
    return bench::BenchGatewayInstall(count > 0 ? count : 100, rounds, verdaccio, json);
  if (what == "adoption-events") {
    std::string url;
    std::string database = fmt::format("pkgtrust_bench_adoption_{}", getpid());
    if (!postgres.empty()) {  // a database of its own on that server, dropped at the end
      if (auto made = testing::RunPostgresStatement(postgres, "CREATE DATABASE " + database); !made.ok) {
        fmt::print(stderr, "{}\n", made.error);
        return 1;
      }
      url = postgres + " dbname=" + database;
    }
    int code = bench::BenchAdoptionEvents(requests > 0 ? requests : 10'000'000,
                                          packages > 0 ? static_cast<int>(packages) : 10'000, url, json);
    if (!postgres.empty())
      testing::RunPostgresStatement(postgres, "DROP DATABASE " + database + " WITH (FORCE)");
    return code;
  }
  if (what == "adoption-gateway")
    return bench::BenchAdoptionGateway(seconds > 0 ? seconds : 10, connections > 0 ? connections : 64, rounds,
                                       json);
  if (what == "adoption-query")
    return bench::BenchAdoptionQuery(seconds > 0 ? seconds : 10, connections > 0 ? connections : 16, json);
  if (what == "check-parse") return bench::BenchCheckParse(std::max(rounds, 5), json);
  if (what == "check-server")
    return bench::BenchCheckServer(count > 0 ? count : 2000, std::max(rounds, 10), json);
  if (what == "attack")
    return bench::BenchAttack(binary.empty() ? PKGTRUST_BINARY : binary, count > 0 ? count : 3500,
                              subscribers, json);
  fmt::print(
      stderr,
      "usage: pkgtrust_bench bus [--messages N] | store [--packages N] [--postgres CONNINFO] | registry | "
      "http [--requests N]"
      " | api [--packages N] [--seconds S] [--connections C] [--server-threads T]"
      " | sqs [--messages N] [--rounds R] [--publishers P]"
      " | changes [--packages N] [--subscribers S] [--changes C] [--rate R] | osv [--records N] | attack "
      "[--packages N] [--subscribers S] [--binary PATH] | check-parse [--rounds R] | check-server "
      "[--dependencies N] "
      "[--rounds R] | gateway-files [--seconds S] [--connections C]"
      " | gateway-metadata [--rounds R] | gateway-install [--packages N] [--rounds R] [--verdaccio DIR]"
      " | adoption-events [--requests N] [--packages N] [--postgres CONNINFO] | adoption-gateway [--seconds "
      "S]"
      " [--connections C] [--rounds R] | adoption-query [--seconds S] [--connections C]"
      "  [--json]\n");
  return 2;
}
