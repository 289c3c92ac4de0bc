// The YAML config file: any text is a config or one ConfigError naming file, line and key.
#include "app/config.hpp"

#include "fuzz_support.hpp"

using namespace pkgtrust;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    (void)app::ParseConfig(fuzz::AsText(data, size), "fuzz.yaml", "");
  } catch (const app::ConfigError&) {
  }
  try {
    (void)app::ParseTopology(fuzz::AsText(data, size), "fuzz-topology.yaml");
  } catch (const app::ConfigError&) {
  }
  return 0;
}
