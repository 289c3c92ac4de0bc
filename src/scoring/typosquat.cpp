#include "pkgtrust/scoring/typosquat.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <bit>
#include <fstream>
#include <vector>

#include "pkgtrust/core/package_name.hpp"

namespace pkgtrust::scoring {
namespace {

// "@scope/some_name.js" -> "somenamejs": what is left when scope and separators go.
std::string Fold(std::string_view name) {
  if (!name.empty() && name.front() == '@') {
    auto slash = name.find('/');
    if (slash != std::string_view::npos) name = name.substr(slash + 1);
  }
  std::string out;
  for (char c : name)
    if (c != '-' && c != '_' && c != '.')
      out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view Unscoped(std::string_view name) {
  if (!name.empty() && name.front() == '@') {
    auto slash = name.find('/');
    if (slash != std::string_view::npos) return name.substr(slash + 1);
  }
  return name;
}

}  // namespace

std::uint64_t PopularPackages::CharacterMask(std::string_view name) {
  std::uint64_t mask = 0;
  for (char c : name) mask |= std::uint64_t{1} << (static_cast<unsigned char>(c) & 63);
  return mask;
}

int EditDistance(std::string_view a, std::string_view b, int limit) {
  if (std::abs(static_cast<int>(a.size()) - static_cast<int>(b.size())) > limit) return limit + 1;
  const std::size_t n = a.size(), m = b.size();
  // Three rows; on the stack for the names this is called with (it runs for every
  // candidate of every scored package).
  constexpr std::size_t kStackColumns = 128;
  std::array<int, 3 * kStackColumns> stack_rows;
  std::vector<int> heap_rows;
  int* rows = stack_rows.data();
  if (m + 1 > kStackColumns) {
    heap_rows.resize(3 * (m + 1));
    rows = heap_rows.data();
  }
  int* prev2 = rows;
  int* prev = rows + (m + 1);
  int* cur = rows + 2 * (m + 1);
  for (std::size_t j = 0; j <= m; ++j) prev[j] = static_cast<int>(j);
  for (std::size_t i = 1; i <= n; ++i) {
    cur[0] = static_cast<int>(i);
    int row_min = cur[0];
    for (std::size_t j = 1; j <= m; ++j) {
      int cost = a[i - 1] == b[j - 1] ? 0 : 1;
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
        cur[j] = std::min(cur[j], prev2[j - 2] + 1);
      row_min = std::min(row_min, cur[j]);
    }
    if (row_min > limit) return limit + 1;
    int* recycled = prev2;
    prev2 = prev;
    prev = cur;
    cur = recycled;
  }
  return prev[m];
}

void PopularPackages::Add(core::Ecosystem ecosystem, std::string name, double popularity) {
  List* list = ecosystem == core::Ecosystem::kNpm    ? &npm_
               : ecosystem == core::Ecosystem::kPypi ? &pypi_
                                                     : nullptr;
  if (!list) return;
  std::size_t index = list->entries.size();
  std::string folded = Fold(name);
  std::size_t unscoped_length = Unscoped(name).size();
  list->by_name.emplace(name, index);
  list->by_folded[folded].push_back(index);
  if (list->by_unscoped_length.size() <= unscoped_length)
    list->by_unscoped_length.resize(unscoped_length + 1);
  list->by_unscoped_length[unscoped_length].push_back({CharacterMask(Unscoped(name)), index});
  list->entries.push_back({std::move(name), std::move(folded), popularity});
}

core::Status PopularPackages::Load(core::Ecosystem ecosystem, const std::string& path) {
  std::ifstream in(path);
  if (!in) return core::Status::NotFound(fmt::format("{}: cannot read the popular-package list", path));
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    auto tab = line.find('\t');
    if (tab == std::string::npos)
      return core::Status::InvalidArgument(fmt::format("{}:{}: expected name<TAB>number", path, number));
    std::string name = line.substr(0, tab);
    double value;
    try {
      value = std::stod(line.substr(tab + 1));
    } catch (const std::exception&) {
      if (number == 1) continue;  // the header
      return core::Status::InvalidArgument(
          fmt::format("{}:{}: '{}' is not a number", path, number, line.substr(tab + 1)));
    }
    auto normalized = core::NormalizePackageName(ecosystem, name);
    if (!normalized.ok()) continue;  // a list entry we could never be asked about
    bool is_rank = ecosystem == core::Ecosystem::kPypi;
    Add(ecosystem, *normalized, is_rank ? 1e9 / std::max(1.0, value) : value);
  }
  return core::Status::Ok();
}

const PopularPackages::List* PopularPackages::For(core::Ecosystem ecosystem) const {
  if (ecosystem == core::Ecosystem::kNpm) return &npm_;
  if (ecosystem == core::Ecosystem::kPypi) return &pypi_;
  return nullptr;
}

std::size_t PopularPackages::size(core::Ecosystem ecosystem) const {
  const List* list = For(ecosystem);
  return list ? list->entries.size() : 0;
}

std::optional<std::int64_t> PopularPackages::Rank(const core::PackageKey& key) const {
  const List* list = For(key.ecosystem);
  if (!list) return std::nullopt;
  auto it = list->by_name.find(key.name);
  if (it == list->by_name.end()) return std::nullopt;
  return static_cast<std::int64_t>(it->second) + 1;  // the lists are in popularity order
}

std::optional<std::string> PopularPackages::FindLookAlike(const core::PackageKey& key,
                                                          std::int64_t own_downloads) const {
  const List* list = For(key.ecosystem);
  if (!list || list->entries.empty()) return std::nullopt;
  double own = own_downloads > 0 ? static_cast<double>(own_downloads) : 0;
  if (auto it = list->by_name.find(key.name); it != list->by_name.end())
    own = std::max(own, list->entries[it->second].popularity);
  const Entry* best = nullptr;
  auto consider = [&](const Entry& e) {
    if (e.name == key.name || e.popularity < 10 * std::max(own, 1.0)) return;
    if (!best || e.popularity > best->popularity) best = &e;
  };
  std::string folded = Fold(key.name);
  if (folded.size() >= 4)  // a scope or separator change: cross-env / crossenv / @evil/cross-env
    if (auto it = list->by_folded.find(folded); it != list->by_folded.end())
      for (std::size_t i : it->second) consider(list->entries[i]);
  std::string_view bare = Unscoped(key.name);
  if (bare.size() >= 5) {
    int limit = bare.size() >= 8 ? 2 : 1;  // two edits only for longer names
    std::size_t from = bare.size() - static_cast<std::size_t>(limit);
    std::size_t to =
        std::min(bare.size() + static_cast<std::size_t>(limit) + 1, list->by_unscoped_length.size());
    // Each edit adds at most one character and removes at most one, so names within
    // `limit` edits differ in at most 2 * limit bits of their character masks: a cheap
    // test that spares the edit distance for nearly every candidate.
    std::uint64_t mask = CharacterMask(bare);
    for (std::size_t length = from; length < to; ++length)
      for (const Candidate& candidate : list->by_unscoped_length[length]) {
        if (std::popcount(candidate.mask ^ mask) > 2 * limit) continue;
        const Entry& e = list->entries[candidate.index];
        if (EditDistance(bare, Unscoped(e.name), limit) <= limit) consider(e);
      }
  }
  if (!best) return std::nullopt;
  return best->name;
}

}  // namespace pkgtrust::scoring
