// PyPI's JSON API answers.
#include "fuzz_support.hpp"
#include "pkgtrust/registry/parsers.hpp"

using namespace pkgtrust;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto facts = registry::ParsePypiProject(fuzz::AsText(data, size), {core::Ecosystem::kPypi, "fuzzed"});
  if (facts.ok()) (void)registry::PackageFacts::FromJson(facts->ToJson());
  return 0;
}
