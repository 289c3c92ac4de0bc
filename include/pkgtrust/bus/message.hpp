// Messages on the bus: SNS-style typed attributes (what filter policies match on) plus a
// small body, and a Delivery (a message as received from one queue, with its receipt).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pkgtrust::bus {

enum class AttributeType { kString, kNumber, kStringArray };

struct AttributeValue {
  AttributeType type = AttributeType::kString;
  std::string value;  // as SNS carries it; for kStringArray the JSON array text
};

// A short list of (name, value) pairs; messages carry a handful, so lookup is linear.
class Attributes {
 public:
  Attributes() = default;
  Attributes(std::initializer_list<std::pair<std::string, std::string>> strings);

  void Set(std::string name, AttributeValue value);
  void SetString(std::string name, std::string value) {
    Set(std::move(name), {AttributeType::kString, std::move(value)});
  }
  const AttributeValue* Find(std::string_view name) const;
  bool empty() const { return items_.empty(); }
  std::size_t size() const { return items_.size(); }
  const std::vector<std::pair<std::string, AttributeValue>>& items() const { return items_; }

 private:
  std::vector<std::pair<std::string, AttributeValue>> items_;
};

struct Message {
  Attributes attributes;
  std::string body;
};

// A message received from a queue. The receipt identifies this receive for Ack/Retry.
// The message is shared, not copied: in process every receive of it points at one copy.
struct Delivery {
  std::string queue;
  std::string message_id;
  std::string receipt;
  int receive_count = 0;  // 1 on first delivery
  std::shared_ptr<const Message> message;
};

}  // namespace pkgtrust::bus
