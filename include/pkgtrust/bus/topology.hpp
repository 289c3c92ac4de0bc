// The topology: queues, the topics each is subscribed to, and the filter policy of each
// subscription (config/topology.yaml). Both transports are built from it.
#pragma once

#include <string>
#include <vector>

#include "pkgtrust/bus/filter_policy.hpp"
#include "pkgtrust/core/status.hpp"

namespace pkgtrust::bus {

struct QueueSpec {
  std::string name;
  std::vector<std::string> topics;
  FilterPolicy filter_policy;  // empty policy: every message of the topics
};

struct Topology {
  std::string version;
  std::vector<QueueSpec> queues;

  // Union of every queue's topics, in first-seen order.
  std::vector<std::string> Topics() const;
  const QueueSpec* FindQueue(std::string_view name) const;
};

// Structural checks the YAML reader cannot do alone: unique queue names, at least one
// topic per queue, names that SNS and SQS accept (letters, digits, '-', '_', at most 80).
core::Status ValidateTopology(const Topology& topology);

}  // namespace pkgtrust::bus
