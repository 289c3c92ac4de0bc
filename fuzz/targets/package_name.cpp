// Package names of each ecosystem: validation and normalization (the first byte picks the
// ecosystem). A normalized name must normalize to itself.
#include "pkgtrust/core/package_name.hpp"

#include <cstdlib>

#include "fuzz_support.hpp"

using namespace pkgtrust;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  core::Ecosystem eco = core::kAllEcosystems[data[0] % 5];
  auto key = core::MakePackageKey(eco, fuzz::AsText(data + 1, size - 1));
  if (!key.ok()) return 0;
  auto again = core::MakePackageKey(eco, key->name);
  if (!again.ok() || again->name != key->name) std::abort();  // normalization is idempotent
  return 0;
}
