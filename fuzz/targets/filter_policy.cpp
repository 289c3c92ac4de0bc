// SNS filter policies: the policy JSON, then attributes to match (name=value lines after a
// "\n--\n").
#include "pkgtrust/bus/filter_policy.hpp"

#include "fuzz_support.hpp"
#include "pkgtrust/bus/message.hpp"

using namespace pkgtrust;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto parts = fuzz::SplitParts(fuzz::AsText(data, size));
  std::string error_key;
  auto policy = bus::FilterPolicy::Parse(parts[0], &error_key);
  if (!policy.ok()) return 0;
  bus::Attributes attributes;
  if (parts.size() > 1)
    for (std::string_view line : fuzz::SplitParts(parts[1], "\n")) {
      auto eq = line.find('=');
      if (eq == std::string_view::npos) continue;
      bus::AttributeType type = line.starts_with("#")   ? bus::AttributeType::kNumber
                                : line.starts_with("[") ? bus::AttributeType::kStringArray
                                                        : bus::AttributeType::kString;
      attributes.Set(std::string(line.substr(0, eq)), {type, std::string(line.substr(eq + 1))});
    }
  (void)policy->Matches(attributes);
  return 0;
}
