// A forwarding Transport that loses, duplicates and delays messages and loses acks, with
// seeded randomness, so tests can show the pipeline survives an unreliable bus (the
// LevelDB fault-injection Env shape). For tests and benchmarks only.
#pragma once

#include <mutex>
#include <random>

#include "pkgtrust/bus/transport.hpp"
#include "pkgtrust/core/timer.hpp"

namespace pkgtrust::bus {

struct FaultConfig {
  double drop_publish = 0;       // probability a published message is lost
  double duplicate_publish = 0;  // probability it is published twice
  double delay_publish = 0;      // probability it is published after a delay
  std::chrono::milliseconds max_delay{50};
  double drop_ack = 0;  // probability an ack is lost (the message comes back)
  std::uint64_t seed = 42;
};

struct FaultCounts {
  std::int64_t dropped = 0, duplicated = 0, delayed = 0, acks_dropped = 0;
};

// Safe for concurrent use. Delayed publishes run on a timer thread it owns.
class FaultyTransport final : public Transport {
 public:
  FaultyTransport(Transport& inner, FaultConfig config);

  core::Status Publish(std::string_view topic, const Message& message) override;
  std::vector<Delivery> Receive(std::string_view queue, std::size_t max_messages) override {
    return inner_.Receive(queue, max_messages);
  }
  void WaitForMessages(std::span<const std::string> queues, std::chrono::milliseconds max_wait) override {
    inner_.WaitForMessages(queues, max_wait);
  }
  core::Status Ack(const Delivery& delivery) override;
  core::Status Retry(const Delivery& delivery, std::chrono::milliseconds delay) override {
    return inner_.Retry(delivery, delay);
  }
  void Interrupt() override { inner_.Interrupt(); }
  TransportStats Stats() const override { return inner_.Stats(); }

  FaultCounts Counts() const;

 private:
  bool Chance(double probability);

  Transport& inner_;
  FaultConfig config_;
  mutable std::mutex mu_;
  std::mt19937_64 rng_;
  FaultCounts counts_;
  core::Timer timer_;  // last member: destroyed first, so no delayed publish outlives the rest
};

}  // namespace pkgtrust::bus
