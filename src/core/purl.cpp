#include "pkgtrust/core/purl.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <vector>

#include "pkgtrust/core/package_name.hpp"
#include "pkgtrust/core/percent_encoding.hpp"

namespace pkgtrust::core {
namespace {

std::string Lowered(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

// purl spec: percent-encode components, except that ':' "does not need to be encoded".
std::string Encode(std::string_view s) { return PercentEncode(s, ":"); }

Result<std::string> Decode(std::string_view s) {
  auto decoded = PercentDecode(s);
  if (!decoded.ok()) return Status::InvalidArgument(decoded.status().message() + " in purl");
  return decoded;
}

std::vector<std::string_view> Split(std::string_view s, char sep) {
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  while (true) {
    std::size_t end = s.find(sep, start);
    if (end == std::string_view::npos) {
      parts.push_back(s.substr(start));
      return parts;
    }
    parts.push_back(s.substr(start, end - start));
    start = end + 1;
  }
}

bool ValidType(std::string_view type) {
  if (type.empty() || std::isdigit(static_cast<unsigned char>(type.front()))) return false;
  return std::all_of(type.begin(), type.end(),
                     [](unsigned char c) { return std::isalnum(c) || c == '.' || c == '+' || c == '-'; });
}

bool ValidQualifierKey(std::string_view key) {
  if (key.empty() || std::isdigit(static_cast<unsigned char>(key.front()))) return false;
  return std::all_of(key.begin(), key.end(),
                     [](unsigned char c) { return std::isalnum(c) || c == '.' || c == '-' || c == '_'; });
}

// Subpath: drop empty, "." and ".." segments (purl spec), decode the rest.
Result<std::string> ParseSubpath(std::string_view raw) {
  std::string out;
  for (std::string_view seg : Split(raw, '/')) {
    if (seg.empty() || seg == "." || seg == "..") continue;
    auto decoded = Decode(seg);
    if (!decoded.ok()) return decoded.status();
    // A segment that decodes to a separator or to a path step would not survive formatting.
    if (decoded->find('/') != std::string::npos || *decoded == "." || *decoded == "..")
      return Status::InvalidArgument("purl subpath segment contains an encoded '/', '.' or '..'");
    if (!out.empty()) out += '/';
    out += *decoded;
  }
  return out;
}

constexpr std::size_t kMaxPurlLength = 4096;

void ApplyTypeRules(Purl& purl) {
  if (purl.type == "pypi") {
    purl.name = Lowered(purl.name);
    std::replace(purl.name.begin(), purl.name.end(), '_', '-');
  }
}

}  // namespace

Result<Purl> ParsePurl(std::string_view text) {
  if (text.size() > kMaxPurlLength) return Status::InvalidArgument("purl longer than 4096 characters");
  if (text.size() < 4 || Lowered(text.substr(0, 4)) != "pkg:")
    return Status::InvalidArgument("a purl starts with 'pkg:'");
  std::string_view rest = text.substr(4);
  Purl purl;

  if (auto hash = rest.find('#'); hash != std::string_view::npos) {
    auto subpath = ParseSubpath(rest.substr(hash + 1));
    if (!subpath.ok()) return subpath.status();
    purl.subpath = std::move(subpath).value();
    rest = rest.substr(0, hash);
  }
  if (auto question = rest.find('?'); question != std::string_view::npos) {
    for (std::string_view pair : Split(rest.substr(question + 1), '&')) {
      if (pair.empty()) continue;
      auto eq = pair.find('=');
      if (eq == std::string_view::npos) return Status::InvalidArgument("purl qualifier without '='");
      std::string key = Lowered(pair.substr(0, eq));
      if (!ValidQualifierKey(key))
        return Status::InvalidArgument(fmt::format("invalid purl qualifier key '{}'", key));
      auto value = Decode(pair.substr(eq + 1));
      if (!value.ok()) return value.status();
      if (value->empty()) continue;
      if (purl.qualifiers.count(key))
        return Status::InvalidArgument(fmt::format("duplicate purl qualifier '{}'", key));
      purl.qualifiers.emplace(std::move(key), std::move(value).value());
    }
    rest = rest.substr(0, question);
  }
  while (!rest.empty() && rest.front() == '/') rest.remove_prefix(1);
  while (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);

  auto slash = rest.find('/');
  if (slash == std::string_view::npos) return Status::InvalidArgument("purl has no name");
  std::string_view type = rest.substr(0, slash);
  if (!ValidType(type)) return Status::InvalidArgument(fmt::format("invalid purl type '{}'", type));
  purl.type = Lowered(type);
  rest = rest.substr(slash + 1);

  // The version follows an '@' in the last segment (an unencoded npm scope '@' is not one).
  std::size_t last_slash = rest.rfind('/');
  std::size_t name_start = last_slash == std::string_view::npos ? 0 : last_slash + 1;
  if (auto at = rest.find('@', name_start); at != std::string_view::npos) {
    auto version = Decode(rest.substr(at + 1));
    if (!version.ok()) return version.status();
    purl.version = std::move(version).value();
    rest = rest.substr(0, at);
  }
  std::vector<std::string_view> segments;
  for (std::string_view seg : Split(rest, '/'))
    if (!seg.empty()) segments.push_back(seg);
  if (segments.empty()) return Status::InvalidArgument("purl has no name");
  auto name = Decode(segments.back());
  if (!name.ok()) return name.status();
  if (name->empty()) return Status::InvalidArgument("purl has no name");
  purl.name = std::move(name).value();
  segments.pop_back();
  for (std::string_view seg : segments) {
    auto decoded = Decode(seg);
    if (!decoded.ok()) return decoded.status();
    if (decoded->find('/') != std::string::npos)
      return Status::InvalidArgument("purl namespace segment contains an encoded '/'");
    if (!purl.namespace_.empty()) purl.namespace_ += '/';
    purl.namespace_ += *decoded;
  }
  ApplyTypeRules(purl);
  // Percent-encoding can triple a component: a purl within the limit whose canonical form is
  // not could be read but never written back (nor read again).
  if (FormatPurl(purl).size() > kMaxPurlLength)
    return Status::InvalidArgument("purl longer than 4096 characters once encoded");
  return purl;
}

Status ValidatePurlComponents(const Purl& purl) {
  if (!ValidType(purl.type)) return Status::InvalidArgument("purl type is missing or invalid");
  if (purl.name.empty()) return Status::InvalidArgument("purl name is missing");
  for (const auto& [key, value] : purl.qualifiers)
    if (!ValidQualifierKey(key))
      return Status::InvalidArgument(fmt::format("invalid purl qualifier key '{}'", key));
  return Status::Ok();
}

std::string FormatPurl(const Purl& purl) {
  std::string out = "pkg:" + Lowered(purl.type) + "/";
  if (!purl.namespace_.empty()) {
    for (std::string_view seg : Split(purl.namespace_, '/')) {
      out += Encode(seg);
      out += '/';
    }
  }
  out += Encode(purl.name);
  if (!purl.version.empty()) out += "@" + Encode(purl.version);
  char sep = '?';
  for (const auto& [key, value] : purl.qualifiers) {
    if (value.empty()) continue;
    out += sep;
    out += Lowered(key) + "=" + Encode(value);
    sep = '&';
  }
  if (!purl.subpath.empty()) {
    out += '#';
    bool first = true;
    for (std::string_view seg : Split(purl.subpath, '/')) {
      if (seg.empty() || seg == "." || seg == "..") continue;
      if (!first) out += '/';
      out += Encode(seg);
      first = false;
    }
  }
  return out;
}

Result<PackageKey> PackageKeyFromPurl(const Purl& purl) {
  std::optional<Ecosystem> eco;
  if (purl.type == "npm")
    eco = Ecosystem::kNpm;
  else if (purl.type == "pypi")
    eco = Ecosystem::kPypi;
  else if (purl.type == "cargo")
    eco = Ecosystem::kCrates;
  else if (purl.type == "maven")
    eco = Ecosystem::kMaven;
  else if (purl.type == "golang")
    eco = Ecosystem::kGo;
  if (!eco)
    return Status::InvalidArgument(
        fmt::format("purl type '{}' is not scored (supported: npm, pypi, cargo, maven, golang)", purl.type));
  std::string name;
  switch (*eco) {
    case Ecosystem::kMaven:
      if (purl.namespace_.empty())
        return Status::InvalidArgument("a maven purl needs a namespace (the groupId)");
      name = purl.namespace_ + ":" + purl.name;
      break;
    case Ecosystem::kNpm:
    case Ecosystem::kGo:
      name = purl.namespace_.empty() ? purl.name : purl.namespace_ + "/" + purl.name;
      break;
    case Ecosystem::kPypi:
    case Ecosystem::kCrates:
      if (!purl.namespace_.empty())
        return Status::InvalidArgument(fmt::format("a {} purl has no namespace", purl.type));
      name = purl.name;
      break;
  }
  return MakePackageKey(*eco, name);
}

Purl PurlFromPackageKey(const PackageKey& key, std::string_view version) {
  Purl purl;
  purl.type = std::string(PurlType(key.ecosystem));
  purl.version = std::string(version);
  std::string_view name = key.name;
  std::size_t split = std::string_view::npos;
  switch (key.ecosystem) {
    case Ecosystem::kMaven:
      split = name.find(':');
      break;
    case Ecosystem::kNpm:
      split = name.starts_with('@') ? name.find('/') : std::string_view::npos;  // a lockfile may give ""
      break;
    case Ecosystem::kGo:
      split = name.rfind('/');
      break;
    default:
      break;
  }
  if (split == std::string_view::npos) {
    purl.name = std::string(name);
  } else {
    purl.namespace_ = std::string(name.substr(0, split));
    purl.name = std::string(name.substr(split + 1));
  }
  return purl;
}

}  // namespace pkgtrust::core
