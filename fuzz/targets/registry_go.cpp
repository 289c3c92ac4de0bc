// The Go module proxy's answers: @v/list, .info (and @latest), go.mod with retractions.
#include "fuzz_support.hpp"
#include "pkgtrust/registry/parsers.hpp"

using namespace pkgtrust;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text = fuzz::AsText(data, size);
  std::vector<std::string> versions = registry::ParseGoVersionList(text);
  (void)registry::ParseGoInfo(text);
  registry::GoMod mod = registry::ParseGoMod(text);
  for (const std::string& v : versions) (void)registry::IsRetracted(mod, v);
  return 0;
}
