// A transport for the shared transport tests: "memory", or "sqs" / "sqs-unbatched" on the
// fauxqs emulator with the topology applied under a name prefix of its own (so tests
// sharing the emulator never see each other's messages).
#pragma once

#include <atomic>
#include <memory>
#include <random>
#include <string>

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include "pkgtrust/bus/memory_transport.hpp"
#include "pkgtrust/bus/sqs_topology.hpp"
#include "pkgtrust/bus/sqs_transport.hpp"
#include "support/fauxqs_emulator.hpp"

namespace pkgtrust::testing {

class TransportUnderTest {
 public:
  virtual ~TransportUnderTest() = default;
  virtual bus::Transport& transport() = 0;
  virtual std::int64_t DeadLetters(const std::string& queue) = 0;
  // Waits until acks and retries have reached the broker.
  virtual void Settle() {}
};

// The emulator's endpoint with a fresh name prefix; long polls of 1 s so tests end fast.
inline bus::SqsTransportConfig EmulatorSqsConfig(const bus::MemoryTransportConfig& common, bool batching) {
  static std::atomic<int> counter{0};
  bus::SqsTransportConfig config;
  config.region = "us-east-1";
  config.sns_endpoint = config.sqs_endpoint = FauxqsEmulator::Shared().Endpoint();
  config.name_prefix = fmt::format("t{}x{}_", std::random_device{}() % 100000, ++counter);
  config.batching = batching;
  config.wait_time_seconds = 1;
  config.visibility_timeout = std::chrono::duration_cast<std::chrono::seconds>(common.visibility_timeout);
  config.max_receives = common.max_receives;
  config.max_extension = std::chrono::seconds(0);  // as the memory transport: no extension
  return config;
}

inline net::AwsCredentials EmulatorCredentials() { return {"AKIDTEST", "emulator-secret", ""}; }

class MemoryUnderTest : public TransportUnderTest {
 public:
  MemoryUnderTest(const bus::Topology& topology, bus::MemoryTransportConfig config) : transport_(topology, config) {}
  bus::Transport& transport() override { return transport_; }
  std::int64_t DeadLetters(const std::string& queue) override {
    return static_cast<std::int64_t>(transport_.DeadLetters(queue).size());
  }

 private:
  bus::MemoryTransport transport_;
};

class SqsUnderTest : public TransportUnderTest {
 public:
  SqsUnderTest(const bus::Topology& topology, const bus::SqsTransportConfig& config) {
    auto applied = bus::ApplySqsTopology(topology, config, EmulatorCredentials(), /*prune=*/false);
    INFO((applied.ok() ? applied->Format() : applied.status().message()));
    REQUIRE(applied.ok());
    auto created = bus::SqsTransport::Create(topology, config, EmulatorCredentials());
    INFO(created.status().message());
    REQUIRE(created.ok());
    transport_ = std::move(created).value();
  }
  bus::Transport& transport() override { return *transport_; }
  std::int64_t DeadLetters(const std::string& queue) override {
    auto count = transport_->DeadLetterCount(queue);
    return count.ok() ? *count : -1;
  }
  void Settle() override { transport_->Flush(); }
  bus::SqsTransport& sqs() { return *transport_; }

 private:
  std::unique_ptr<bus::SqsTransport> transport_;
};

inline std::unique_ptr<TransportUnderTest> MakeTransportUnderTest(const std::string& kind,
                                                                  const bus::Topology& topology,
                                                                  bus::MemoryTransportConfig config) {
  if (config.visibility_timeout < std::chrono::seconds(1)) config.visibility_timeout = std::chrono::seconds(30);
  if (kind == "memory") return std::make_unique<MemoryUnderTest>(topology, config);
  return std::make_unique<SqsUnderTest>(topology, EmulatorSqsConfig(config, kind == "sqs"));
}

}  // namespace pkgtrust::testing
