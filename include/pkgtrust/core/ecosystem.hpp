// The ecosystems pkgtrust scores, their names in the API, in purls and in package-feeds,
// and the identity of a package (ecosystem + normalized name).
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "pkgtrust/core/status.hpp"

namespace pkgtrust::core {

enum class Ecosystem { kNpm, kPypi, kCrates, kMaven, kGo };

inline constexpr Ecosystem kAllEcosystems[] = {Ecosystem::kNpm, Ecosystem::kPypi, Ecosystem::kCrates,
                                               Ecosystem::kMaven, Ecosystem::kGo};

// API name: "npm", "pypi", "crates", "maven", "go". Also the `package_type` message attribute.
std::string_view EcosystemName(Ecosystem ecosystem);
// purl type: "npm", "pypi", "cargo", "maven", "golang".
std::string_view PurlType(Ecosystem ecosystem);
// Accepts the API names plus the aliases users and feeds use ("cargo", "crates.io",
// "golang", "goproxy", "PyPI"), case-insensitively.
std::optional<Ecosystem> ParseEcosystem(std::string_view text);
// Like ParseEcosystem, with an error naming the value and the accepted ones.
Result<Ecosystem> ParseEcosystemOrError(std::string_view text);

// A package's identity. `name` is always normalized (see package_name.hpp).
struct PackageKey {
  Ecosystem ecosystem = Ecosystem::kNpm;
  std::string name;

  std::string ToString() const;  // "npm/left-pad"
  friend bool operator==(const PackageKey&, const PackageKey&) = default;
};

struct PackageKeyHash {
  std::size_t operator()(const PackageKey& key) const {
    return std::hash<std::string>{}(key.name) * 31 + static_cast<std::size_t>(key.ecosystem);
  }
};

}  // namespace pkgtrust::core
