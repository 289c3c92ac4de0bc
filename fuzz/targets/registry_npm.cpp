// npm packuments (the SAX reader) and the downloads API's answers; facts read back from their
// stored form.
#include "fuzz_support.hpp"
#include "pkgtrust/registry/parsers.hpp"

using namespace pkgtrust;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text = fuzz::AsText(data, size);
  auto facts = registry::ParseNpmPackument(text, {core::Ecosystem::kNpm, "fuzzed"});
  if (facts.ok()) (void)registry::PackageFacts::FromJson(facts->ToJson());
  (void)registry::ParseNpmDownloads(text);
  return 0;
}
