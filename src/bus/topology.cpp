#include "pkgtrust/bus/topology.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <set>

namespace pkgtrust::bus {

std::vector<std::string> Topology::Topics() const {
  std::vector<std::string> topics;
  for (const QueueSpec& queue : queues)
    for (const std::string& topic : queue.topics)
      if (std::find(topics.begin(), topics.end(), topic) == topics.end()) topics.push_back(topic);
  return topics;
}

const QueueSpec* Topology::FindQueue(std::string_view name) const {
  for (const QueueSpec& queue : queues)
    if (queue.name == name) return &queue;
  return nullptr;
}

namespace {
bool ValidAwsName(std::string_view name) {
  if (name.empty() || name.size() > 80) return false;
  return std::all_of(name.begin(), name.end(),
                     [](unsigned char c) { return std::isalnum(c) || c == '-' || c == '_'; });
}
}  // namespace

core::Status ValidateTopology(const Topology& topology) {
  if (topology.queues.empty()) return core::Status::InvalidArgument("topology has no queues");
  std::set<std::string> names;
  for (const QueueSpec& queue : topology.queues) {
    if (!ValidAwsName(queue.name))
      return core::Status::InvalidArgument(
          fmt::format("queue name '{}' must be 1-80 letters, digits, '-' or '_'", queue.name));
    if (!names.insert(queue.name).second)
      return core::Status::InvalidArgument(fmt::format("queue '{}' is defined twice", queue.name));
    if (queue.topics.empty())
      return core::Status::InvalidArgument(fmt::format("queue '{}' has no topic", queue.name));
    for (const std::string& topic : queue.topics)
      if (!ValidAwsName(topic))
        return core::Status::InvalidArgument(fmt::format(
            "topic name '{}' of queue '{}' must be 1-80 letters, digits, '-' or '_'", topic, queue.name));
  }
  return core::Status::Ok();
}

}  // namespace pkgtrust::bus
