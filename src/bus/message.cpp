#include "pkgtrust/bus/message.hpp"

namespace pkgtrust::bus {

Attributes::Attributes(std::initializer_list<std::pair<std::string, std::string>> strings) {
  for (const auto& [name, value] : strings) SetString(name, value);
}

void Attributes::Set(std::string name, AttributeValue value) {
  for (auto& item : items_) {
    if (item.first == name) {
      item.second = std::move(value);
      return;
    }
  }
  items_.emplace_back(std::move(name), std::move(value));
}

const AttributeValue* Attributes::Find(std::string_view name) const {
  for (const auto& item : items_)
    if (item.first == name) return &item.second;
  return nullptr;
}

}  // namespace pkgtrust::bus
