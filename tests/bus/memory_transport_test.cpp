#include "pkgtrust/bus/memory_transport.hpp"

#include <atomic>
#include <catch2/catch.hpp>
#include <thread>

#include "pkgtrust/bus/faulty_transport.hpp"
#include "support/test_support.hpp"

using namespace pkgtrust;
using namespace std::chrono_literals;

namespace {

bus::Topology TwoLevelTopology() {
  bus::Topology topology;
  topology.version = "test";
  auto policy = [](const char* json) { return *bus::FilterPolicy::Parse(json); };
  topology.queues.push_back({"priority_q", {"work"}, policy(R"({"priority": ["1"]})")});
  topology.queues.push_back({"regular_q", {"work"}, policy(R"({"priority": ["2"]})")});
  topology.queues.push_back({"audit_q", {"work", "other"}, policy(R"({"audit": [{"exists": true}]})")});
  return topology;
}

bus::Message Msg(const char* priority, std::string body = "{}") {
  bus::Message m;
  m.attributes.SetString("priority", priority);
  m.body = std::move(body);
  return m;
}

}  // namespace

TEST_CASE("publish fans out to every queue whose policy matches", "[bus][memory]") {
  core::ManualClock clock;
  bus::MemoryTransport transport(TwoLevelTopology(), {}, clock);
  bus::Message audited = Msg("1", "a");
  audited.attributes.SetString("audit", "yes");
  REQUIRE(transport.Publish("work", audited).ok());
  REQUIRE(transport.Publish("work", Msg("2", "b")).ok());

  auto p = transport.Receive("priority_q", 10);
  auto r = transport.Receive("regular_q", 10);
  auto a = transport.Receive("audit_q", 10);
  REQUIRE(p.size() == 1);
  REQUIRE(r.size() == 1);
  REQUIRE(a.size() == 1);
  CHECK(p[0].message->body == "a");
  CHECK(r[0].message->body == "b");
  CHECK(a[0].message->body == "a");
  CHECK(p[0].message->attributes.Find("priority")->value == "1");
  CHECK(p[0].receive_count == 1);
}

TEST_CASE("a message matching no queue is counted, and an unknown topic is an error", "[bus][memory]") {
  core::ManualClock clock;
  bus::MemoryTransport transport(TwoLevelTopology(), {}, clock);
  REQUIRE(transport.Publish("work", Msg("3")).ok());
  CHECK(transport.Stats().unroutable == 1);
  CHECK(transport.Stats().published == 1);
  auto status = transport.Publish("no_such_topic", Msg("1"));
  CHECK(status.code() == core::StatusCode::kNotFound);
}

TEST_CASE("an unacked message comes back after the visibility timeout", "[bus][memory]") {
  core::ManualClock clock;
  bus::MemoryTransport transport(TwoLevelTopology(), {.visibility_timeout = 1000ms, .max_receives = 0},
                                 clock);
  REQUIRE(transport.Publish("work", Msg("1", "x")).ok());
  auto first = transport.Receive("priority_q", 10);
  REQUIRE(first.size() == 1);
  CHECK(transport.Receive("priority_q", 10).empty());
  clock.Advance(999);
  CHECK(transport.Receive("priority_q", 10).empty());
  clock.Advance(1);
  auto second = transport.Receive("priority_q", 10);
  REQUIRE(second.size() == 1);
  CHECK(second[0].receive_count == 2);
  CHECK(second[0].message_id == first[0].message_id);
  // The first receipt is no longer valid; the second acks the message for good.
  CHECK(transport.Ack(first[0]).code() == core::StatusCode::kNotFound);
  CHECK(transport.Ack(second[0]).ok());
  clock.Advance(5000);
  CHECK(transport.Receive("priority_q", 10).empty());
  auto stats = transport.Stats().queues["priority_q"];
  CHECK(stats.in_flight == 0);
  CHECK(stats.acked == 1);
  CHECK(stats.received == 2);
}

TEST_CASE("retry makes a message visible after its delay, keeping the receive count", "[bus][memory]") {
  core::ManualClock clock;
  bus::MemoryTransport transport(TwoLevelTopology(), {.visibility_timeout = 30000ms, .max_receives = 0},
                                 clock);
  REQUIRE(transport.Publish("work", Msg("2")).ok());
  auto d = transport.Receive("regular_q", 1);
  REQUIRE(d.size() == 1);
  REQUIRE(transport.Retry(d[0], 500ms).ok());
  CHECK(transport.Receive("regular_q", 1).empty());
  CHECK(transport.Stats().queues["regular_q"].delayed == 1);
  clock.Advance(500);
  auto again = transport.Receive("regular_q", 1);
  REQUIRE(again.size() == 1);
  CHECK(again[0].receive_count == 2);
  CHECK(transport.Retry(again[0], 0ms).ok());
  CHECK(transport.Receive("regular_q", 1).size() == 1);
}

TEST_CASE("a message received max_receives times goes to the dead letters", "[bus][memory]") {
  core::ManualClock clock;
  bus::MemoryTransport transport(TwoLevelTopology(), {.visibility_timeout = 100ms, .max_receives = 3}, clock);
  REQUIRE(transport.Publish("work", Msg("1", "poison")).ok());
  for (int i = 1; i <= 3; ++i) {
    auto d = transport.Receive("priority_q", 1);
    REQUIRE(d.size() == 1);
    CHECK(d[0].receive_count == i);
    clock.Advance(100);
  }
  CHECK(transport.Receive("priority_q", 1).empty());
  auto dead = transport.DeadLetters("priority_q");
  REQUIRE(dead.size() == 1);
  CHECK(dead[0].body == "poison");
  CHECK(transport.Stats().queues["priority_q"].dead_lettered == 1);
}

TEST_CASE("receive honours max_messages and WaitForMessages wakes on publish", "[bus][memory]") {
  bus::MemoryTransport transport(TwoLevelTopology(), {});
  for (int i = 0; i < 25; ++i) REQUIRE(transport.Publish("work", Msg("2")).ok());
  CHECK(transport.Receive("regular_q", 10).size() == 10);
  CHECK(transport.Receive("regular_q", 100).size() == 15);
  CHECK(transport.Receive("no_such_queue", 10).empty());

  // The waiter is still blocked until the publish, and the publish (not its ten minutes)
  // ends the wait.
  std::vector<std::string> queues = {"priority_q"};
  std::atomic<bool> woke{false};
  std::thread waiter([&] {
    transport.WaitForMessages(queues, std::chrono::minutes(10));
    woke = true;
  });
  std::this_thread::sleep_for(100ms);
  CHECK_FALSE(woke.load());
  REQUIRE(transport.Publish("work", Msg("1")).ok());
  bool ended = testing::WaitUntil([&] { return woke.load(); }, 60s);
  if (!ended) transport.Interrupt();
  waiter.join();
  CHECK(ended);
  CHECK(transport.Receive("priority_q", 1).size() == 1);
}

TEST_CASE("the fault wrapper drops, duplicates and delays as configured", "[bus][memory]") {
  bus::MemoryTransport inner(TwoLevelTopology(), {});
  bus::FaultyTransport faulty(
      inner,
      {.drop_publish = 0.1, .duplicate_publish = 0.1, .delay_publish = 0.1, .max_delay = 20ms, .seed = 7});
  for (int i = 0; i < 1000; ++i) REQUIRE(faulty.Publish("work", Msg("2")).ok());
  auto counts = faulty.Counts();
  CHECK(counts.dropped > 50);
  CHECK(counts.duplicated > 50);
  CHECK(counts.delayed > 50);
  std::size_t expected = 1000 - counts.dropped + counts.duplicated;
  std::size_t received = 0;
  auto deadline = std::chrono::steady_clock::now() + 5s;
  while (received < expected && std::chrono::steady_clock::now() < deadline) {
    received += inner.Receive("regular_q", 1000).size();
    std::this_thread::sleep_for(5ms);
  }
  CHECK(received == expected);
}
