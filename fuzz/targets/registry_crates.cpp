// crates.io's API answers: a crate and its owners.
#include "fuzz_support.hpp"
#include "pkgtrust/registry/parsers.hpp"

using namespace pkgtrust;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text = fuzz::AsText(data, size);
  auto facts = registry::ParseCratesCrate(text, {core::Ecosystem::kCrates, "fuzzed"});
  if (facts.ok()) (void)registry::PackageFacts::FromJson(facts->ToJson());
  (void)registry::ParseCratesOwners(text);
  return 0;
}
