#include "pkgtrust/net/url.hpp"

#include "pkgtrust/core/percent_encoding.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>

namespace pkgtrust::net {

std::string Url::HostKey() const {
  bool v6 = host.find(':') != std::string::npos;
  return fmt::format("{}://{}{}{}:{}", scheme, v6 ? "[" : "", host, v6 ? "]" : "", port);
}

std::string Url::ToString() const {
  bool default_port = (scheme == "http" && port == "80") || (scheme == "https" && port == "443");
  bool v6 = host.find(':') != std::string::npos;
  return fmt::format("{}://{}{}{}{}{}{}", scheme, v6 ? "[" : "", host, v6 ? "]" : "", default_port ? "" : ":",
                     default_port ? "" : port, target);
}

core::Result<Url> ParseUrl(std::string_view text) {
  auto bad = [&](std::string_view why) {
    return core::Status::InvalidArgument(fmt::format("invalid URL '{}': {}", text.substr(0, 200), why));
  };
  Url url;
  auto sep = text.find("://");
  if (sep == std::string_view::npos) return bad("expected http:// or https://");
  url.scheme = std::string(text.substr(0, sep));
  std::transform(url.scheme.begin(), url.scheme.end(), url.scheme.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  if (url.scheme != "http" && url.scheme != "https") return bad("expected http:// or https://");
  std::string_view rest = text.substr(sep + 3);
  auto slash = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, slash);
  std::string_view target = slash == std::string_view::npos ? std::string_view("/") : rest.substr(slash);
  if (auto hash = target.find('#'); hash != std::string_view::npos) target = target.substr(0, hash);
  url.target = target.empty() || target.front() != '/' ? "/" + std::string(target) : std::string(target);
  if (authority.find('@') != std::string_view::npos) return bad("credentials in URLs are not supported");
  if (authority.empty()) return bad("no host");
  if (authority.front() == '[') {
    auto close = authority.find(']');
    if (close == std::string_view::npos) return bad("unterminated IPv6 address");
    url.host = std::string(authority.substr(1, close - 1));
    authority = authority.substr(close + 1);
    if (!authority.empty() && authority.front() != ':') return bad("junk after IPv6 address");
    url.port = authority.empty() ? "" : std::string(authority.substr(1));
  } else {
    auto colon = authority.rfind(':');
    url.host = std::string(authority.substr(0, colon));
    url.port = colon == std::string_view::npos ? "" : std::string(authority.substr(colon + 1));
  }
  if (url.host.empty()) return bad("no host");
  for (char c : url.host)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == ':' || c == '_'))
      return bad("invalid host");
  if (url.port.empty()) url.port = url.tls() ? "443" : "80";
  if (url.port.size() > 5 || !std::all_of(url.port.begin(), url.port.end(), ::isdigit) ||
      std::stoi(url.port) == 0 || std::stoi(url.port) > 65535)
    return bad("invalid port");
  return url;
}

core::Result<Url> ResolveUrl(const Url& base, std::string_view location) {
  if (location.find("://") != std::string_view::npos) return ParseUrl(location);
  if (location.starts_with("//")) return ParseUrl(base.scheme + ":" + std::string(location));
  Url url = base;
  if (location.starts_with("/")) {
    url.target = std::string(location);
  } else {
    std::string path = base.target.substr(0, base.target.find('?'));
    url.target = path.substr(0, path.rfind('/') + 1) + std::string(location);
  }
  return url;
}

std::string EncodePathSegment(std::string_view segment) { return core::PercentEncode(segment, "@:"); }

}  // namespace pkgtrust::net
