#include "lockfile/sbom_purls.hpp"

#include <fmt/format.h>

#include <string>
#include <utility>

namespace pkgtrust::lockfile {

core::Purl Respelled(core::Purl purl) {
  core::Result<core::PackageKey> key = core::PackageKeyFromPurl(purl);
  if (!key.ok()) return purl;
  std::string name = purl.type == "maven"      ? fmt::format("{}:{}", purl.namespace_, purl.name)
                     : purl.namespace_.empty() ? purl.name
                                               : fmt::format("{}/{}", purl.namespace_, purl.name);
  core::Purl respelled = Dependency(key->ecosystem, name, purl.version, 0).purl;
  respelled.qualifiers = std::move(purl.qualifiers);
  respelled.subpath = std::move(purl.subpath);
  return respelled;
}

}  // namespace pkgtrust::lockfile
