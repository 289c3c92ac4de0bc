// SNS subscription filter policies over message attributes, with SNS semantics:
// exact strings/numbers/booleans, "prefix", "suffix", "equals-ignore-case",
// "anything-but" (values, prefix or suffix), "numeric" (=, <, <=, >, >= and ranges),
// "exists", and "$or". AND across keys, OR within a key's list; a String.Array attribute
// matches when any element does. Limits as SNS: at most 5 keys and 150 combinations.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "pkgtrust/bus/message.hpp"
#include "pkgtrust/core/status.hpp"

namespace pkgtrust::bus {

// Immutable once parsed; safe for concurrent use.
class FilterPolicy {
 public:
  FilterPolicy();  // the empty policy: matches every message
  ~FilterPolicy();
  FilterPolicy(const FilterPolicy&);
  FilterPolicy& operator=(const FilterPolicy&);
  FilterPolicy(FilterPolicy&&) noexcept;
  FilterPolicy& operator=(FilterPolicy&&) noexcept;

  // Parses the policy's JSON text. On error, `error_key` (if given) receives the
  // attribute key the error is about, empty when it concerns the whole policy.
  static core::Result<FilterPolicy> Parse(std::string_view json_text, std::string* error_key = nullptr);

  bool Matches(const Attributes& attributes) const;
  // The policy as compact JSON (what SNS's FilterPolicy attribute holds).
  const std::string& json() const;

 private:
  struct Rep;
  std::shared_ptr<const Rep> rep_;
};

}  // namespace pkgtrust::bus
