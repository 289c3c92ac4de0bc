// The Transport interface between pipeline stages: publish to a topic (fan-out to the
// subscribed queues whose filter policy matches), receive from a queue, ack, or retry
// after a delay. Delivery is at least once. Implementations: MemoryTransport (in
// process), FaultyTransport (test wrapper), and the SNS/SQS transport.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "pkgtrust/bus/message.hpp"
#include "pkgtrust/core/status.hpp"

namespace pkgtrust::bus {

struct QueueStats {
  std::int64_t visible = 0;    // ready to receive
  std::int64_t delayed = 0;    // waiting for a retry delay
  std::int64_t in_flight = 0;  // received, not yet acked
  std::int64_t dead_lettered = 0;
  std::int64_t received = 0;
  std::int64_t acked = 0;
};

struct TransportStats {
  std::map<std::string, QueueStats> queues;
  std::int64_t published = 0;
  std::int64_t unroutable = 0;  // published messages no queue's filter policy matched
};

// Implementations are safe for concurrent use.
class Transport {
 public:
  virtual ~Transport() = default;

  // Delivers the message to every queue subscribed to `topic` whose policy matches.
  // A message that matches no queue is counted and logged; that is not an error.
  virtual core::Status Publish(std::string_view topic, const Message& message) = 0;
  // Up to `max_messages` visible messages; never blocks.
  virtual std::vector<Delivery> Receive(std::string_view queue, std::size_t max_messages) = 0;
  // Returns when one of the queues may have a visible message, or after `max_wait`.
  virtual void WaitForMessages(std::span<const std::string> queues, std::chrono::milliseconds max_wait) = 0;
  // Removes the delivered message for good.
  virtual core::Status Ack(const Delivery& delivery) = 0;
  // Makes the message visible again after `delay` (its receive count is kept).
  virtual core::Status Retry(const Delivery& delivery, std::chrono::milliseconds delay) = 0;
  // Wakes every WaitForMessages caller (used at shutdown).
  virtual void Interrupt() = 0;
  virtual TransportStats Stats() const = 0;
  // Ok when the transport can deliver every kind of work; otherwise what is wrong (the
  // service's readiness fails with this message).
  virtual core::Status Health() const { return core::Status::Ok(); }
};

}  // namespace pkgtrust::bus
