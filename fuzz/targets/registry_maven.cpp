// Maven Central's XML: maven-metadata.xml and POMs.
#include "fuzz_support.hpp"
#include "pkgtrust/registry/parsers.hpp"

using namespace pkgtrust;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text = fuzz::AsText(data, size);
  (void)registry::ParseMavenMetadata(text);
  (void)registry::ParseMavenPom(text);
  return 0;
}
