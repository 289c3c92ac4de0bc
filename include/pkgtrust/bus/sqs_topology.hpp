// `pkgtrust topology plan|apply`: the topology file compared with what exists in the AWS
// account (ListTopics, ListQueues, GetQueueAttributes, ListSubscriptionsByTopic,
// GetSubscriptionAttributes), and the changes that make them match:
// - one SNS topic per topology topic, one SQS queue per topology queue with a dead-letter
//   queue (`<queue>_dlq`, after `max_receives` receives), the queue's visibility timeout
//   and a queue policy letting its topics send to it;
// - one subscription per (topic, queue) with the queue's filter policy and raw delivery.
// Names carry the configured prefix; topics and queues with that prefix that the file no
// longer names, and subscriptions of its topics to other endpoints, are reported and
// deleted only with `prune`. Applying twice changes nothing the second time.
#pragma once

#include <string>
#include <vector>

#include "pkgtrust/bus/sqs_transport.hpp"
#include "pkgtrust/bus/topology.hpp"
#include "pkgtrust/core/status.hpp"
#include "pkgtrust/net/sigv4.hpp"

namespace pkgtrust::bus {

struct TopologyChange {
  enum class Action {
    kCreate,
    kUpdate,
    kDelete,  // not in the file, and prune asked for
    kKeep,    // not in the file; reported, left alone without prune
  };
  Action action = Action::kCreate;
  std::string resource;  // "topic", "queue", "subscription"
  std::string name;      // as it exists in AWS; "topic -> queue" for subscriptions
  std::string detail;    // what is set or changed
};

struct TopologyPlan {
  std::string target;  // "<sns endpoint> / <sqs endpoint> (<region>), prefix '<p>'"
  std::vector<TopologyChange> changes;
  int topics = 0, queues = 0, subscriptions = 0;  // what the file asks for (dead-letter queues included)

  // True when applying would change nothing (kKeep items do not count).
  bool NothingToDo() const;
  // Human-readable, one line per change and a summary line.
  std::string Format() const;
};

// Reads the account and returns the changes `ApplySqsTopology` would make.
core::Result<TopologyPlan> PlanSqsTopology(const Topology& topology, const SqsTransportConfig& config,
                                           const net::AwsCredentials& credentials, bool prune);
// Makes the changes and returns them; stops at the first error, naming it (what was
// done before it stays done; running apply again continues).
core::Result<TopologyPlan> ApplySqsTopology(const Topology& topology, const SqsTransportConfig& config,
                                            const net::AwsCredentials& credentials, bool prune);

}  // namespace pkgtrust::bus
