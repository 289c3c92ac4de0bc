// GET /v1/changes over real HTTP: a cold start while changes keep coming (no gap, no
// duplicate offset), resuming within the log, an offset older than the log, filters, and a
// subscriber that stops reading while others keep receiving.
#include "pkgtrust/api/change_stream.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio.hpp>
#include <catch2/catch.hpp>
#include <future>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>

#include "pkgtrust/api/api.hpp"
#include "pkgtrust/bus/memory_transport.hpp"
#include "pkgtrust/pipeline/pipeline.hpp"
#include "support/loopback_socket.hpp"
#include "support/sse_client.hpp"
#include "support/test_support.hpp"

using namespace pkgtrust;
using namespace std::chrono_literals;
using core::PackageState;
using nlohmann::json;

namespace {

// The API with its change feed over a temporary database; packages are finished by hand.
class StreamUnderTest {
 public:
  explicit StreamUnderTest(api::ChangeStreamConfig feed_config = {}, std::string db_path = "", int port = 0)
      : transport_(bus::Topology{}, {}) {
    if (db_path.empty()) db_path = dir_.File("changes.db");
    auto opened = store::Store::Open({.path = db_path}, core::SystemClock::Instance());
    REQUIRE(opened.ok());
    store_ = std::move(opened).value();
    pipeline_ = std::make_unique<pipeline::Pipeline>(*store_, transport_, executor_, core::SystemClock::Instance(),
                                                     pipeline::ReconcilerConfig{.interval = 3600s});
    lookup_ = std::make_unique<pipeline::PackageLookup>(pipeline::LookupConfig{}, *store_, *pipeline_,
                                                        executor_, core::SystemClock::Instance());
    api_ = std::make_unique<api::Api>(api::ApiConfig{}, *store_, *pipeline_, *lookup_);
    feed_ = std::make_unique<api::ChangeStream>(*store_, feed_config);
    api_->SetChangeStream(feed_.get());
    feed_->Start();
    server_ = std::make_unique<api::HttpServer>(api::ServerConfig{.port = port}, *api_);
    core::Status started = server_->Start();
    INFO(started.message());
    REQUIRE(started.ok());
  }
  ~StreamUnderTest() {
    server_->Stop(1s);
    feed_->Stop();
    store_->Close();
    executor_.Stop();
  }

  // Finishes packages named prefix0..prefix{n-1} (npm): not_found, or complete with a score.
  void Finish(const std::string& prefix, int n, std::optional<double> score = std::nullopt,
              core::Ecosystem ecosystem = core::Ecosystem::kNpm, int first = 0) {
    std::vector<store::EnqueueRequest> requests;
    for (int i = first; i < first + n; ++i)
      requests.push_back({{ecosystem, fmt::format("{}{}", prefix, i)}, core::Priority::kRegular});
    auto enqueued = store_->EnqueueManySync(requests);
    REQUIRE(enqueued.ok());
    std::vector<std::promise<bool>> done(enqueued->size());
    for (std::size_t i = 0; i < enqueued->size(); ++i) {
      const store::PackageRecord& r = (*enqueued)[i].record;
      auto commit = [&done, i](core::Result<store::TransitionResult> result) {
        done[i].set_value(result.ok() && result->outcome == store::TransitionOutcome::kApplied);
      };
      if (!score) {
        store_->Transition({r.key, PackageState::kPendingRegistry, r.generation, PackageState::kNotFound}, commit);
      } else {
        REQUIRE(store_->TransitionSync({r.key, PackageState::kPendingRegistry, r.generation, PackageState::kPendingScore})
                    .ok());
        store_->Transition({r.key, PackageState::kPendingScore, r.generation, PackageState::kComplete,
                            {{"score", fmt::format(R"({{"score":{},"flags":{{"malicious":false,"deprecated":{}}}}})",
                                                   *score, *score < 2 ? "true" : "false")}}},
                           commit);
      }
    }
    for (auto& d : done) REQUIRE(d.get_future().get());
    feed_->Notify();
  }

  testing::SseClient Subscribe(const std::string& query = "", const std::string& headers = "") {
    return testing::SseClient(server_->port(), "/v1/changes" + query, headers);
  }
  store::Store& store() { return *store_; }

 private:
  testing::TempDir dir_;
  bus::MemoryTransport transport_;
  core::ThreadPoolExecutor executor_{2};
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<pipeline::Pipeline> pipeline_;
  std::unique_ptr<pipeline::PackageLookup> lookup_;
  std::unique_ptr<api::Api> api_;
  std::unique_ptr<api::ChangeStream> feed_;
  std::unique_ptr<api::HttpServer> server_;
};

struct Received {
  std::vector<json> snapshot;
  std::int64_t snapshot_end = -1;
  std::vector<json> changes;
};

// Reads the snapshot, then changes until `until` says stop or nothing comes for 3 s.
Received Read(testing::SseClient& client, const std::function<bool(const Received&)>& until) {
  Received r;
  while (!until(r)) {
    auto event = client.Next(3s);
    if (!event) break;
    if (event->event == "snapshot") r.snapshot.push_back(json::parse(event->data));
    if (event->event == "snapshot_end") r.snapshot_end = std::stoll(*event->id);
    if (event->event == "change") {
      json data = json::parse(event->data);
      CHECK(std::to_string(data["offset"].get<std::int64_t>()) == *event->id);
      r.changes.push_back(std::move(data));
    }
  }
  return r;
}

}  // namespace

TEST_CASE("a cold start while changes keep coming gets the state, then every change once", "[api][changes]") {
  StreamUnderTest sut(api::ChangeStreamConfig{.page = 50});  // small pages: the state takes many reads
  sut.Finish("before-", 300, 5.0);

  testing::SseClient client = sut.Subscribe();
  CHECK_THAT(client.Head(), Catch::Contains("200") && Catch::Contains("text/event-stream"));
  auto first_event = client.Next();  // the first snapshot event: the state is being read
  REQUIRE(first_event);
  REQUIRE(first_event->event == "snapshot");
  // More packages finish, and some of the first ones are scored again, while it reads.
  // Finished before the subscription's first read: the writer starts after the headers.
  std::atomic<int> rescored{0};
  std::thread writer([&] {
    sut.Finish("during-", 300);
    for (int i = 0; i < 300; i += 3)
      rescored += sut.store()
                      .PutCompleteFactSync({core::Ecosystem::kNpm, fmt::format("before-{}", i)}, 1,
                                           {"score", R"({"score":1,"flags":{"deprecated":true}})"})
                      .ok();
  });
  Received r = Read(client, [](const Received& r) {
    std::set<std::string> during;
    for (const auto& c : r.changes)
      if (c["name"].get<std::string>().starts_with("during-")) during.insert(c["name"]);
    for (const auto& s : r.snapshot)
      if (s["name"].get<std::string>().starts_with("during-")) during.insert(s["name"]);
    return during.size() == 300 && r.snapshot_end >= 0;
  });
  writer.join();
  r.snapshot.insert(r.snapshot.begin(), json::parse(first_event->data));
  // Drain what is left.
  Received rest = Read(client, [](const Received&) { return false; });
  r.changes.insert(r.changes.end(), rest.changes.begin(), rest.changes.end());
  REQUIRE(r.snapshot_end >= 300);

  // No duplicate offset, in order.
  std::set<std::int64_t> offsets;
  std::int64_t previous = r.snapshot_end;
  for (const auto& c : r.changes) {
    std::int64_t offset = c["offset"];
    CHECK(offset > previous);
    previous = offset;
    CHECK(offsets.insert(offset).second);
  }
  // No gap: every change after S in the log was sent, or its package's snapshot row
  // already showed it (or a newer one).
  std::map<std::string, std::int64_t> snapshot_offset;
  for (const auto& s : r.snapshot) snapshot_offset[s["name"]] = s["offset"];
  auto log = sut.store().ReadChanges(r.snapshot_end, 100'000);
  REQUIRE(log.ok());
  CHECK(rescored == 100);
  // 300 + 300 finished, 100 rescored.
  REQUIRE(log->size() == static_cast<std::size_t>(700 - r.snapshot_end));
  for (const auto& change : *log) {
    INFO(change.key.name << " offset " << change.offset);
    auto shown = snapshot_offset.find(change.key.name);
    CHECK((offsets.contains(change.offset) || (shown != snapshot_offset.end() && shown->second >= change.offset)));
  }
  // Everyone's latest report arrived: the 100 rescored ones end at score 1.
  std::map<std::string, double> latest;
  for (const auto& s : r.snapshot)
    if (s.contains("score")) latest[s["name"]] = s["score"];
  for (const auto& c : r.changes)
    if (c.contains("score")) latest[c["name"]] = c["score"];
  for (int i = 0; i < 300; ++i) CHECK(latest[fmt::format("before-{}", i)] == (i % 3 == 0 ? 1.0 : 5.0));
}

TEST_CASE("a subscriber resumes after its last offset, and one too old gets a reset and the state", "[api][changes]") {
  StreamUnderTest sut;
  sut.Finish("p", 20);  // offsets 1..20

  auto resumed = sut.Subscribe("", "Last-Event-ID: 15\r\n");
  Received r = Read(resumed, [](const Received& r) { return r.changes.size() == 5; });
  CHECK(r.snapshot.empty());
  REQUIRE(r.changes.size() == 5);
  CHECK(r.changes[0]["offset"] == 16);
  CHECK(r.changes[4]["offset"] == 20);
  sut.Finish("q", 2);  // live: 21, 22
  Received live = Read(resumed, [](const Received& r) { return r.changes.size() == 2; });
  REQUIRE(live.changes.size() == 2);
  CHECK(live.changes[0]["offset"] == 21);

  // The log keeps only the newest 5: offset 3 is gone.
  REQUIRE(sut.store().CompactChangesSync(5, 0).ok());
  auto old = sut.Subscribe("?offset=3");
  auto first = old.Next();
  REQUIRE(first);
  CHECK(first->event == "reset");
  CHECK_THAT(first->data, Catch::Contains("offset 3 is not in the change log"));
  Received again = Read(old, [](const Received& r) { return r.snapshot_end >= 0; });
  CHECK(again.snapshot.size() == 22);
  CHECK(again.snapshot_end == 22);
  // Just below the oldest kept (18): nothing was missed, so no reset.
  auto edge = sut.Subscribe("?offset=17");
  Received e = Read(edge, [](const Received& r) { return r.changes.size() == 5; });
  CHECK(e.snapshot.empty());
  REQUIRE(e.changes.size() == 5);
  CHECK(e.changes[0]["offset"] == 18);
  CHECK(e.changes[4]["offset"] == 22);

  // A bad offset is a 400 naming it.
  auto bad = sut.Subscribe("?offset=abc");
  CHECK_THAT(bad.Head(), Catch::Contains("400"));
}

TEST_CASE("an idle subscriber gets a heartbeat comment every changes.heartbeat, and no event",
          "[api][changes]") {
  api::ChangeStreamConfig config;
  config.heartbeat = 200ms;
  StreamUnderTest sut(config);
  sut.Finish("beat", 1);
  auto idle = sut.Subscribe("");
  Received r = Read(idle, [](const Received& r) { return r.snapshot_end >= 0; });
  REQUIRE(r.snapshot_end == 1);
  int before = idle.comments();
  std::optional<testing::SseEvent> event;
  REQUIRE(testing::WaitUntil(
      [&] {
        event = idle.Next(100ms);  // nothing but comments arrive
        return event.has_value() || idle.comments() >= before + 3;
      },
      30s));
  CHECK_FALSE(event.has_value());
  CHECK_FALSE(idle.closed());
}

TEST_CASE("filters apply to the state and to the changes", "[api][changes]") {
  StreamUnderTest sut;
  sut.Finish("npm-low-", 3, 1.0);
  sut.Finish("npm-high-", 3, 8.0);
  sut.Finish("py-low-", 2, 1.5, core::Ecosystem::kPypi);

  auto low = sut.Subscribe("?score_below=2");
  auto npm_flagged = sut.Subscribe("?ecosystem=npm&flagged=true");
  auto prefix = sut.Subscribe("?prefix=npm-high-&score_above=7");
  auto prefix_only = sut.Subscribe("?prefix=npm-low-");
  Received l = Read(low, [](const Received& r) { return r.snapshot_end >= 0; });
  Received po = Read(prefix_only, [](const Received& r) { return r.snapshot_end >= 0; });
  CHECK(po.snapshot.size() == 3);  // of the 8
  Received f = Read(npm_flagged, [](const Received& r) { return r.snapshot_end >= 0; });
  Received p = Read(prefix, [](const Received& r) { return r.snapshot_end >= 0; });
  CHECK(l.snapshot.size() == 5);
  CHECK(f.snapshot.size() == 3);  // deprecated when the score is below 2
  CHECK(p.snapshot.size() == 3);

  sut.Finish("py-low-", 1, 0.5, core::Ecosystem::kPypi, 10);
  sut.Finish("npm-high-", 1, 9.0, core::Ecosystem::kNpm, 10);
  Received l2 = Read(low, [](const Received& r) { return !r.changes.empty(); });
  Received p2 = Read(prefix, [](const Received& r) { return !r.changes.empty(); });
  REQUIRE(l2.changes.size() == 1);
  CHECK(l2.changes[0]["name"] == "py-low-10");
  REQUIRE(p2.changes.size() == 1);
  CHECK(p2.changes[0]["name"] == "npm-high-10");
  CHECK_FALSE(npm_flagged.Next(1s).has_value());  // neither is a flagged npm package

  auto bad = sut.Subscribe("?ecosystem=cobol");
  CHECK_THAT(bad.Head(), Catch::Contains("400"));
}

TEST_CASE("a subscriber that stops reading does not hold up the others", "[api][changes]") {
  StreamUnderTest sut;
  auto stalled = sut.Subscribe();  // never read after this
  REQUIRE(!stalled.Head().empty());
  auto reader = sut.Subscribe();
  REQUIRE(Read(reader, [](const Received& r) { return r.snapshot_end >= 0; }).snapshot_end == 0);

  constexpr int kChanges = 100'000;
  std::atomic<bool> writing{true};
  std::thread writer([&] {
    for (int i = 0; i < kChanges; i += 5'000) sut.Finish("bulk-", 5'000, std::nullopt, core::Ecosystem::kNpm, i);
    writing = false;
  });
  // The reader keeps up while the writes happen, and ends with all of them.
  std::int64_t seen = 0, last = 0;
  while (seen < kChanges) {
    auto event = reader.Next(30s);
    REQUIRE(event);
    if (event->event != "change") continue;
    std::int64_t offset = std::stoll(*event->id);
    CHECK(offset == last + 1);
    last = offset;
    seen++;
  }
  writer.join();
  CHECK(seen == kChanges);
}

namespace {

// `pkgtrust watch --json --max-events MAX` against 127.0.0.1:port, its output in files.
pid_t SpawnWatch(int port, const std::string& out_path, const std::string& err_path, const char* max_events) {
  std::string url = fmt::format("http://127.0.0.1:{}", port);
  int out_fd = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  int err_fd = open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    dup2(out_fd, STDOUT_FILENO);
    dup2(err_fd, STDERR_FILENO);
    // Not this process's sockets: the server's listening one would keep the port taken.
    for (int fd = 3; fd < 4096; ++fd) close(fd);
    execl(PKGTRUST_BINARY, PKGTRUST_BINARY, "watch", "--url", url.c_str(), "--json", "--max-events",
          max_events, static_cast<char*>(nullptr));
    _exit(127);
  }
  close(out_fd);
  close(err_fd);
  return pid;
}

int WaitExit(pid_t pid) {
  int status = 0;
  bool exited = testing::WaitUntil([&] { return waitpid(pid, &status, WNOHANG) == pid; }, 30s);
  if (!exited) {
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    return -1;
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace

TEST_CASE("pkgtrust watch says why it retries in plain words, and Ctrl-C ends it quietly with 0",
          "[api][changes]") {
  testing::TempDir dir;
  int port = testing::FreeLoopbackPort();
  // Nobody listens: it retries, naming the error without Boost's source locations.
  pid_t refused = SpawnWatch(port, dir.File("r.out"), dir.File("r.err"), "0");
  REQUIRE(testing::WaitUntil(
      [&] { return testing::ReadText(dir.File("r.err")).find("retrying") != std::string::npos; }, 30s));
  kill(refused, SIGINT);
  CHECK(WaitExit(refused) == 0);
  std::string said = testing::ReadText(dir.File("r.err"));
  INFO(said);
  CHECK_THAT(said, Catch::Contains("Connection refused; retrying in 500 ms"));
  CHECK_THAT(said, !Catch::Contains(".hpp") && !Catch::Contains("boost"));

  // Connected and following: Ctrl-C ends it without a word about reconnecting.
  StreamUnderTest sut(api::ChangeStreamConfig{}, dir.File("w.db"), port);
  sut.Finish("q", 2);
  pid_t following = SpawnWatch(port, dir.File("f.out"), dir.File("f.err"), "0");
  REQUIRE(testing::WaitUntil(
      [&] { return testing::ReadText(dir.File("f.err")).find("following changes") != std::string::npos; },
      30s));
  kill(following, SIGINT);
  CHECK(WaitExit(following) == 0);
  INFO(testing::ReadText(dir.File("f.err")));
  CHECK_THAT(testing::ReadText(dir.File("f.err")),
             !Catch::Contains("reconnecting") && !Catch::Contains("closed"));
}

TEST_CASE("pkgtrust watch prints the state and the changes, and resumes after the server restarts",
          "[api][changes]") {
  testing::TempDir dir;
  int port = testing::FreeLoopbackPort();
  std::string db = dir.File("watch.db");
  auto sut = std::make_unique<StreamUnderTest>(api::ChangeStreamConfig{}, db, port);
  sut->Finish("w", 3);  // offsets 1-3: the state

  std::string out_path = dir.File("watch.out"), err_path = dir.File("watch.err");
  pid_t pid = SpawnWatch(port, out_path, err_path, "8");
  auto lines = [&] {
    std::vector<json> parsed;
    std::istringstream in(testing::ReadText(out_path));
    for (std::string line; std::getline(in, line);) parsed.push_back(json::parse(line));
    return parsed;
  };
  CHECK(testing::WaitUntil([&] { return lines().size() == 3; }, 30s));
  sut->Finish("x", 2);  // 4, 5
  CHECK(testing::WaitUntil([&] { return lines().size() == 5; }, 30s));

  sut.reset();  // the server goes away; watch keeps trying
  sut = std::make_unique<StreamUnderTest>(api::ChangeStreamConfig{}, db, port);
  sut->Finish("y", 3);  // 6-8, after the reconnect or before it: either way once
  int status = 0;
  bool exited = testing::WaitUntil([&] { return waitpid(pid, &status, WNOHANG) == pid; }, 60s);
  if (!exited) {
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
  }
  INFO(testing::ReadText(err_path));
  REQUIRE(exited);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  std::vector<json> printed = lines();
  REQUIRE(printed.size() == 8);
  for (std::size_t i = 0; i < printed.size(); ++i) CHECK(printed[i]["offset"] == static_cast<int>(i) + 1);
  CHECK(printed[3]["name"] == "x0");
  CHECK(printed[7]["name"] == "y2");
  CHECK_THAT(testing::ReadText(err_path), Catch::Contains("reconnecting after offset 5"));
}

TEST_CASE("a subscriber that falls out of the log is cut off with the reason", "[api][changes]") {
  StreamUnderTest sut(api::ChangeStreamConfig{.recent_changes = 100});  // little in memory: the log serves
  auto stalled = sut.Subscribe();
  auto end = Read(stalled, [](const Received& r) { return r.snapshot_end >= 0; });
  REQUIRE(end.snapshot_end == 0);
  // It stops reading while 30,000 changes happen (more than the sockets buffer), and the
  // log keeps only the newest 10.
  for (int i = 0; i < 30'000; i += 5'000) sut.Finish("gone-", 5'000, std::nullopt, core::Ecosystem::kNpm, i);
  REQUIRE(sut.store().CompactChangesSync(10, 0).ok());
  // Reading again: what was already on its way, then a reset saying why, then the end.
  std::optional<testing::SseEvent> reset;
  std::int64_t changes = 0;
  while (auto event = stalled.Next(10s)) {
    if (event->event == "change") changes++;
    if (event->event == "reset") reset = event;
  }
  REQUIRE(reset);
  CHECK_THAT(reset->data, Catch::Contains("fell behind") && Catch::Contains("reconnect without an offset"));
  CHECK(changes < 30'000);
  CHECK(stalled.closed());
}
