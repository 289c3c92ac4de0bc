// Typosquatting: a name that a user would type or read by mistake for a far more popular
// package of the same ecosystem. Popularity comes from popular-package lists (shipped with
// the binary, data/popular/); "far more popular" means at least 10 times the downloads
// (for rank lists, a 10 times better rank). docs/scoring.md lists the rules and why.
//
// The rules compare like with like:
//   - unscoped names with unscoped names: one edit (a substitution, an insertion, an
//     omission or two neighbours swapped) for names of 5 characters or more; for shorter
//     names only the edits a typo makes (two neighbours swapped, a repeated character, an
//     omitted one, a neighbouring key or a look-alike character); a separator added,
//     removed or changed;
//   - a scope folded into an unscoped name (`types-node`, `babel-core`) with the scoped
//     package (`@types/node`, `@babel/core`);
//   - a scoped name with the same name in a scope one edit or a separator away
//     (`@babel/core` and `@bable/core`). Names inside one scope are never compared: only
//     the scope's owner publishes there. So `@types/node` is never a look-alike of `node`.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "pkgtrust/core/ecosystem.hpp"
#include "pkgtrust/core/status.hpp"

namespace pkgtrust::scoring {

// How a name resembles the popular one.
enum class LookAlikeRule {
  kSeparator,     // a separator added, removed or changed: crossenv, cross_env for cross-env
  kSubstitution,  // one character replaced (names of 5+ characters): lodashe -> lodasha
  kKeyboard,      // short names: a neighbouring key or a look-alike character: wev3 for web3
  kSwap,          // two neighbouring characters swapped: loadsh for lodash
  kRepeated,      // a character typed twice: expresss for express
  kInsertion,     // one character added (names of 5+ characters)
  kOmission,      // one character left out: rdis for redis
  kScopeFolded,   // the scope folded into the name: types-node for @types/node
  kScopeTypo,     // the same name in a look-alike scope: @bable/core for @babel/core
};
std::string_view LookAlikeRuleName(LookAlikeRule rule);  // "swap", "scope_folded", ...
std::string_view DescribeLookAlikeRule(LookAlikeRule rule);  // "two neighbouring characters swapped"

struct LookAlike {
  std::string name;  // the popular package
  LookAlikeRule rule;
  double ratio = 0;  // how many times more popular it is (downloads, or rank for rank lists)
};

// The edit that turns `popular` into `name` when they are exactly one edit apart
// (substitution, insertion, omission, or neighbours swapped); nullopt otherwise. O(length).
std::optional<LookAlikeRule> ClassifyOneEdit(std::string_view name, std::string_view popular);
// Whether two keys are neighbours on a QWERTY keyboard, or the characters look alike
// (0/o, 1/l/i).
bool KeysNear(char a, char b);

// Immutable once loaded; safe for concurrent use.
class PopularPackages {
 public:
  // Reads "name<TAB>downloads" or "name<TAB>rank" (a header line is skipped); names are
  // normalized for `ecosystem`. Errors name the file (or `source`) and line.
  core::Status Load(core::Ecosystem ecosystem, const std::string& path);
  core::Status LoadText(core::Ecosystem ecosystem, std::string_view text, const std::string& source);
  // The lists compiled into the binary (data/popular/: npm and PyPI).
  core::Status LoadShipped(core::Ecosystem ecosystem);
  void Add(core::Ecosystem ecosystem, std::string name, double popularity);
  // Builds the lookup indexes; called by Load*, and needed after Add.
  void Index();

  // The popular package `key` looks like, if any. `own_downloads` (a month, -1 unknown)
  // counts when the name itself is not in the list.
  std::optional<LookAlike> FindLookAlike(const core::PackageKey& key, std::int64_t own_downloads) const;
  std::size_t size(core::Ecosystem ecosystem) const;
  // The package's position in its ecosystem's list (1 = most popular), if listed.
  std::optional<std::int64_t> Rank(const core::PackageKey& key) const;
  // The listed names of an ecosystem, most popular first.
  std::vector<std::string> Names(core::Ecosystem ecosystem) const;

 private:
  struct Entry {
    std::string name;
    std::string scope;   // "@babel" for "@babel/core"; empty when unscoped
    std::string bare;    // the name without its scope
    double popularity;   // downloads a month, or 1e9 / rank
  };
  // Hash of a string -> entry index, sorted for binary search (a multimap in one vector).
  using HashIndex = std::vector<std::pair<std::uint64_t, std::uint32_t>>;
  struct List {
    std::vector<Entry> entries;
    std::unordered_map<std::string, std::size_t> by_name;
    // Unscoped names by every string one deletion away (and the name itself): two names one
    // edit apart always share a key, so a lookup costs one probe per character.
    HashIndex unscoped_deletions;
    HashIndex unscoped_by_fold;      // unscoped names without separators, lower case
    HashIndex scoped_by_joined_fold; // scope and name folded together: @types/node -> typesnode
    HashIndex scoped_by_bare;        // scoped names by their name without the scope
  };
  const List* For(core::Ecosystem ecosystem) const;
  List* For(core::Ecosystem ecosystem);
  List npm_, pypi_;
};

}  // namespace pkgtrust::scoring
