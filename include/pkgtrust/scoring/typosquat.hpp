// Typosquatting: a name one or two edits (a swapped or repeated character included), a
// scope change or a separator change away from a much more popular package of the same
// ecosystem. Popularity comes from shipped lists (data/popular/); "much more popular"
// means at least 10 times the downloads (or, for rank lists, a 10 times better rank).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "pkgtrust/core/ecosystem.hpp"
#include "pkgtrust/core/status.hpp"

namespace pkgtrust::scoring {

// Immutable once loaded; safe for concurrent use.
class PopularPackages {
 public:
  // Reads "name<TAB>downloads" or "name<TAB>rank" (a header line is skipped); names are
  // normalized for `ecosystem`. Errors name the file and line.
  core::Status Load(core::Ecosystem ecosystem, const std::string& path);
  void Add(core::Ecosystem ecosystem, std::string name, double popularity);

  // The popular package `name` looks like, if any. `own_downloads` (a month, -1 unknown)
  // counts when the name itself is not in the list.
  std::optional<std::string> FindLookAlike(const core::PackageKey& key, std::int64_t own_downloads) const;
  std::size_t size(core::Ecosystem ecosystem) const;
  // The package's position in its ecosystem's list (1 = most popular), if listed.
  std::optional<std::int64_t> Rank(const core::PackageKey& key) const;

 private:
  struct Entry {
    std::string name;
    std::string folded;  // without scope and separators, lower case
    double popularity;   // downloads a month, or 1e9 / rank
  };
  // An entry by the characters of its unscoped name (bit c % 64 set for each character c).
  struct Candidate {
    std::uint64_t mask;
    std::size_t index;
  };
  // Indexed so a lookup compares a name with the few entries that could match (same
  // folded form, or an unscoped name within two characters of its length and with nearly
  // the same characters), not all.
  struct List {
    std::vector<Entry> entries;
    std::unordered_map<std::string, std::size_t> by_name;
    std::unordered_map<std::string, std::vector<std::size_t>> by_folded;
    std::vector<std::vector<Candidate>> by_unscoped_length;
  };
  static std::uint64_t CharacterMask(std::string_view name);
  const List* For(core::Ecosystem ecosystem) const;
  List npm_, pypi_;
};

// Damerau-Levenshtein (optimal string alignment) distance, giving up past `limit`.
int EditDistance(std::string_view a, std::string_view b, int limit);

}  // namespace pkgtrust::scoring
