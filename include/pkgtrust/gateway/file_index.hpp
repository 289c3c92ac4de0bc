// The files a package's metadata publishes, read once per cached metadata document so that
// a file request finds its version, its upstream URL and its published hash without parsing
// the document again: npm's versions (dist.tarball, dist.integrity, dist.shasum, the time of
// publication) and PyPI's files (url, hashes.sha256, upload-time, the PEP 658 metadata
// file's hash).
#pragma once

#include <string>
#include <string_view>
#include <unordered_map>

#include "pkgtrust/core/clock.hpp"
#include "pkgtrust/core/status.hpp"

namespace pkgtrust::gateway {

struct PublishedFile {
  std::string version;
  std::string url;              // on the upstream, as published
  std::string integrity;        // npm: dist.integrity (SRI)
  std::string shasum;           // npm: dist.shasum (hex SHA-1)
  std::string sha256;           // PyPI: hashes.sha256 (hex)
  core::Millis published = 0;   // npm: the version's time; PyPI: the file's own upload-time
  bool has_metadata = false;    // PyPI: a PEP 658 metadata file is published
  std::string metadata_sha256;  // ... with this hash (empty: published without one)
};

// version -> its tarball. Versions without a dist.tarball are left out.
using NpmFiles = std::unordered_map<std::string, PublishedFile>;
core::Result<NpmFiles> ReadNpmFiles(std::string_view packument);

// filename -> the file. Files whose version no listed version claims are left out (the
// index filter removes them too).
using PypiFiles = std::unordered_map<std::string, PublishedFile>;
core::Result<PypiFiles> ReadPypiFiles(std::string_view project_page);

}  // namespace pkgtrust::gateway
