// The `sqs` transport: topics are SNS topics, queues are SQS queues subscribed to them
// with the topology's filter policies (set up by `pkgtrust topology apply`, see
// sqs_topology.hpp), so several `pkgtrust serve` processes can share the work.
//
// - Publish sends the message with its attributes (what the filter policies match) and
//   returns once SNS has taken it. With batching, concurrent publishes to a topic share
//   PublishBatch requests of up to 10 (a request leaves at once; what arrives while it is
//   in flight goes in the next one), so batching costs no waiting.
// - Receive never blocks: each queue a stage reads is long-polled in the background
//   (batches of 10) into a small local buffer, and Receive takes from it. The stage asks
//   for its priority queue first, so priority work is taken first as with `memory`.
// - Ack deletes and Retry changes the message's visibility (the delay), both sent in the
//   background in batches; a lost Ack only means a redelivery, which the stages drop.
// - A message received and not yet acked has its visibility extended while it is being
//   worked on, for at most `max_extension`; after that it is left to expire and be
//   delivered again (a hung handler does not hold it forever).
// - A message received `max_receives` times goes to the queue's dead-letter queue
//   (SQS's redrive policy, set by `topology apply`).
// - SNS's envelope is unwrapped when a subscription does not use raw delivery.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "pkgtrust/bus/topology.hpp"
#include "pkgtrust/bus/transport.hpp"
#include "pkgtrust/core/status.hpp"
#include "pkgtrust/net/sigv4.hpp"

namespace pkgtrust::bus {

struct SqsTransportConfig {
  std::string region;        // AWS_REGION when empty
  std::string sns_endpoint;  // empty: https://sns.{region}.amazonaws.com
  std::string sqs_endpoint;  // empty: https://sqs.{region}.amazonaws.com
  std::string name_prefix;   // prepended to every topic and queue name (one deployment per prefix)
  bool raw_message_delivery = true;  // subscriptions deliver the bare message (else the SNS envelope)
  bool batching = true;              // PublishBatch, receives of 10, DeleteMessageBatch
  int wait_time_seconds = 20;        // long polling
  std::chrono::seconds visibility_timeout{300};
  int max_receives = 10;                      // receives before the dead-letter queue
  int prefetch = 20;                          // messages received ahead per queue
  std::chrono::seconds max_extension{3600};  // longest a received message's visibility is extended
  int publish_requests_per_topic = 4;         // PublishBatch requests in flight per topic
  int http_connections = 64;
  // How often the topology's subscriptions are listed again (Health() names missing ones).
  std::chrono::seconds subscription_check_interval{30};
  bool verify_tls = true;
};

// Names as they exist in AWS.
std::string SqsResourceName(const SqsTransportConfig& config, std::string_view logical_name);
// One message of a ReceiveMessage answer (its JSON object) as a Delivery of `queue`: the
// attributes from SQS (raw delivery) or from SNS's envelope, which is unwrapped. Whatever
// the message holds, the answer is a Delivery or an error; never a throw.
core::Result<Delivery> DecodeSqsMessage(std::string_view queue, std::string_view message_json);
std::string DeadLetterQueueName(const SqsTransportConfig& config, std::string_view queue);
// The config with the region and endpoints filled in (AWS_REGION / AWS_DEFAULT_REGION;
// AWS_ENDPOINT_URL_SNS / AWS_ENDPOINT_URL_SQS / AWS_ENDPOINT_URL; else AWS's own), or an
// error naming what is missing.
core::Result<SqsTransportConfig> ResolveSqsConfig(SqsTransportConfig config);

class SqsTransport final : public Transport {
 public:
  // Looks up the topology's topics and queues in the account; fails with a message naming
  // the first one that is missing (create them with `pkgtrust topology apply`). A missing
  // subscription does not fail the start: Health() reports it until it exists.
  static core::Result<std::unique_ptr<SqsTransport>> Create(const Topology& topology, SqsTransportConfig config,
                                                             net::AwsCredentials credentials);
  // Sends what is pending (acks, retries), hands back messages received but not taken.
  ~SqsTransport() override;

  core::Status Publish(std::string_view topic, const Message& message) override;
  std::vector<Delivery> Receive(std::string_view queue, std::size_t max_messages) override;
  void WaitForMessages(std::span<const std::string> queues, std::chrono::milliseconds max_wait) override;
  core::Status Ack(const Delivery& delivery) override;
  core::Status Retry(const Delivery& delivery, std::chrono::milliseconds delay) override;
  void Interrupt() override;
  // This process's counts; dead_lettered is the dead-letter queue's approximate size,
  // refreshed in the background.
  TransportStats Stats() const override;
  // An error while a subscription of the topology is missing (checked at start, then every
  // subscription_check_interval): its messages would reach no queue.
  core::Status Health() const override;

  // Waits until every ack and retry sent so far has been answered (tests, shutdown).
  void Flush();
  // The number of messages in `queue`'s dead-letter queue, asked of SQS now.
  core::Result<std::int64_t> DeadLetterCount(std::string_view queue);

  class Impl;

 private:
  explicit SqsTransport(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace pkgtrust::bus
