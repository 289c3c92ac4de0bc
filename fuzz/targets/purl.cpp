// Package URLs: parsing, the canonical form, and the mapping to a package key. A purl that
// parses must format to a purl that parses to the same components.
#include "pkgtrust/core/purl.hpp"

#include <cstdlib>

#include "fuzz_support.hpp"

using namespace pkgtrust;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto purl = core::ParsePurl(fuzz::AsText(data, size));
  if (!purl.ok()) return 0;
  std::string text = core::FormatPurl(*purl);
  auto again = core::ParsePurl(text);
  if (!again.ok() || !(*again == *purl)) std::abort();  // the canonical form must round-trip
  if (auto key = core::PackageKeyFromPurl(*purl); key.ok())
    (void)core::FormatPurl(core::PurlFromPackageKey(*key));
  return 0;
}
