// The change stream under load (bench/README.md):
// - cold start: one subscriber receives the compacted state of N packages; events per second;
// - fan-out: S subscribers connected while changes are committed at a steady rate; the
//   delay from commit to delivery (p50/p99) and the commit rate reached meanwhile.
// The API, the change feed and the HTTP server run in this process over a SQLite file in
// $TMPDIR; subscribers are plain sockets read by one poll() loop.
#include <arpa/inet.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <poll.h>
#include <sqlite3.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <future>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "bench/benches.hpp"
#include "pkgtrust/api/api.hpp"
#include "pkgtrust/api/change_stream.hpp"
#include "pkgtrust/bus/memory_transport.hpp"
#include "pkgtrust/core/clock.hpp"
#include "pkgtrust/core/time.hpp"
#include "pkgtrust/pipeline/pipeline.hpp"

namespace pkgtrust::bench {
namespace {

using Clock = std::chrono::steady_clock;

int Connect(int port, const std::string& target) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd < 0 || connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0)
    throw std::runtime_error("cannot connect");
  std::string request = "GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
  if (send(fd, request.data(), request.size(), MSG_NOSIGNAL) < 0) throw std::runtime_error("cannot send");
  return fd;
}

// N complete packages with a score, written straight into a fresh database (as migration 4
// leaves them), so the cold start has something to send.
void Preload(const std::string& path, int packages) {
  sqlite3* db = nullptr;
  sqlite3_open(path.c_str(), &db);
  sqlite3_exec(db, "BEGIN", nullptr, nullptr, nullptr);
  sqlite3_stmt* insert = nullptr;
  sqlite3_prepare_v2(db,
                     "INSERT INTO packages (ecosystem, name, state, generation, priority, attempts, state_since, "
                     "created_at, report_state, report_generation, score, flags, change_offset) VALUES ('npm', ?, "
                     "'complete', 1, 2, 0, 1764000000000, 1764000000000, 'complete', 1, ?, "
                     "'{\"malicious\":false,\"deprecated\":false,\"archived\":false,\"typosquatting\":false}', 0)",
                     -1, &insert, nullptr);
  for (int i = 0; i < packages; ++i) {
    std::string name = fmt::format("package-{}", i);
    sqlite3_bind_text(insert, 1, name.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_double(insert, 2, (i % 100) / 10.0);
    sqlite3_step(insert);
    sqlite3_reset(insert);
  }
  sqlite3_finalize(insert);
  sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr);
  sqlite3_close(db);
}

class Service {
 public:
  explicit Service(const std::string& path) : transport_(bus::Topology{}, {}) {
    auto opened = store::Store::Open({.path = path}, core::SystemClock::Instance());
    if (!opened.ok()) throw std::runtime_error(opened.status().message());
    store_ = std::move(opened).value();
    pipeline_ = std::make_unique<pipeline::Pipeline>(*store_, transport_, executor_, core::SystemClock::Instance(),
                                                     pipeline::ReconcilerConfig{.interval = std::chrono::hours(1)});
    lookup_ = std::make_unique<pipeline::PackageLookup>(pipeline::LookupConfig{}, *store_, *pipeline_,
                                                        executor_, core::SystemClock::Instance());
    api_ = std::make_unique<api::Api>(api::ApiConfig{}, *store_, *pipeline_, *lookup_);
    feed_ = std::make_unique<api::ChangeStream>(*store_, api::ChangeStreamConfig{});
    api_->SetChangeStream(feed_.get());
    feed_->Start();
    server_ = std::make_unique<api::HttpServer>(api::ServerConfig{.port = 0, .threads = 2, .max_connections = 10'000},
                                                *api_);
    if (!server_->Start().ok()) throw std::runtime_error("server");
  }
  ~Service() {
    server_->Stop(std::chrono::seconds(1));
    feed_->Stop();
    store_->Close();
    executor_.Stop();
  }
  int port() const { return server_->port(); }
  store::Store& store() { return *store_; }
  api::ChangeStream& feed() { return *feed_; }

 private:
  bus::MemoryTransport transport_;
  core::ThreadPoolExecutor executor_{2};
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<pipeline::Pipeline> pipeline_;
  std::unique_ptr<pipeline::PackageLookup> lookup_;
  std::unique_ptr<api::Api> api_;
  std::unique_ptr<api::ChangeStream> feed_;
  std::unique_ptr<api::HttpServer> server_;
};

std::size_t Count(const std::string& text, std::string_view what) {
  std::size_t n = 0;
  for (std::size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + what.size())) n++;
  return n;
}

double ColdStart(int packages) {
  std::string path = (std::filesystem::temp_directory_path() / fmt::format("pkgtrust-changes-{}.db", getpid())).string();
  std::filesystem::remove(path);
  { Service create(path); }  // schema
  Preload(path, packages);
  double per_second = 0;
  {
    Service service(path);
    int fd = Connect(service.port(), "/v1/changes");
    auto start = Clock::now();
    std::size_t events = 0;
    std::string carry;
    std::vector<char> buffer(1 << 20);
    while (true) {
      ssize_t n = recv(fd, buffer.data(), buffer.size(), 0);
      if (n <= 0) break;
      carry.append(buffer.data(), static_cast<std::size_t>(n));
      // Count whole events; keep a partial one for the next read.
      std::size_t last = carry.rfind("\n\n");
      if (last == std::string::npos) continue;
      std::string whole = carry.substr(0, last + 2);
      carry.erase(0, last + 2);
      events += Count(whole, "event: snapshot\n");
      if (whole.find("event: snapshot_end") != std::string::npos) break;
    }
    double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    close(fd);
    per_second = static_cast<double>(events) / seconds;
    fmt::print("cold start: {} snapshot events to one subscriber in {:.2f} s: {:.0f} events/s\n", events, seconds,
               per_second);
  }
  std::filesystem::remove(path);
  std::filesystem::remove(path + "-wal");
  std::filesystem::remove(path + "-shm");
  return per_second;
}

struct FanOut {
  double p50_ms = 0, p99_ms = 0, commits_per_s = 0;
  std::size_t delivered = 0;
};

FanOut RunFanOut(int subscribers, int changes, int per_second) {
  rlimit limit{};
  getrlimit(RLIMIT_NOFILE, &limit);
  limit.rlim_cur = limit.rlim_max;
  setrlimit(RLIMIT_NOFILE, &limit);
  std::string path = (std::filesystem::temp_directory_path() / fmt::format("pkgtrust-fanout-{}.db", getpid())).string();
  std::filesystem::remove(path);
  FanOut out;
  {
    Service service(path);
    std::vector<pollfd> fds;
    for (int i = 0; i < subscribers; ++i) fds.push_back({Connect(service.port(), "/v1/changes"), POLLIN, 0});
    std::vector<std::string> carry(fds.size());
    std::vector<double> delays;
    std::atomic<bool> done{false};
    std::size_t expected = static_cast<std::size_t>(subscribers) * changes;
    // Reader: every subscriber's socket; the delay of each change event is now - its "at".
    std::thread reader([&] {
      std::vector<char> buffer(1 << 16);
      while (!done && delays.size() < expected) {
        if (poll(fds.data(), fds.size(), 200) <= 0) continue;
        double now_ms = static_cast<double>(core::SystemClock::Instance().NowMillis());
        for (std::size_t i = 0; i < fds.size(); ++i) {
          if (!(fds[i].revents & POLLIN)) continue;
          ssize_t n = recv(fds[i].fd, buffer.data(), buffer.size(), 0);
          if (n <= 0) continue;
          carry[i].append(buffer.data(), static_cast<std::size_t>(n));
          std::size_t at;
          while ((at = carry[i].find("\n\n")) != std::string::npos) {
            std::string event = carry[i].substr(0, at);
            carry[i].erase(0, at + 2);
            if (event.find("event: change") == std::string::npos) continue;
            // "at": when the change was committed (the store's clock, ms).
            auto stamp = event.find("\"at\":\"");
            if (stamp == std::string::npos) continue;
            auto end = event.find('"', stamp + 6);
            auto committed = core::ParseTimestamp(std::string_view(event).substr(stamp + 6, end - stamp - 6));
            if (committed) delays.push_back(now_ms - static_cast<double>(*committed));
          }
        }
      }
    });
    // Wait until every subscriber has its (empty) snapshot, then commit at the rate.
    while (service.feed().subscribers() < subscribers) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    auto start = Clock::now();
    int batch = std::max(1, per_second / 100);  // every 10 ms
    for (int i = 0; i < changes; i += batch) {
      std::vector<store::EnqueueRequest> requests;
      for (int j = i; j < std::min(changes, i + batch); ++j)
        requests.push_back({{core::Ecosystem::kNpm, fmt::format("live-{}", j)}, core::Priority::kRegular});
      auto enqueued = service.store().EnqueueManySync(requests);
      std::vector<std::future<void>> commits;
      for (const auto& e : *enqueued) {
        auto promise = std::make_shared<std::promise<void>>();
        commits.push_back(promise->get_future());
        service.store().Transition({e.record.key, core::PackageState::kPendingRegistry, e.record.generation,
                                    core::PackageState::kNotFound},
                                   [promise](auto) { promise->set_value(); });
      }
      for (auto& c : commits) c.wait();
      service.feed().Notify();  // as the stage observer does
      auto due = start + std::chrono::microseconds(static_cast<std::int64_t>(1e6 * (i + batch) / per_second));
      std::this_thread::sleep_until(due);
    }
    out.commits_per_s = changes / std::chrono::duration<double>(Clock::now() - start).count();
    auto deadline = Clock::now() + std::chrono::seconds(30);
    while (delays.size() < expected && Clock::now() < deadline) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    done = true;
    reader.join();
    for (auto& p : fds) close(p.fd);
    std::sort(delays.begin(), delays.end());
    out.delivered = delays.size();
    if (!delays.empty()) {
      out.p50_ms = delays[delays.size() / 2];
      out.p99_ms = delays[std::min(delays.size() - 1, delays.size() * 99 / 100)];
    }
  }
  std::filesystem::remove(path);
  std::filesystem::remove(path + "-wal");
  std::filesystem::remove(path + "-shm");
  fmt::print("fan-out: {} subscribers, {} changes at {}/s offered ({:.0f}/s committed): {} of {} deliveries, delay "
             "p50 {:.1f} ms, p99 {:.1f} ms\n",
             subscribers, changes, per_second, out.commits_per_s, out.delivered,
             static_cast<std::size_t>(subscribers) * changes, out.p50_ms, out.p99_ms);
  return out;
}

}  // namespace

int BenchChanges(int packages, int subscribers, int changes, int per_second, bool json) {
  double cold = ColdStart(packages);
  FanOut fan = RunFanOut(subscribers, changes, per_second);
  if (json)
    fmt::print(R"({{"bench":"changes","packages":{},"cold_start_events_per_s":{:.0f},"subscribers":{},"changes":{},)"
               R"("offered_per_s":{},"committed_per_s":{:.0f},"delivered":{},"delay_p50_ms":{:.1f},"delay_p99_ms":{:.1f}}})"
               "\n",
               packages, cold, subscribers, changes, per_second, fan.commits_per_s, fan.delivered, fan.p50_ms,
               fan.p99_ms);
  return 0;
}

}  // namespace pkgtrust::bench
