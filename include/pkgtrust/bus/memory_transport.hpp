// In-process transport: SNS-style topic fan-out by filter policy into SQS-style queues
// with visibility timeouts, redelivery, receive counts and dead letters.
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <unordered_map>

#include "pkgtrust/bus/topology.hpp"
#include "pkgtrust/bus/transport.hpp"
#include "pkgtrust/core/clock.hpp"

namespace pkgtrust::bus {

struct MemoryTransportConfig {
  std::chrono::milliseconds visibility_timeout{30'000};
  // A message received this many times and still not acked goes to the queue's dead
  // letters instead of being delivered again. 0 = never.
  int max_receives = 10;
};

// Safe for concurrent use. The clock decides visibility; waits use real time.
class MemoryTransport final : public Transport {
 public:
  MemoryTransport(const Topology& topology, MemoryTransportConfig config,
                  const core::Clock& clock = core::SystemClock::Instance());
  ~MemoryTransport() override;

  core::Status Publish(std::string_view topic, const Message& message) override;
  std::vector<Delivery> Receive(std::string_view queue, std::size_t max_messages) override;
  void WaitForMessages(std::span<const std::string> queues, std::chrono::milliseconds max_wait) override;
  core::Status Ack(const Delivery& delivery) override;
  core::Status Retry(const Delivery& delivery, std::chrono::milliseconds delay) override;
  void Interrupt() override;
  TransportStats Stats() const override;

  // The messages that went to `queue`'s dead letters, oldest first.
  std::vector<Message> DeadLetters(std::string_view queue) const;

 private:
  struct Queue;
  struct Subscription;
  Queue* FindQueue(std::string_view name) const;
  void NotifyWaiters();

  MemoryTransportConfig config_;
  const core::Clock& clock_;
  std::vector<std::unique_ptr<Queue>> queues_;
  std::unordered_map<std::string, std::vector<Subscription>> subscriptions_;  // by topic
  std::atomic<std::uint64_t> next_id_{1};
  std::atomic<std::int64_t> published_{0};
  std::atomic<std::int64_t> unroutable_{0};

  std::mutex wait_mu_;
  std::condition_variable wait_cv_;
  std::atomic<int> waiters_{0};
  std::uint64_t wake_generation_ = 0;  // guarded by wait_mu_
};

}  // namespace pkgtrust::bus
