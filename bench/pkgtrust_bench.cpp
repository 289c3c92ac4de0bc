// pkgtrust micro-benchmarks for the backbone (see bench/README.md for figures):
//   pkgtrust_bench bus   [--messages N]  publish -> filter -> queue -> receive -> ack, memory transport
//   pkgtrust_bench store [--packages N]  state transitions committed per second, SQLite file
// Each prints one human line per figure and, with --json, one JSON object at the end.
#include <fmt/format.h>
#include <sys/resource.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "app/config.hpp"
#include "pkgtrust/bus/memory_transport.hpp"
#include "pkgtrust/store/package_store.hpp"

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

int BenchStore(int packages, bool json) {
  std::string path =
      (std::filesystem::temp_directory_path() / fmt::format("pkgtrust-bench-{}.db", getpid())).string();
  auto opened = store::PackageStore::Open({.path = path}, core::SystemClock::Instance());
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
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path + suffix);

  fmt::print("store: {} packages, SQLite WAL, synchronous=NORMAL\n", packages);
  fmt::print("  enqueue (insert, new run):             {:>10.0f} per s\n", enqueue);
  fmt::print("  transitions committed (with a fact):   {:>10.0f} per s ({} transactions)\n", transitions,
             transactions);
  fmt::print("  CPU per transition (all threads):      {:>10.1f} us\n", cpu_us);
  fmt::print("  stale transitions dropped:             {:>10.0f} per s\n", stale);
  if (json)
    fmt::print(
        R"({{"bench":"store","packages":{},"enqueue_per_s":{:.0f},"transitions_per_s":{:.0f},"cpu_us_per_transition":{:.1f},"stale_per_s":{:.0f}}})"
        "\n",
        packages, enqueue, transitions, cpu_us, stale);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  core::SetLogLevel(core::LogLevel::kWarn);
  std::string what = argc > 1 ? argv[1] : "";
  int count = 0;
  bool json = false;
  for (int i = 2; i < argc; ++i) {
    std::string arg = argv[i];
    if ((arg == "--messages" || arg == "--packages") && i + 1 < argc)
      count = std::atoi(argv[++i]);
    else if (arg == "--json")
      json = true;
  }
  if (what == "bus") return BenchBus(count > 0 ? count : 1'000'000, json);
  if (what == "store") return BenchStore(count > 0 ? count : 200'000, json);
  fmt::print(stderr, "usage: pkgtrust_bench bus [--messages N] [--json] | store [--packages N] [--json]\n");
  return 2;
}
