#include "pkgtrust/scoring/typosquat.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <fstream>
#include <sstream>
#include <utility>

#include "pkgtrust/core/package_name.hpp"
#include "pkgtrust/scoring/shipped_lists.hpp"

namespace pkgtrust::scoring {
namespace {

constexpr double kPopularityRatio = 10;  // "far more popular"
// A package in the popular list itself has users of its own: only a package 100 times more
// popular makes it a look-alike (typo traffic is well under 1% of a name's downloads).
constexpr double kListedPopularityRatio = 100;
constexpr std::size_t kShortName = 5;    // names shorter than this get the short-name rules
constexpr std::size_t kMinName = 3;      // names shorter than this are never compared

bool IsSeparator(char c) { return c == '-' || c == '_' || c == '.'; }

// "Some_Name.js" -> "somenamejs".
std::string Fold(std::string_view name) {
  std::string out;
  out.reserve(name.size());
  for (char c : name)
    if (!IsSeparator(c)) out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// ("@babel", "core") for "@babel/core"; ("", name) for an unscoped name.
std::pair<std::string_view, std::string_view> SplitScope(std::string_view name) {
  if (!name.empty() && name.front() == '@') {
    auto slash = name.find('/');
    if (slash != std::string_view::npos) return {name.substr(0, slash), name.substr(slash + 1)};
  }
  return {{}, name};
}

std::uint64_t Hash(std::string_view text) {  // FNV-1a: stable across runs and builds
  std::uint64_t h = 1469598103934665603ull;
  for (char c : text) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ull;
  }
  return h;
}

template <typename Index, typename F>
void ForEachHit(const Index& index, std::uint64_t hash, F&& f) {
  auto it = std::lower_bound(index.begin(), index.end(), std::make_pair(hash, std::uint32_t{0}));
  for (; it != index.end() && it->first == hash; ++it) f(it->second);
}

// The typo rules for two names (or two scopes) that are not the same: one edit for names of
// 5 characters or more. Below that only what a slip of the finger makes (two neighbours
// swapped, a character repeated or left out, a neighbouring key pressed instead or as well),
// so that short names, which are dense (most 3-letter strings are taken), are not all
// look-alikes of each other.
std::optional<LookAlikeRule> TypoRule(std::string_view name, std::string_view popular) {
  if (name.size() < kMinName || popular.size() < kMinName) return std::nullopt;
  auto rule = ClassifyOneEdit(name, popular);
  if (!rule) return std::nullopt;
  if (std::min(name.size(), popular.size()) >= kShortName) return rule;
  std::size_t i = 0;  // where the names part
  while (i < name.size() && i < popular.size() && name[i] == popular[i]) ++i;
  switch (*rule) {
    case LookAlikeRule::kSwap:
    case LookAlikeRule::kRepeated:
    case LookAlikeRule::kOmission:
      return rule;
    case LookAlikeRule::kSubstitution:
      return KeysNear(name[i], popular[i]) ? std::optional(LookAlikeRule::kKeyboard) : std::nullopt;
    case LookAlikeRule::kInsertion: {  // name[i] was added: a key next to one of its neighbours?
      bool near = (i > 0 && KeysNear(name[i], name[i - 1])) || (i + 1 < name.size() && KeysNear(name[i], name[i + 1]));
      return near ? std::optional(LookAlikeRule::kKeyboard) : std::nullopt;
    }
    default:
      return std::nullopt;
  }
}

}  // namespace

std::string_view LookAlikeRuleName(LookAlikeRule rule) {
  switch (rule) {
    case LookAlikeRule::kSeparator:
      return "separator";
    case LookAlikeRule::kSubstitution:
      return "substitution";
    case LookAlikeRule::kKeyboard:
      return "neighbouring_key";
    case LookAlikeRule::kSwap:
      return "swap";
    case LookAlikeRule::kRepeated:
      return "repeated_character";
    case LookAlikeRule::kInsertion:
      return "insertion";
    case LookAlikeRule::kOmission:
      return "omission";
    case LookAlikeRule::kScopeFolded:
      return "scope_folded";
    case LookAlikeRule::kScopeTypo:
      return "scope_typo";
  }
  return "unknown";
}

std::string_view DescribeLookAlikeRule(LookAlikeRule rule) {
  switch (rule) {
    case LookAlikeRule::kSeparator:
      return "a separator added, removed or changed";
    case LookAlikeRule::kSubstitution:
      return "one character replaced";
    case LookAlikeRule::kKeyboard:
      return "one character replaced by a neighbouring key or a look-alike";
    case LookAlikeRule::kSwap:
      return "two neighbouring characters swapped";
    case LookAlikeRule::kRepeated:
      return "a character repeated";
    case LookAlikeRule::kInsertion:
      return "one character added";
    case LookAlikeRule::kOmission:
      return "one character left out";
    case LookAlikeRule::kScopeFolded:
      return "the scope folded into the name";
    case LookAlikeRule::kScopeTypo:
      return "the same name in a look-alike scope";
  }
  return "unknown";
}

std::optional<LookAlikeRule> ClassifyOneEdit(std::string_view name, std::string_view popular) {
  const std::size_t n = name.size(), m = popular.size();
  std::size_t i = 0;
  while (i < n && i < m && name[i] == popular[i]) ++i;
  if (n == m) {
    if (i == n) return std::nullopt;  // the same
    if (name.substr(i + 1) == popular.substr(i + 1)) return LookAlikeRule::kSubstitution;
    if (i + 1 < n && name[i] == popular[i + 1] && name[i + 1] == popular[i] &&
        name.substr(i + 2) == popular.substr(i + 2))
      return LookAlikeRule::kSwap;
    return std::nullopt;
  }
  if (n == m + 1) {  // name[i] was added
    if (name.substr(i + 1) != popular.substr(i)) return std::nullopt;
    bool repeated = (i > 0 && name[i] == name[i - 1]) || (i + 1 < n && name[i] == name[i + 1]);
    return repeated ? LookAlikeRule::kRepeated : LookAlikeRule::kInsertion;
  }
  if (m == n + 1) {  // popular[i] was left out
    if (name.substr(i) != popular.substr(i + 1)) return std::nullopt;
    return LookAlikeRule::kOmission;
  }
  return std::nullopt;
}

bool KeysNear(char a, char b) {
  a = static_cast<char>(std::tolower(static_cast<unsigned char>(a)));
  b = static_cast<char>(std::tolower(static_cast<unsigned char>(b)));
  if (a == b) return false;
  // Characters read for one another.
  static constexpr std::array<std::pair<char, char>, 4> kLookAlikes = {{{'0', 'o'}, {'1', 'l'}, {'1', 'i'}, {'l', 'i'}}};
  for (auto [x, y] : kLookAlikes)
    if ((a == x && b == y) || (a == y && b == x)) return true;
  // A staggered QWERTY layout: each row is shifted right by a fraction of a key; keys
  // less than 1.5 key widths apart (horizontally and on the next row) are neighbours.
  static constexpr std::array<std::pair<const char*, double>, 4> kRows = {
      {{"1234567890-", 0.0}, {"qwertyuiop", 0.5}, {"asdfghjkl", 0.75}, {"zxcvbnm", 1.25}}};
  auto position = [](char c, int* row, double* x) {
    for (int r = 0; r < static_cast<int>(kRows.size()); ++r)
      if (const char* at = std::strchr(kRows[r].first, c); at && c != '\0') {
        *row = r;
        *x = static_cast<double>(at - kRows[r].first) + kRows[r].second;
        return true;
      }
    return false;
  };
  int ra, rb;
  double xa, xb;
  if (!position(a, &ra, &xa) || !position(b, &rb, &xb)) return false;
  return std::abs(ra - rb) <= 1 && std::fabs(xa - xb) < (ra == rb ? 1.5 : 1.0);
}

void PopularPackages::Add(core::Ecosystem ecosystem, std::string name, double popularity) {
  List* list = For(ecosystem);
  if (!list || list->by_name.count(name)) return;
  auto [scope, bare] = SplitScope(name);
  list->by_name.emplace(name, list->entries.size());
  Entry entry{name, std::string(scope), std::string(bare), popularity};
  list->entries.push_back(std::move(entry));
}

void PopularPackages::Index() {
  for (List* list : {&npm_, &pypi_}) {
    list->unscoped_deletions.clear();
    list->unscoped_by_fold.clear();
    list->scoped_by_joined_fold.clear();
    list->scoped_by_bare.clear();
    for (std::uint32_t i = 0; i < list->entries.size(); ++i) {
      const Entry& e = list->entries[i];
      if (e.scope.empty()) {
        list->unscoped_deletions.emplace_back(Hash(e.bare), i);
        std::string deleted;
        for (std::size_t at = 0; at < e.bare.size(); ++at) {
          deleted.assign(e.bare).erase(at, 1);
          list->unscoped_deletions.emplace_back(Hash(deleted), i);
        }
        list->unscoped_by_fold.emplace_back(Hash(Fold(e.bare)), i);
      } else {
        list->scoped_by_joined_fold.emplace_back(Hash(Fold(e.scope.substr(1)) + Fold(e.bare)), i);
        list->scoped_by_bare.emplace_back(Hash(e.bare), i);
      }
    }
    for (HashIndex* index : {&list->unscoped_deletions, &list->unscoped_by_fold, &list->scoped_by_joined_fold,
                             &list->scoped_by_bare}) {
      std::sort(index->begin(), index->end());
      index->erase(std::unique(index->begin(), index->end()), index->end());
    }
  }
}

core::Status PopularPackages::LoadText(core::Ecosystem ecosystem, std::string_view text,
                                       const std::string& source) {
  if (!For(ecosystem))
    return core::Status::InvalidArgument(
        fmt::format("{}: no typosquatting check for {} packages", source, core::EcosystemName(ecosystem)));
  int number = 0;
  while (!text.empty()) {
    std::size_t end = text.find('\n');
    std::string_view line = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
    ++number;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) continue;
    auto tab = line.find('\t');
    if (tab == std::string_view::npos)
      return core::Status::InvalidArgument(fmt::format("{}:{}: expected name<TAB>number", source, number));
    std::string name(line.substr(0, tab));
    std::string number_text(line.substr(tab + 1));
    char* parse_end = nullptr;
    double value = std::strtod(number_text.c_str(), &parse_end);
    if (number_text.empty() || *parse_end != '\0' || !std::isfinite(value) || value < 0) {
      if (number == 1) continue;  // the header
      return core::Status::InvalidArgument(
          fmt::format("{}:{}: '{}' is not a number", source, number, number_text.substr(0, 40)));
    }
    auto normalized = core::NormalizePackageName(ecosystem, name);
    if (!normalized.ok()) continue;  // a list entry we could never be asked about
    bool is_rank = ecosystem == core::Ecosystem::kPypi;
    Add(ecosystem, *normalized, is_rank ? 1e9 / std::max(1.0, value) : value);
  }
  Index();
  return core::Status::Ok();
}

core::Status PopularPackages::Load(core::Ecosystem ecosystem, const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return core::Status::NotFound(fmt::format("{}: cannot read the popular-package list", path));
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return LoadText(ecosystem, buffer.str(), path);
}

core::Status PopularPackages::LoadShipped(core::Ecosystem ecosystem) {
  std::string_view text = ShippedPopularList(ecosystem);
  if (text.empty())
    return core::Status::NotFound(
        fmt::format("no popular-package list ships for {}", core::EcosystemName(ecosystem)));
  return LoadText(ecosystem, text, fmt::format("<shipped {} list>", core::EcosystemName(ecosystem)));
}

const PopularPackages::List* PopularPackages::For(core::Ecosystem ecosystem) const {
  if (ecosystem == core::Ecosystem::kNpm) return &npm_;
  if (ecosystem == core::Ecosystem::kPypi) return &pypi_;
  return nullptr;
}

PopularPackages::List* PopularPackages::For(core::Ecosystem ecosystem) {
  return const_cast<List*>(std::as_const(*this).For(ecosystem));
}

std::size_t PopularPackages::size(core::Ecosystem ecosystem) const {
  const List* list = For(ecosystem);
  return list ? list->entries.size() : 0;
}

std::vector<std::string> PopularPackages::Names(core::Ecosystem ecosystem) const {
  std::vector<std::string> out;
  if (const List* list = For(ecosystem))
    for (const Entry& e : list->entries) out.push_back(e.name);
  return out;
}

std::optional<std::int64_t> PopularPackages::Rank(const core::PackageKey& key) const {
  const List* list = For(key.ecosystem);
  if (!list) return std::nullopt;
  auto it = list->by_name.find(key.name);
  if (it == list->by_name.end()) return std::nullopt;
  return static_cast<std::int64_t>(it->second) + 1;  // the lists are in popularity order
}

std::optional<LookAlike> PopularPackages::FindLookAlike(const core::PackageKey& key,
                                                        std::int64_t own_downloads) const {
  const List* list = For(key.ecosystem);
  if (!list || list->entries.empty()) return std::nullopt;
  double own = own_downloads > 0 ? static_cast<double>(own_downloads) : 0;
  double ratio = kPopularityRatio;
  if (auto it = list->by_name.find(key.name); it != list->by_name.end()) {
    own = std::max(own, list->entries[it->second].popularity);
    ratio = kListedPopularityRatio;
  }
  const double needed = ratio * std::max(own, 1.0);
  const Entry* best = nullptr;
  LookAlikeRule best_rule = LookAlikeRule::kSubstitution;
  auto consider = [&](const Entry& e, LookAlikeRule rule) {
    if (e.name == key.name || e.popularity < needed) return;
    if (!best || e.popularity > best->popularity) {
      best = &e;
      best_rule = rule;
    }
  };
  const auto split = SplitScope(key.name);  // not a structured binding: lambdas below capture them
  const std::string_view scope = split.first, bare = split.second;
  if (scope.empty()) {
    if (bare.size() < kMinName) return std::nullopt;
    const std::string folded = Fold(bare);
    // A separator added, removed or changed: crossenv, cross_env.
    ForEachHit(list->unscoped_by_fold, Hash(folded), [&](std::uint32_t i) {
      const Entry& e = list->entries[i];
      if (e.bare != bare && Fold(e.bare) == folded) consider(e, LookAlikeRule::kSeparator);
    });
    // One edit: the name and each of its one-deletions probe the deletion index.
    auto check = [&](std::uint32_t i) {
      const Entry& e = list->entries[i];
      if (Fold(e.bare) == folded) return;  // only separators differ: the rule above
      if (auto rule = TypoRule(bare, e.bare)) consider(e, *rule);
    };
    ForEachHit(list->unscoped_deletions, Hash(bare), check);
    std::string deleted;
    for (std::size_t at = 0; at < bare.size(); ++at) {
      deleted.assign(bare).erase(at, 1);
      ForEachHit(list->unscoped_deletions, Hash(deleted), check);
    }
    // The scope folded into the name: types-node, babel_core, solana-web3.js.
    ForEachHit(list->scoped_by_joined_fold, Hash(folded), [&](std::uint32_t i) {
      const Entry& e = list->entries[i];
      if (Fold(e.scope.substr(1)) + Fold(e.bare) == folded) consider(e, LookAlikeRule::kScopeFolded);
    });
  } else {
    // The same name in a look-alike scope: @bable/core, @babel_js/core... never inside the
    // same scope, whose owner alone publishes there.
    std::string_view own_scope = scope.substr(1);
    ForEachHit(list->scoped_by_bare, Hash(bare), [&](std::uint32_t i) {
      const Entry& e = list->entries[i];
      if (e.bare != bare || e.scope == scope) return;
      std::string_view other = std::string_view(e.scope).substr(1);
      if (Fold(other) == Fold(own_scope) || TypoRule(own_scope, other))
        consider(e, LookAlikeRule::kScopeTypo);
    });
  }
  if (!best) return std::nullopt;
  return LookAlike{best->name, best_rule, best->popularity / std::max(own, 1.0)};
}

}  // namespace pkgtrust::scoring
