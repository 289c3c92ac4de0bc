// Two `pkgtrust serve` processes, one SQLite file, one set of SNS topics and SQS queues on
// the fauxqs emulator: `pkgtrust topology apply` sets the account up, 1,000 packages fed
// through both webhooks all reach complete, and both processes did part of the work.
#include <fcntl.h>
#include <fmt/format.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio.hpp>
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "pkgtrust/core/package_name.hpp"
#include "pkgtrust/store/store.hpp"
#include "support/aws_account.hpp"
#include "support/fauxqs_emulator.hpp"
#include "support/http_test_client.hpp"
#include "support/left_pad_upstream.hpp"
#include "support/loopback_socket.hpp"
#include "support/pkgtrust_process.hpp"
#include "support/replay_server.hpp"
#include "support/test_support.hpp"

using namespace pkgtrust;
using namespace std::chrono_literals;
using nlohmann::json;

using testing::RunPkgtrust;
using testing::SpawnPkgtrust;

TEST_CASE("two serve processes share one database and one set of SQS queues", "[sqs][integration]") {
  testing::FauxqsEmulator& emulator = testing::FauxqsEmulator::Shared();
  testing::TempDir dir;

  // The upstream: left-pad's recorded packument under every name asked for, and its repository.
  testing::ReplayServer upstream(2);
  testing::ServeLeftPadUnderEveryName(upstream, "shared-");

  // Both processes: the same database file, the same queues (one name prefix).
  std::string prefix = fmt::format("shared{}_", std::random_device{}() % 100000);
  int ports[2] = {testing::FreeLoopbackPort(), testing::FreeLoopbackPort()};
  std::string configs[2];
  for (int i = 0; i < 2; ++i) {
    std::string yaml = fmt::format(
        "server:\n  listen: \"127.0.0.1:{}\"\n"
        "database:\n  path: {}\n"
        "transport:\n  kind: sqs\n  topology: {}/config/topology.yaml\n  visibility_timeout_seconds: 60\n"
        "  sqs:\n    region: us-east-1\n    endpoint: \"{}\"\n    name_prefix: {}\n    wait_time_seconds: 1\n"
        "    subscription_check_seconds: 1\n"
        "log:\n  level: warn\n"
        "upstreams:\n",
        ports[i], dir.File("shared.db"), PKGTRUST_SOURCE_DIR, emulator.Endpoint(), prefix);
    for (const char* name : {"npm", "npm_downloads", "pypi", "crates", "maven", "go", "github"})
      yaml += fmt::format("  {}: \"{}\"\n", name, upstream.BaseUrl());
    configs[i] = dir.File(fmt::format("serve{}.yaml", i));
    testing::WriteText(configs[i], yaml);
  }
  setenv("AWS_ACCESS_KEY_ID", "AKIDTEST", 1);
  setenv("AWS_SECRET_ACCESS_KEY", "emulator-secret", 1);
  unsetenv("AWS_SESSION_TOKEN");

  // Without the topology, serve refuses to start and says what to run.
  {
    int status = RunPkgtrust({"serve", "--config", configs[0]}, dir.File("early.log"));
    INFO(testing::ReadText(dir.File("early.log")));
    CHECK(status == 1);
    CHECK_THAT(testing::ReadText(dir.File("early.log")), Catch::Contains("pkgtrust topology apply"));
  }
  // plan shows changes (exit 2 with --detailed-exitcode), apply makes them, plan is then clean.
  CHECK(RunPkgtrust({"topology", "plan", "--config", configs[0], "--detailed-exitcode"},
                    dir.File("plan1.log")) == 2);
  REQUIRE(RunPkgtrust({"topology", "apply", "--config", configs[0]}, dir.File("apply.log")) == 0);
  {
    int status = RunPkgtrust({"topology", "plan", "--config", configs[0], "--detailed-exitcode"},
                             dir.File("plan2.log"));
    INFO(testing::ReadText(dir.File("plan2.log")));
    CHECK(status == 0);
    CHECK_THAT(testing::ReadText(dir.File("plan2.log")), Catch::Contains("Nothing to do"));
  }
  bus::SqsTransportConfig account_config;
  account_config.region = "us-east-1";
  account_config.sns_endpoint = account_config.sqs_endpoint = emulator.Endpoint();
  testing::AwsAccount account(account_config, {"AKIDTEST", "emulator-secret", ""});
  // A queue under the prefix that the file does not name: the account differs (exit 2),
  // though nothing would be created or changed.
  account.CreateQueue(prefix + "leftover");
  {
    int status = RunPkgtrust({"topology", "plan", "--config", configs[0], "--detailed-exitcode"},
                             dir.File("plan3.log"));
    INFO(testing::ReadText(dir.File("plan3.log")));
    CHECK(status == 2);
    CHECK_THAT(testing::ReadText(dir.File("plan3.log")), Catch::Contains("? queue " + prefix + "leftover"));
  }
  // A subscription deleted by hand: serve starts but is not ready, saying why, until
  // `topology apply` creates it again.
  account.Unsubscribe(account.SubscriptionArn(prefix + "score_package", prefix + "regular_score_package"));
  {
    pid_t early = SpawnPkgtrust({"serve", "--config", configs[0]}, dir.File("unready.log"));
    testing::ApiClient client(fmt::format("http://127.0.0.1:{}", ports[0]));
    testing::ApiResponse ready;
    bool answered = testing::WaitUntil(
        [&] {
          ready = client.Get("/readyz");  // past "starting up" (not_ready): ready, or why not
          return ready.status != 0 && !(ready.status == 503 && ready.Json()["error"]["code"] == "not_ready");
        },
        30s);
    INFO(testing::ReadText(dir.File("unready.log")));
    REQUIRE(answered);
    CHECK(ready.status == 503);
    CHECK(ready.Json()["error"]["code"] == "transport_not_ready");
    CHECK_THAT(ready.Json()["error"]["message"].get<std::string>(),
               Catch::Contains(prefix + "score_package -> " + prefix + "regular_score_package") &&
                   Catch::Contains("pkgtrust topology apply"));
    REQUIRE(RunPkgtrust({"topology", "apply", "--config", configs[0]}, dir.File("apply2.log")) == 0);
    CHECK(testing::WaitUntil([&] { return client.Get("/readyz").status == 200; }, 30s));
    kill(early, SIGTERM);
    int status = 0;
    waitpid(early, &status, 0);
    CHECK(WIFEXITED(status));
  }

  pid_t pids[2];
  std::unique_ptr<testing::ApiClient> clients[2];
  for (int i = 0; i < 2; ++i) {
    pids[i] = SpawnPkgtrust({"serve", "--config", configs[i]}, dir.File(fmt::format("serve{}.log", i)));
    clients[i] = std::make_unique<testing::ApiClient>(fmt::format("http://127.0.0.1:{}", ports[i]));
  }
  auto logs = [&] {
    return testing::ReadText(dir.File("serve0.log")) + "\n---\n" + testing::ReadText(dir.File("serve1.log"));
  };
  for (int i = 0; i < 2; ++i) {
    bool up = testing::WaitUntil([&] { return clients[i]->Get("/readyz").status == 200; }, 30s);
    INFO(logs());
    REQUIRE(up);
  }

  auto store = store::Store::Open({.path = dir.File("shared.db")}, core::SystemClock::Instance());
  REQUIRE(store.ok());
  auto complete = [&]() -> std::int64_t {
    auto counts = (*store)->CountByState();
    if (!counts.ok()) return -1;
    auto it = counts->find(core::PackageState::kComplete);
    return it == counts->end() ? 0 : it->second;
  };
  // Packages [first, first + count), in batches of 50, through the webhooks of `senders` in
  // turn; then waits until every package sent so far is complete.
  auto feed = [&](int first, int count, std::vector<int> senders) {
    for (int batch = 0; batch < count / 50; ++batch) {
      json events = json::array();
      for (int j = 0; j < 50; ++j)
        events.push_back({{"name", fmt::format("shared-{}", first + batch * 50 + j)},
                          {"version", "1.3.0"},
                          {"created_date", "2026-11-20T10:00:00Z"},
                          {"type", "npm"},
                          {"schema_ver", "1.1"}});
      auto r = clients[senders[static_cast<std::size_t>(batch) % senders.size()]]->Post(
          "/v1/feeds/package-feeds", events.dump());
      INFO(r.status << " " << r.body << r.error);
      REQUIRE(r.status == 200);
    }
    bool done = testing::WaitUntil([&] { return complete() == first + count; }, 240s);
    auto counts = (*store)->CountByState();
    std::string summary;
    if (counts.ok())
      for (const auto& [state, n] : *counts)
        summary += fmt::format("{}={} ", core::PackageStateName(state), n);
    INFO("states: " << summary);
    INFO(logs());
    REQUIRE(done);
  };
  // Each stage's completed messages in process i (0 before the first).
  auto completed = [&](int i, const char* stage) {
    std::string metrics = clients[i]->Get("/metrics").body;
    return std::max(0.0, testing::MetricValue(metrics, "pkgtrust_stage_messages_total",
                                              fmt::format(R"(stage="{}",outcome="completed")", stage)));
  };
  // Only one process can receive: the other is stopped (SIGSTOP) once its last long poll
  // (wait_time_seconds: 1) has ended, so nothing sent afterwards can be in its hands.
  auto alone = [&](int running, int first, int count) {
    int stopped = 1 - running;
    REQUIRE(kill(pids[stopped], SIGSTOP) == 0);
    // Continued however this ends (a failed REQUIRE too), so that it can be stopped.
    struct Continue {
      pid_t pid;
      ~Continue() { kill(pid, SIGCONT); }
    } resume{pids[stopped]};
    std::this_thread::sleep_for(3s);
    feed(first, count, {running});
  };

  // Arranged shares: 200 packages with only process 0 receiving, then 200 with only process 1.
  alone(0, 0, 200);
  CHECK(completed(0, "registry") == 200);
  CHECK(completed(1, "registry") == 0);
  alone(1, 200, 200);
  CHECK(completed(0, "registry") == 200);
  CHECK(completed(1, "registry") == 200);
  CHECK(completed(1, "scoring") == 200);

  // Then 600 more with both receiving, sent through both webhooks in turn: every package is
  // worked on by exactly one process in each stage, whichever it was.
  constexpr int kPackages = 1000;
  feed(400, 600, {0, 1});
  double fetched[2] = {completed(0, "registry"), completed(1, "registry")};
  double scored[2] = {completed(0, "scoring"), completed(1, "scoring")};
  INFO("registry " << fetched[0] << " + " << fetched[1] << ", scoring " << scored[0] << " + " << scored[1]);
  CHECK(fetched[0] + fetched[1] == kPackages);
  CHECK(scored[0] + scored[1] == kPackages);

  (*store)->Close();
  for (pid_t pid : pids) {
    kill(pid, SIGTERM);
    int status = 0;
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status));
  }
  unsetenv("AWS_ACCESS_KEY_ID");
  unsetenv("AWS_SECRET_ACCESS_KEY");
}
