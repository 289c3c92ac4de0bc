// What a client asks the gateway for, read from the request path below the gateway's prefix
// (`/registry/npm/`, `/registry/pypi/`): which package, which file, and the upstream path
// that serves it. Every name is validated for its ecosystem before it can reach an upstream
// URL; a path that climbs ("..") or hides a separator is refused.
#pragma once

#include <string>
#include <string_view>

#include "pkgtrust/core/ecosystem.hpp"
#include "pkgtrust/core/status.hpp"

namespace pkgtrust::gateway {

struct NpmRequest {
  enum class Kind { kPackument, kTarball, kAudit };
  Kind kind = Kind::kPackument;
  core::PackageKey key;       // normalized
  std::string name;           // as npm spells it ("@scope/name")
  std::string version;        // kTarball: the version in the file's name
  std::string upstream_path;  // below the upstream registry's root: "@scope%2fname", "name/-/name-1.0.0.tgz"
  std::string packument_path;  // the package's packument, for either kind: "@scope%2fname"
};

// `path`: the request's path below the npm prefix, still percent-encoded, without the query:
//   "left-pad", "@scope%2fname", "@scope/name"                         a packument
//   "left-pad/-/left-pad-1.3.0.tgz", "@scope/name/-/name-1.0.0.tgz"   a tarball
//   "-/npm/v1/security/advisories/bulk"                                 npm audit
core::Result<NpmRequest> ParseNpmRequest(std::string_view path);

struct PypiRequest {
  enum class Kind { kProjectPage, kFile };
  Kind kind = Kind::kProjectPage;
  core::PackageKey key;       // the project, normalized
  std::string upstream_path;  // kProjectPage: "simple/<normalized>/"; kFile: the file's path on the file host
  std::string filename;       // kFile
  bool metadata = false;      // kFile: the PEP 658 metadata file ("<file>.metadata")
};

// `path` below the PyPI prefix: "simple/<project>/" (with or without the last slash, any
// spelling of the name) or "files/<project>/<path on the upstream file host>" (the URLs
// the gateway's index pages give).
core::Result<PypiRequest> ParsePypiRequest(std::string_view path);

}  // namespace pkgtrust::gateway
