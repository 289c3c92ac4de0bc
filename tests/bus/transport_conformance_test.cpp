// One suite, every transport: the in-process one and SNS + SQS on the fauxqs emulator
// (with batching on and off). Routing by the shipped topology's filter policies,
// redelivery, retries, dead letters, wake-ups and the stage's priority-first scheduling
// must behave the same whichever transport carries the messages.
#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <map>
#include <random>
#include <set>
#include <thread>

#include "app/config.hpp"
#include "bus/transport_under_test.hpp"
#include "pkgtrust/bus/memory_transport.hpp"
#include "pkgtrust/pipeline/pipeline.hpp"
#include "pkgtrust/pipeline/stage.hpp"
#include <fmt/ranges.h>
#include "support/test_support.hpp"

using namespace pkgtrust;
using namespace std::chrono_literals;

namespace {

bus::Message Work(std::string body, std::map<std::string, std::string> attributes) {
  bus::Message message;
  message.body = std::move(body);
  for (auto& [name, value] : attributes) message.attributes.SetString(name, value);
  return message;
}

// Receives from `queue` until `count` messages arrived or `timeout` passed.
std::vector<bus::Delivery> ReceiveUpTo(bus::Transport& transport, const std::string& queue, std::size_t count,
                                       std::chrono::milliseconds timeout) {
  std::vector<bus::Delivery> out;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (out.size() < count && std::chrono::steady_clock::now() < deadline) {
    auto got = transport.Receive(queue, count - out.size());
    std::move(got.begin(), got.end(), std::back_inserter(out));
    if (out.size() < count) {
      std::string queues[] = {queue};
      transport.WaitForMessages(queues, 100ms);
    }
  }
  return out;
}

std::multiset<std::string> Bodies(const std::vector<bus::Delivery>& deliveries) {
  std::multiset<std::string> bodies;
  for (const auto& d : deliveries) bodies.insert(d.message->body);
  return bodies;
}

const char* const kKinds[] = {"memory", "sqs", "sqs-unbatched"};

}  // namespace

TEST_CASE("every transport routes by the shipped topology's filter policies", "[bus][transport]") {
  bus::Topology topology = app::LoadTopologyFile(PKGTRUST_SOURCE_DIR "/config/topology.yaml");
  for (const char* kind : kKinds) {
    DYNAMIC_SECTION(kind) {
      auto t = testing::MakeTransportUnderTest(kind, topology, {});
      bus::Transport& transport = t->transport();
      struct Case {
        const char* topic;
        std::map<std::string, std::string> attributes;
        const char* body;
      };
      std::vector<Case> cases = {
          {"parse_registry", {{"priority", "1"}, {"package_type", "npm"}}, "reg-p-npm"},
          {"parse_registry", {{"priority", "2"}, {"package_type", "pypi"}}, "reg-r-pypi"},
          {"parse_registry", {{"priority", "1"}, {"package_type", "crates"}}, "reg-p-crates"},
          {"parse_registry", {{"priority", "2"}, {"package_type", "go"}}, "reg-r-go"},
          {"parse_registry", {{"priority", "2"}, {"package_type", "maven"}}, "reg-r-maven"},
          {"parse_registry", {{"priority", "1"}, {"package_type", "rubygems"}}, "unroutable-type"},
          {"parse_registry", {{"priority", "3"}, {"package_type", "npm"}}, "unroutable-priority"},
          {"parse_repo", {{"priority", "1"}, {"repo_engine", "github"}}, "repo-p"},
          {"parse_repo", {{"priority", "2"}, {"repo_engine", "github"}}, "repo-r"},
          {"parse_repo", {{"priority", "2"}}, "unroutable-engine"},
          {"score_package", {{"priority", "1"}, {"package_type", "npm"}}, "score-p"},
          {"score_package", {{"priority", "2"}}, "score-r"},
      };
      for (const Case& c : cases) REQUIRE(transport.Publish(c.topic, Work(c.body, c.attributes)).ok());
      CHECK(transport.Publish("no_such_topic", Work("x", {{"priority", "1"}})).code() ==
            core::StatusCode::kNotFound);

      std::map<std::string, std::multiset<std::string>> expected = {
          {"priority_parse_package", {"reg-p-npm", "reg-p-crates"}},
          {"regular_parse_package", {"reg-r-pypi", "reg-r-go", "reg-r-maven"}},
          {"priority_parse_repository", {"repo-p"}},
          {"regular_parse_repository", {"repo-r"}},
          {"priority_score_package", {"score-p"}},
          {"regular_score_package", {"score-r"}},
      };
      for (const auto& [queue, bodies] : expected) {
        auto got = ReceiveUpTo(transport, queue, bodies.size(), 10s);
        INFO(queue);
        CHECK(Bodies(got) == bodies);
        for (const auto& d : got) {
          CHECK(d.receive_count == 1);
          CHECK(d.message->attributes.Find("priority") != nullptr);
          CHECK(transport.Ack(d).ok());
        }
      }
      // Nothing else arrives anywhere: the unroutable ones went nowhere.
      for (const auto& [queue, bodies] : expected) {
        INFO(queue);
        CHECK(ReceiveUpTo(transport, queue, 1, 1500ms).empty());
      }
    }
  }
}

TEST_CASE("every transport redelivers an unacked message and keeps an acked one gone", "[bus][transport]") {
  bus::Topology topology = app::LoadTopologyFile(PKGTRUST_SOURCE_DIR "/config/topology.yaml");
  for (const char* kind : kKinds) {
    DYNAMIC_SECTION(kind) {
      auto t = testing::MakeTransportUnderTest(kind, topology, {.visibility_timeout = 2s, .max_receives = 0});
      bus::Transport& transport = t->transport();
      REQUIRE(transport.Publish("score_package", Work("again", {{"priority", "1"}})).ok());
      auto first = ReceiveUpTo(transport, "priority_score_package", 1, 10s);
      REQUIRE(first.size() == 1);
      CHECK(first[0].receive_count == 1);
      // Not acked: back after the visibility timeout, counted as a second receive.
      auto second = ReceiveUpTo(transport, "priority_score_package", 1, 10s);
      REQUIRE(second.size() == 1);
      CHECK(second[0].message->body == "again");
      CHECK(second[0].receive_count == 2);
      CHECK(second[0].message_id == first[0].message_id);
      // Retry with no delay: at once, a third receive.
      REQUIRE(transport.Retry(second[0], 0ms).ok());
      auto third = ReceiveUpTo(transport, "priority_score_package", 1, 10s);
      REQUIRE(third.size() == 1);
      CHECK(third[0].receive_count == 3);
      REQUIRE(transport.Ack(third[0]).ok());
      t->Settle();
      CHECK(ReceiveUpTo(transport, "priority_score_package", 1, 3s).empty());
    }
  }
}

TEST_CASE("every transport sends a message to the dead letters after max_receives", "[bus][transport]") {
  bus::Topology topology = app::LoadTopologyFile(PKGTRUST_SOURCE_DIR "/config/topology.yaml");
  for (const char* kind : kKinds) {
    DYNAMIC_SECTION(kind) {
      auto t = testing::MakeTransportUnderTest(kind, topology, {.visibility_timeout = 30s, .max_receives = 3});
      bus::Transport& transport = t->transport();
      REQUIRE(transport.Publish("parse_repo", Work("poison", {{"priority", "2"}, {"repo_engine", "github"}})).ok());
      REQUIRE(transport.Publish("parse_repo", Work("fine", {{"priority", "2"}, {"repo_engine", "github"}})).ok());
      // The handler of "poison" fails every time: retried at once, three receives in all.
      int poison_receives = 0;
      auto deadline = std::chrono::steady_clock::now() + 20s;
      while (std::chrono::steady_clock::now() < deadline && poison_receives < 4) {
        auto got = ReceiveUpTo(transport, "regular_parse_repository", 1, 1500ms);
        if (got.empty()) {
          if (poison_receives == 3) break;  // gone from the queue
          continue;
        }
        if (got[0].message->body == "fine") {
          REQUIRE(transport.Ack(got[0]).ok());
          continue;
        }
        poison_receives++;
        CHECK(got[0].receive_count == poison_receives);
        REQUIRE(transport.Retry(got[0], 0ms).ok());
        t->Settle();
      }
      CHECK(poison_receives == 3);
      CHECK(testing::WaitUntil([&] { return t->DeadLetters("regular_parse_repository") == 1; }, 10s));
      CHECK(t->DeadLetters("priority_parse_repository") == 0);
    }
  }
}

TEST_CASE("every transport wakes a waiting receiver on publish and on interrupt", "[bus][transport]") {
  bus::Topology topology = app::LoadTopologyFile(PKGTRUST_SOURCE_DIR "/config/topology.yaml");
  for (const char* kind : kKinds) {
    DYNAMIC_SECTION(kind) {
      auto t = testing::MakeTransportUnderTest(kind, topology, {});
      bus::Transport& transport = t->transport();
      const std::string queues[] = {"priority_score_package", "regular_score_package"};
      transport.Receive(queues[0], 1);  // a stage reads these queues from now on
      transport.Receive(queues[1], 1);

      std::atomic<bool> woke{false};
      std::thread waiter([&] {
        transport.WaitForMessages(queues, 60s);
        woke = true;
      });
      std::this_thread::sleep_for(300ms);
      CHECK_FALSE(woke.load());  // still waiting: nothing to receive yet
      REQUIRE(transport.Publish("score_package", Work("wake", {{"priority", "2"}})).ok());
      CHECK(testing::WaitUntil([&] { return woke.load(); }, 30s));
      if (!woke) transport.Interrupt();
      waiter.join();
      auto got = ReceiveUpTo(transport, queues[1], 1, 5s);
      REQUIRE(got.size() == 1);
      CHECK(transport.Ack(got[0]).ok());

      woke = false;
      std::thread interrupted([&] {
        transport.WaitForMessages(queues, 60s);
        woke = true;
      });
      std::this_thread::sleep_for(300ms);
      CHECK_FALSE(woke.load());
      transport.Interrupt();
      CHECK(testing::WaitUntil([&] { return woke.load(); }, 30s));
      interrupted.join();
    }
  }
}

namespace {

// Records the order in which a stage handles packages.
class RecordingHandler : public pipeline::StageHandler {
 public:
  void Handle(const pipeline::WorkItem& item, std::function<void(pipeline::StageResult)> done) override {
    {
      std::lock_guard lock(mu_);
      order_.push_back(item.key.name);
    }
    done(pipeline::StageResult::Advance(core::PackageState::kNotFound));  // terminal: nothing published on
  }
  std::vector<std::string> Order() {
    std::lock_guard lock(mu_);
    return order_;
  }

 private:
  std::mutex mu_;
  std::vector<std::string> order_;
};

}  // namespace

TEST_CASE("over every transport a stage takes its priority queue first", "[bus][transport]") {
  bus::Topology topology = app::LoadTopologyFile(PKGTRUST_SOURCE_DIR "/config/topology.yaml");
  for (const char* kind : kKinds) {
    DYNAMIC_SECTION(kind) {
      testing::TempDir dir;
      auto store = store::Store::Open({.path = dir.File("state.db")}, core::SystemClock::Instance());
      REQUIRE(store.ok());
      auto t = testing::MakeTransportUnderTest(kind, topology, {});
      core::ThreadPoolExecutor executor(2);
      pipeline::Pipeline pipe(**store, t->transport(), executor, core::SystemClock::Instance(),
                              pipeline::ReconcilerConfig{.interval = 3600s});
      RecordingHandler handler;
      pipeline::StageConfig config;
      config.name = "registry";
      config.state = core::PackageState::kPendingRegistry;
      config.priority_queue = "priority_parse_package";
      config.regular_queue = "regular_parse_package";
      config.concurrency = 1;
      config.receive_batch = 1;
      config.regular_share = 0;
      pipe.AddStage(config, handler);

      // 30 regular packages queued before 5 user requests, then the stage starts.
      for (int i = 0; i < 30; ++i)
        REQUIRE(pipe.SubmitOne({{core::Ecosystem::kNpm, fmt::format("regular-{}", i)}, core::Priority::kRegular})
                    .ok());
      for (int i = 0; i < 5; ++i)
        REQUIRE(
            pipe.SubmitOne({{core::Ecosystem::kNpm, fmt::format("user-{}", i)}, core::Priority::kPriority}).ok());
      // The stage starts once the transport holds all five user requests ready to hand out
      // (over SQS: received into its buffer by the long polls a Receive starts), so what
      // is tested is the stage's choice, not which long poll answered first.
      bus::Transport& transport = t->transport();
      (void)transport.Receive(config.priority_queue, 0);
      (void)transport.Receive(config.regular_queue, 0);
      REQUIRE(testing::WaitUntil(
          [&] {
            bus::TransportStats stats = transport.Stats();
            return stats.queues[config.priority_queue].visible == 5 &&
                   stats.queues[config.regular_queue].visible > 0;
          },
          30s));
      pipe.Start();
      REQUIRE(testing::WaitUntil([&] { return handler.Order().size() == 35; }, 60s));
      pipe.Stop();
      executor.Stop();

      // The five user requests come first (without priority-first they would come last,
      // 30-34).
      std::vector<std::string> order = handler.Order();
      std::size_t last_user = 0;
      for (std::size_t i = 0; i < order.size(); ++i)
        if (order[i].starts_with("user-")) last_user = i;
      INFO("order: " << fmt::format("{}", fmt::join(order, " ")));
      CHECK(last_user == 4);
      CHECK(std::set<std::string>(order.begin(), order.end()).size() == 35);
    }
  }
}
