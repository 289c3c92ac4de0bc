// Lockfiles, manifests and SBOMs of every format (the first byte picks it): each parses or
// is one error naming the file, and every dependency it gives has a purl that formats.
#include "pkgtrust/lockfile/lockfile.hpp"

#include <cstdlib>

#include "fuzz_support.hpp"

using namespace pkgtrust;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  lockfile::Format format = lockfile::kAllFormats[data[0] % std::size(lockfile::kAllFormats)];
  lockfile::LockfileInput input{"fuzz.lock", std::string(fuzz::AsText(data + 1, size - 1)), nullptr};
  // requirements' `-r`: the same text once more, so that includes and their loops are read.
  input.read_relative = [&input](const std::string&) -> core::Result<std::string> { return input.text; };
  auto parsed = lockfile::ParseLockfile(format, input);
  if (!parsed.ok()) {
    if (!parsed.status().message().starts_with("fuzz.lock")) std::abort();  // errors name the file
    return 0;
  }
  for (const lockfile::LockedDependency& dependency : *parsed) {
    (void)core::FormatPurl(dependency.purl);
    if (dependency.line < 0) std::abort();
  }
  return 0;
}
