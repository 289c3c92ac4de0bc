// Messages per second through SNS -> SQS -> receive -> ack on the fauxqs emulator (what
// the sqs transport does for every message a stage handles), with batching on and off.
#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <stdexcept>
#include <chrono>
#include <thread>
#include <vector>

#include "app/config.hpp"
#include "bench/benches.hpp"
#include "pkgtrust/bus/sqs_topology.hpp"
#include "pkgtrust/bus/sqs_transport.hpp"
#include "support/fauxqs_emulator.hpp"

namespace pkgtrust::bench {
namespace {

using Clock = std::chrono::steady_clock;

struct SqsFigures {
  double publish_per_s = 0, end_to_end_per_s = 0;
  int received = 0;
};

SqsFigures RunOnce(const std::string& endpoint, const bus::Topology& topology, int messages, int publishers,
                   bool batching, int round) {
  bus::SqsTransportConfig config;
  config.region = "us-east-1";
  config.sns_endpoint = config.sqs_endpoint = endpoint;
  config.name_prefix = fmt::format("bench{}{}_", batching ? "b" : "u", round);
  config.batching = batching;
  config.wait_time_seconds = 1;
  config.prefetch = 40;
  net::AwsCredentials credentials{"AKIDBENCH", "bench-secret", ""};
  auto applied = bus::ApplySqsTopology(topology, config, credentials, false);
  if (!applied.ok()) throw std::runtime_error(applied.status().message());
  auto transport = bus::SqsTransport::Create(topology, config, credentials);
  if (!transport.ok()) throw std::runtime_error(transport.status().message());
  bus::SqsTransport& t = **transport;

  std::atomic<int> received{0};
  std::atomic<bool> stop{false};
  auto start = Clock::now();
  // The consumer: what a stage does per message, without the handler.
  std::thread consumer([&] {
    const std::string queues[] = {"regular_parse_package"};
    while (received < messages && !stop) {
      auto got = t.Receive(queues[0], 32);
      for (const auto& d : got) (void)t.Ack(d);
      received += static_cast<int>(got.size());
      if (got.empty()) t.WaitForMessages(queues, std::chrono::milliseconds(100));
    }
  });
  std::vector<std::thread> threads;
  std::atomic<int> failed{0};
  for (int p = 0; p < publishers; ++p) {
    threads.emplace_back([&, p] {
      for (int i = p; i < messages; i += publishers) {
        bus::Message m;
        m.attributes.SetString("priority", "2");
        m.attributes.SetString("package_type", "npm");
        m.body = fmt::format(R"({{"ecosystem":"npm","name":"bench-{}","generation":1}})", i);
        if (!t.Publish("parse_registry", m).ok()) failed++;
      }
    });
  }
  for (auto& th : threads) th.join();
  double publish_s = std::chrono::duration<double>(Clock::now() - start).count();
  auto deadline = Clock::now() + std::chrono::seconds(120);
  while (received < messages - failed && Clock::now() < deadline) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  double total_s = std::chrono::duration<double>(Clock::now() - start).count();
  stop = true;
  t.Interrupt();
  consumer.join();
  t.Flush();
  if (failed > 0) fmt::print(stderr, "{} publishes failed\n", failed.load());
  return {messages / publish_s, received / total_s, received.load()};
}

}  // namespace

int BenchSqs(int messages, int rounds, int publishers, bool json) {
  testing::FauxqsEmulator emulator;
  bus::Topology topology = app::LoadTopologyFile(PKGTRUST_SOURCE_DIR "/config/topology.yaml");
  const int kPublishers = std::max(1, publishers);
  std::vector<SqsFigures> on, off;
  for (int round = 0; round < rounds; ++round) {
    for (bool batching : {true, false}) {
      SqsFigures f = RunOnce(emulator.Endpoint(), topology, messages, kPublishers, batching, round);
      fmt::print("batching {:3}: {} messages, {} publishers: published {:.0f}/s, SNS -> SQS -> receive -> ack "
                 "{:.0f}/s ({} received)\n",
                 batching ? "on" : "off", messages, kPublishers, f.publish_per_s, f.end_to_end_per_s, f.received);
      (batching ? on : off).push_back(f);
    }
  }
  auto median = [](std::vector<SqsFigures> v, double SqsFigures::*field) {
    std::sort(v.begin(), v.end(), [&](const auto& a, const auto& b) { return a.*field < b.*field; });
    return v[v.size() / 2].*field;
  };
  fmt::print("median of {}: batching on {:.0f}/s end to end ({:.0f}/s published); off {:.0f}/s ({:.0f}/s); ratio {:.2f}\n",
             rounds, median(on, &SqsFigures::end_to_end_per_s), median(on, &SqsFigures::publish_per_s),
             median(off, &SqsFigures::end_to_end_per_s), median(off, &SqsFigures::publish_per_s),
             median(on, &SqsFigures::end_to_end_per_s) / median(off, &SqsFigures::end_to_end_per_s));
  if (json)
    fmt::print(R"({{"bench":"sqs","messages":{},"rounds":{},"batched_per_s":{:.0f},"batched_publish_per_s":{:.0f},)"
               R"("unbatched_per_s":{:.0f},"unbatched_publish_per_s":{:.0f}}})"
               "\n",
               messages, rounds, median(on, &SqsFigures::end_to_end_per_s), median(on, &SqsFigures::publish_per_s),
               median(off, &SqsFigures::end_to_end_per_s), median(off, &SqsFigures::publish_per_s));
  return 0;
}

}  // namespace pkgtrust::bench
