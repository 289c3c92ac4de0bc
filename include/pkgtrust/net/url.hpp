// Absolute http(s) URLs as the upstream client needs them: scheme, host, port, target.
#pragma once

#include <string>
#include <string_view>

#include "pkgtrust/core/status.hpp"

namespace pkgtrust::net {

struct Url {
  std::string scheme;  // "http" or "https"
  std::string host;    // without brackets for IPv6 literals
  std::string port;    // always set: "80", "443" or explicit
  std::string target;  // path and query, at least "/"

  bool tls() const { return scheme == "https"; }
  std::string HostKey() const;  // "https://host:port": one connection pool per key
  std::string ToString() const;
};

core::Result<Url> ParseUrl(std::string_view text);
// Resolves a Location header against the URL it came from (absolute, "//host/..", "/path", "rel").
core::Result<Url> ResolveUrl(const Url& base, std::string_view location);
// Percent-encodes one path segment (e.g. an npm scoped name "@babel/core" -> "@babel%2Fcore").
std::string EncodePathSegment(std::string_view segment);

}  // namespace pkgtrust::net
