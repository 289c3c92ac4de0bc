#include "pkgtrust/core/package_name.hpp"

#include <fmt/format.h>

#include <cctype>

namespace pkgtrust::core {
namespace {

bool IsAlnum(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; }
char Lower(char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); }

// A printable, shortened form of untrusted input for error messages.
std::string Shown(std::string_view name) {
  std::string out;
  for (char c : name.substr(0, 60)) out += (c >= 0x20 && c < 0x7f) ? c : '?';
  if (name.size() > 60) out += "...";
  return out;
}

Status Invalid(Ecosystem eco, std::string_view name, std::string_view why) {
  return Status::InvalidArgument(
      fmt::format("invalid {} package name '{}': {}", EcosystemName(eco), Shown(name), why));
}

// npm: validate-npm-package-name rules for new packages, minus the lower-case rule.
bool NpmPartOk(std::string_view part) {
  if (part.empty() || part.front() == '.' || part.front() == '_') return false;
  for (char c : part) {
    if (!(IsAlnum(c) || c == '-' || c == '.' || c == '_' || c == '~' || c == '!' || c == '*' || c == '\'' ||
          c == '(' || c == ')'))
      return false;
  }
  return true;
}

Result<std::string> NormalizeNpm(std::string_view name) {
  if (name.size() > 214) return Invalid(Ecosystem::kNpm, name, "longer than 214 characters");
  if (name.front() == '@') {
    auto slash = name.find('/');
    if (slash == std::string_view::npos)
      return Invalid(Ecosystem::kNpm, name, "scope without a package name");
    std::string_view scope = name.substr(1, slash - 1);
    std::string_view rest = name.substr(slash + 1);
    if (!NpmPartOk(scope)) return Invalid(Ecosystem::kNpm, name, "scope has characters npm does not allow");
    if (!NpmPartOk(rest)) return Invalid(Ecosystem::kNpm, name, "name has characters npm does not allow");
    return std::string(name);
  }
  if (!NpmPartOk(name)) return Invalid(Ecosystem::kNpm, name, "has characters npm does not allow");
  return std::string(name);
}

Result<std::string> NormalizePypi(std::string_view name) {
  if (!IsAlnum(name.front()) || !IsAlnum(name.back()))
    return Invalid(Ecosystem::kPypi, name, "must start and end with a letter or digit (PEP 508)");
  std::string out;
  out.reserve(name.size());
  bool in_separator = false;
  for (char c : name) {
    if (c == '-' || c == '_' || c == '.') {
      if (!in_separator) out += '-';
      in_separator = true;
    } else if (IsAlnum(c)) {
      out += Lower(c);
      in_separator = false;
    } else {
      return Invalid(Ecosystem::kPypi, name, "only letters, digits, '-', '_' and '.' are allowed (PEP 508)");
    }
  }
  return out;
}

Result<std::string> NormalizeCrates(std::string_view name) {
  if (name.size() > 64) return Invalid(Ecosystem::kCrates, name, "longer than 64 characters");
  if (!std::isalpha(static_cast<unsigned char>(name.front())))
    return Invalid(Ecosystem::kCrates, name, "must start with an ASCII letter");
  std::string out;
  out.reserve(name.size());
  for (char c : name) {
    if (c == '_' || c == '-')
      out += '-';
    else if (IsAlnum(c))
      out += Lower(c);
    else
      return Invalid(Ecosystem::kCrates, name, "only letters, digits, '-' and '_' are allowed");
  }
  return out;
}

bool MavenPartOk(std::string_view part) {
  if (part.empty()) return false;
  for (char c : part)
    if (!(IsAlnum(c) || c == '-' || c == '.' || c == '_')) return false;
  return true;
}

Result<std::string> NormalizeMaven(std::string_view name) {
  auto sep = name.find(':');
  if (sep == std::string_view::npos) sep = name.rfind('/');
  if (sep == std::string_view::npos)
    return Invalid(Ecosystem::kMaven, name, "expected 'groupId:artifactId' or 'groupId/artifactId'");
  std::string_view group = name.substr(0, sep);
  std::string_view artifact = name.substr(sep + 1);
  if (!MavenPartOk(group))
    return Invalid(Ecosystem::kMaven, name, "groupId must be letters, digits, '-', '_' or '.'");
  if (!MavenPartOk(artifact))
    return Invalid(Ecosystem::kMaven, name, "artifactId must be letters, digits, '-', '_' or '.'");
  // The groupId becomes a path (org.slf4j -> org/slf4j): no empty segment, so no "..", "/."
  // or leading dot; the artifactId is one path segment: never "." or "..".
  if (group.front() == '.' || group.back() == '.' || group.find("..") != std::string_view::npos)
    return Invalid(Ecosystem::kMaven, name, "groupId has an empty segment ('..' or a dot at an end)");
  if (artifact == "." || artifact == ".." || artifact.front() == '.')
    return Invalid(Ecosystem::kMaven, name, "artifactId must not start with '.'");
  return fmt::format("{}:{}", group, artifact);
}

Result<std::string> NormalizeGo(std::string_view name) {
  // golang.org/x/mod/module.CheckPath: elements non-empty, no leading/trailing dots,
  // allowed characters; the first element is a domain with a dot, lower case.
  std::size_t start = 0;
  bool first = true;
  while (start <= name.size()) {
    std::size_t end = name.find('/', start);
    if (end == std::string_view::npos) end = name.size();
    std::string_view elem = name.substr(start, end - start);
    if (elem.empty()) return Invalid(Ecosystem::kGo, name, "empty path element");
    if (elem.front() == '.' || elem.back() == '.')
      return Invalid(Ecosystem::kGo, name, "path element starts or ends with '.'");
    for (char c : elem) {
      bool ok = IsAlnum(c) || c == '-' || c == '.' || c == '_' || c == '~' || (!first && c == '+');
      if (!ok) return Invalid(Ecosystem::kGo, name, "path has characters Go module paths do not allow");
      if (first && std::isupper(static_cast<unsigned char>(c)))
        return Invalid(Ecosystem::kGo, name, "the domain must be lower case");
    }
    if (first && elem.find('.') == std::string_view::npos)
      return Invalid(Ecosystem::kGo, name, "the first path element must be a domain name such as github.com");
    first = false;
    start = end + 1;
  }
  return std::string(name);
}

}  // namespace

Result<std::string> NormalizePackageName(Ecosystem ecosystem, std::string_view name) {
  if (name.empty()) return Invalid(ecosystem, name, "empty");
  if (name.size() > kMaxPackageNameLength)
    return Invalid(ecosystem, name, fmt::format("longer than {} characters", kMaxPackageNameLength));
  switch (ecosystem) {
    case Ecosystem::kNpm:
      return NormalizeNpm(name);
    case Ecosystem::kPypi:
      return NormalizePypi(name);
    case Ecosystem::kCrates:
      return NormalizeCrates(name);
    case Ecosystem::kMaven:
      return NormalizeMaven(name);
    case Ecosystem::kGo:
      return NormalizeGo(name);
  }
  return Invalid(ecosystem, name, "unknown ecosystem");
}

Result<PackageKey> MakePackageKey(Ecosystem ecosystem, std::string_view name) {
  auto normalized = NormalizePackageName(ecosystem, name);
  if (!normalized.ok()) return normalized.status();
  return PackageKey{ecosystem, std::move(normalized).value()};
}

}  // namespace pkgtrust::core
