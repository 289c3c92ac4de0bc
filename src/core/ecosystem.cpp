#include "pkgtrust/core/ecosystem.hpp"

#include <algorithm>
#include <cctype>

namespace pkgtrust::core {

std::string_view EcosystemName(Ecosystem ecosystem) {
  switch (ecosystem) {
    case Ecosystem::kNpm:
      return "npm";
    case Ecosystem::kPypi:
      return "pypi";
    case Ecosystem::kCrates:
      return "crates";
    case Ecosystem::kMaven:
      return "maven";
    case Ecosystem::kGo:
      return "go";
  }
  return "unknown";
}

std::string_view PurlType(Ecosystem ecosystem) {
  switch (ecosystem) {
    case Ecosystem::kNpm:
      return "npm";
    case Ecosystem::kPypi:
      return "pypi";
    case Ecosystem::kCrates:
      return "cargo";
    case Ecosystem::kMaven:
      return "maven";
    case Ecosystem::kGo:
      return "golang";
  }
  return "unknown";
}

std::optional<Ecosystem> ParseEcosystem(std::string_view text) {
  if (text.size() > 16) return std::nullopt;
  std::string lower(text);
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  if (lower == "npm") return Ecosystem::kNpm;
  if (lower == "pypi") return Ecosystem::kPypi;
  if (lower == "crates" || lower == "cargo" || lower == "crates.io") return Ecosystem::kCrates;
  if (lower == "maven") return Ecosystem::kMaven;
  if (lower == "go" || lower == "golang" || lower == "goproxy") return Ecosystem::kGo;
  return std::nullopt;
}

Result<Ecosystem> ParseEcosystemOrError(std::string_view text) {
  if (auto eco = ParseEcosystem(text)) return *eco;
  std::string shown(text.substr(0, 40));
  return Status::InvalidArgument("unknown ecosystem '" + shown +
                                 "' (expected one of npm, pypi, crates, maven, go)");
}

std::string PackageKey::ToString() const {
  std::string out(EcosystemName(ecosystem));
  out += '/';
  out += name;
  return out;
}

}  // namespace pkgtrust::core
