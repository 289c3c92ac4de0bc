// Version order of each ecosystem (the first byte picks it; two versions separated by a
// newline): comparing must never fail unless a version is invalid, and must be antisymmetric.
#include "pkgtrust/core/version.hpp"

#include <cstdlib>

#include "fuzz_support.hpp"

using namespace pkgtrust;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  core::Ecosystem eco = core::kAllEcosystems[data[0] % 5];
  std::string_view text = fuzz::AsText(data + 1, size - 1);
  auto newline = text.find('\n');
  std::string_view a = text.substr(0, newline);
  std::string_view b = newline == std::string_view::npos ? a : text.substr(newline + 1);
  auto ab = core::CompareVersions(eco, a, b);
  auto ba = core::CompareVersions(eco, b, a);
  if (ab.has_value() != ba.has_value()) std::abort();
  if (ab && *ab != -*ba) std::abort();                                        // antisymmetric
  if (ab && core::CompareVersions(eco, a, a).value_or(1) != 0) std::abort();  // reflexive
  return 0;
}
