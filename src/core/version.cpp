#include "pkgtrust/core/version.hpp"

#include <algorithm>
#include <cctype>
#include <string>
#include <vector>

namespace pkgtrust::core {
namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool AllDigits(std::string_view s) { return !s.empty() && std::all_of(s.begin(), s.end(), IsDigit); }
// A semver pre-release or build identifier: [0-9A-Za-z-]+.
bool IsIdentifier(std::string_view s) {
  return !s.empty() &&
         std::all_of(s.begin(), s.end(), [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '-'; });
}

// Compares two digit strings as numbers, whatever their length (no overflow).
int CompareNumbers(std::string_view a, std::string_view b) {
  while (a.size() > 1 && a.front() == '0') a.remove_prefix(1);
  while (b.size() > 1 && b.front() == '0') b.remove_prefix(1);
  if (a.size() != b.size()) return a.size() < b.size() ? -1 : 1;
  int c = a.compare(b);
  return c < 0 ? -1 : (c > 0 ? 1 : 0);
}

int Sign(int c) { return c < 0 ? -1 : (c > 0 ? 1 : 0); }

std::vector<std::string_view> Split(std::string_view s, char separator) {
  std::vector<std::string_view> parts;
  while (true) {
    auto at = s.find(separator);
    parts.push_back(s.substr(0, at));
    if (at == std::string_view::npos) return parts;
    s.remove_prefix(at + 1);
  }
}

// ------------------------------------------------------------------ Semantic Versioning 2.0

struct Semver {
  std::string_view major, minor = "0", patch = "0";
  std::vector<std::string_view> pre;
};

std::optional<Semver> ParseSemver(std::string_view v, bool go_shorthands) {
  if (!v.empty() && v.front() == '=') v.remove_prefix(1);
  if (!v.empty() && (v.front() == 'v' || v.front() == 'V')) v.remove_prefix(1);
  if (auto plus = v.find('+'); plus != std::string_view::npos) {
    for (std::string_view id : Split(v.substr(plus + 1), '.'))
      if (!IsIdentifier(id)) return std::nullopt;
    v = v.substr(0, plus);
  }
  std::string_view pre;
  if (auto dash = v.find('-'); dash != std::string_view::npos) {
    pre = v.substr(dash + 1);
    v = v.substr(0, dash);
    if (pre.empty()) return std::nullopt;
  }
  std::vector<std::string_view> parts = Split(v, '.');
  if (parts.size() > 3 || (parts.size() < 3 && (!go_shorthands || !pre.empty()))) return std::nullopt;
  for (std::string_view part : parts)
    if (!AllDigits(part)) return std::nullopt;
  Semver out;
  out.major = parts[0];
  if (parts.size() > 1) out.minor = parts[1];
  if (parts.size() > 2) out.patch = parts[2];
  if (!pre.empty()) {
    out.pre = Split(pre, '.');
    for (std::string_view id : out.pre)
      if (!IsIdentifier(id)) return std::nullopt;
  }
  return out;
}

// ------------------------------------------------------------------ PEP 440

struct Pep440 {
  std::string epoch = "0";
  std::vector<std::string> release;
  int pre_kind = -1;  // -1 none; 0 a, 1 b, 2 rc
  std::string pre_number = "0";
  bool has_post = false;
  std::string post_number = "0";
  bool has_dev = false;
  std::string dev_number = "0";
  std::vector<std::string> local;
};

class Pep440Parser {
 public:
  explicit Pep440Parser(std::string text) : s_(std::move(text)) {}

  std::optional<Pep440> Parse() {
    Pep440 v;
    if (Peek() == 'v') ++i_;
    std::string first = Digits();
    if (first.empty()) return std::nullopt;
    if (Peek() == '!') {
      ++i_;
      v.epoch = first;
      first = Digits();
      if (first.empty()) return std::nullopt;
    }
    v.release.push_back(first);
    while (Peek() == '.' && i_ + 1 < s_.size() && IsDigit(s_[i_ + 1])) {
      ++i_;
      v.release.push_back(Digits());
    }
    // Pre-release: [-_.]?(a|b|c|rc|alpha|beta|pre|preview)[-_.]?N?
    {
      std::size_t mark = i_;
      SkipSeparator();
      static const std::pair<const char*, int> kPre[] = {{"preview", 2}, {"alpha", 0}, {"beta", 1}, {"pre", 2},
                                                        {"rc", 2},      {"a", 0},     {"b", 1},    {"c", 2}};
      bool found = false;
      for (auto [word, kind] : kPre)
        if (Word(word)) {
          v.pre_kind = kind;
          found = true;
          break;
        }
      if (found) {
        std::size_t before = i_;
        SkipSeparator();
        std::string n = Digits();
        if (n.empty()) i_ = before;
        v.pre_number = n.empty() ? "0" : n;
      } else {
        i_ = mark;
      }
    }
    // Post-release: -N, or [-_.]?(post|rev|r)[-_.]?N?
    {
      std::size_t mark = i_;
      if (Peek() == '-' && i_ + 1 < s_.size() && IsDigit(s_[i_ + 1])) {
        ++i_;
        v.has_post = true;
        v.post_number = Digits();
      } else {
        SkipSeparator();
        if (Word("post") || Word("rev") || Word("r")) {
          v.has_post = true;
          std::size_t before = i_;
          SkipSeparator();
          std::string n = Digits();
          if (n.empty()) i_ = before;
          v.post_number = n.empty() ? "0" : n;
        } else {
          i_ = mark;
        }
      }
    }
    // Development release: [-_.]?dev[-_.]?N?
    {
      std::size_t mark = i_;
      SkipSeparator();
      if (Word("dev")) {
        v.has_dev = true;
        std::size_t before = i_;
        SkipSeparator();
        std::string n = Digits();
        if (n.empty()) i_ = before;
        v.dev_number = n.empty() ? "0" : n;
      } else {
        i_ = mark;
      }
    }
    // Local version: +segment([-_.]segment)*
    if (Peek() == '+') {
      ++i_;
      std::string segment;
      while (i_ < s_.size()) {
        char c = s_[i_++];
        if (std::isalnum(static_cast<unsigned char>(c))) {
          segment += c;
        } else if (c == '-' || c == '_' || c == '.') {
          if (segment.empty()) return std::nullopt;
          v.local.push_back(std::move(segment));
          segment.clear();
        } else {
          return std::nullopt;
        }
      }
      if (segment.empty()) return std::nullopt;
      v.local.push_back(std::move(segment));
    }
    if (i_ != s_.size()) return std::nullopt;
    return v;
  }

 private:
  char Peek() const { return i_ < s_.size() ? s_[i_] : '\0'; }
  std::string Digits() {
    std::size_t start = i_;
    while (i_ < s_.size() && IsDigit(s_[i_])) ++i_;
    return s_.substr(start, i_ - start);
  }
  void SkipSeparator() {
    if (Peek() == '-' || Peek() == '_' || Peek() == '.') ++i_;
  }
  bool Word(std::string_view word) {
    if (s_.compare(i_, word.size(), word) != 0) return false;
    i_ += word.size();
    return true;
  }
  std::string s_;
  std::size_t i_ = 0;
};

std::optional<Pep440> ParsePep440(std::string_view text) {
  std::string s;
  for (char c : text) s += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  std::size_t start = 0;
  while (start < s.size() && std::isspace(static_cast<unsigned char>(s[start]))) ++start;
  return Pep440Parser(s.substr(start)).Parse();
}

// A PEP 440 sort key part: "absent" sorts below or above every present value.
struct Slot {
  int rank;  // -1 below everything, 0 a present value, 1 above everything
  int kind = 0;
  std::string number;
};

int CompareSlots(const Slot& a, const Slot& b) {
  if (a.rank != b.rank) return a.rank < b.rank ? -1 : 1;
  if (a.rank != 0) return 0;
  if (a.kind != b.kind) return a.kind < b.kind ? -1 : 1;
  return CompareNumbers(a.number, b.number);
}

int ComparePep440Parsed(const Pep440& a, const Pep440& b) {
  if (int c = CompareNumbers(a.epoch, b.epoch)) return c;
  for (std::size_t i = 0; i < std::max(a.release.size(), b.release.size()); ++i) {  // 1.0 == 1.0.0
    std::string_view x = i < a.release.size() ? std::string_view(a.release[i]) : "0";
    std::string_view y = i < b.release.size() ? std::string_view(b.release[i]) : "0";
    if (int c = CompareNumbers(x, y)) return c;
  }
  // As the packaging library orders them: a development release of a final release sorts
  // before its pre-releases (1.0.dev1 < 1.0a1); no pre-release sorts after them.
  auto pre = [](const Pep440& v) {
    if (v.pre_kind < 0 && !v.has_post && v.has_dev) return Slot{-1};
    if (v.pre_kind < 0) return Slot{1};
    return Slot{0, v.pre_kind, v.pre_number};
  };
  auto post = [](const Pep440& v) { return v.has_post ? Slot{0, 0, v.post_number} : Slot{-1}; };
  auto dev = [](const Pep440& v) { return v.has_dev ? Slot{0, 0, v.dev_number} : Slot{1}; };
  if (int c = CompareSlots(pre(a), pre(b))) return c;
  if (int c = CompareSlots(post(a), post(b))) return c;
  if (int c = CompareSlots(dev(a), dev(b))) return c;
  // Local versions: none sorts first; segments compare numerically when both are numbers,
  // a number after a string, strings lexically; a longer local version after its prefix.
  if (a.local.empty() != b.local.empty()) return a.local.empty() ? -1 : 1;
  for (std::size_t i = 0; i < std::min(a.local.size(), b.local.size()); ++i) {
    bool an = AllDigits(a.local[i]), bn = AllDigits(b.local[i]);
    int c = an && bn ? CompareNumbers(a.local[i], b.local[i])
                     : (an != bn ? (an ? 1 : -1) : Sign(a.local[i].compare(b.local[i])));
    if (c) return c;
  }
  if (a.local.size() != b.local.size()) return a.local.size() < b.local.size() ? -1 : 1;
  return 0;
}

// ------------------------------------------------------------------ Maven ComparableVersion

// Maven 3's ComparableVersion: a version is a list of items (numbers, qualifiers, and
// sub-lists that start at each '-' or at a change between digits and letters).
struct MavenItem {
  enum class Kind { kNumber, kQualifier, kList } kind;
  std::string text;              // digits without leading zeros ("" is 0), or the qualifier
  std::vector<MavenItem> items;  // kList
  bool IsNull() const {
    switch (kind) {
      case Kind::kNumber:
        return text.empty();
      case Kind::kQualifier:
        return text.empty();
      case Kind::kList:
        return items.empty();
    }
    return false;
  }
};

// Known qualifiers first, in this order; unknown ones after them, lexically.
std::string ComparableQualifier(const std::string& q) {
  static const char* kOrder[] = {"alpha", "beta", "milestone", "rc", "snapshot", "", "sp"};
  for (int i = 0; i < 7; ++i)
    if (q == kOrder[i]) return std::to_string(i);
  return "7-" + q;
}

MavenItem MavenNumber(std::string_view digits) {
  while (!digits.empty() && digits.front() == '0') digits.remove_prefix(1);
  return {MavenItem::Kind::kNumber, std::string(digits), {}};
}

MavenItem MavenQualifier(std::string value, bool followed_by_digit) {
  if (followed_by_digit && value.size() == 1) {  // a1 = alpha-1, b1 = beta-1, m1 = milestone-1
    if (value == "a") value = "alpha";
    if (value == "b") value = "beta";
    if (value == "m") value = "milestone";
  }
  if (value == "ga" || value == "final") value = "";
  if (value == "cr") value = "rc";
  return {MavenItem::Kind::kQualifier, std::move(value), {}};
}

int CompareMaven(const MavenItem& a, const MavenItem* b);

// `a` against an absent item (the other version is shorter).
int CompareMavenToNull(const MavenItem& a) {
  switch (a.kind) {
    case MavenItem::Kind::kNumber:
      return a.text.empty() ? 0 : 1;  // 1.0 == 1, 1.1 > 1
    case MavenItem::Kind::kQualifier:
      return Sign(ComparableQualifier(a.text).compare(ComparableQualifier("")));  // 1-rc < 1 < 1-sp
    case MavenItem::Kind::kList:
      return a.items.empty() ? 0 : CompareMavenToNull(a.items.front());
  }
  return 0;
}

int CompareMaven(const MavenItem& a, const MavenItem* b) {
  if (!b) return CompareMavenToNull(a);
  using Kind = MavenItem::Kind;
  switch (a.kind) {
    case Kind::kNumber:
      if (b->kind == Kind::kNumber) return CompareNumbers(a.text.empty() ? "0" : a.text, b->text.empty() ? "0" : b->text);
      return 1;  // 1.1 > 1-sp, 1.1 > 1-1
    case Kind::kQualifier:
      if (b->kind == Kind::kQualifier)
        return Sign(ComparableQualifier(a.text).compare(ComparableQualifier(b->text)));
      return -1;  // 1.any < 1.1, 1.any < 1-1
    case Kind::kList:
      if (b->kind == Kind::kNumber) return -1;    // 1-1 < 1.0.x
      if (b->kind == Kind::kQualifier) return 1;  // 1-1 > 1-sp
      for (std::size_t i = 0; i < std::max(a.items.size(), b->items.size()); ++i) {
        const MavenItem* l = i < a.items.size() ? &a.items[i] : nullptr;
        const MavenItem* r = i < b->items.size() ? &b->items[i] : nullptr;
        int c = l ? CompareMaven(*l, r) : (r ? -CompareMaven(*r, nullptr) : 0);
        if (c) return c;
      }
      return 0;
  }
  return 0;
}

// Removes trailing null items (0, "", empty lists) of each list, from the innermost out.
void NormalizeMaven(MavenItem& list) {
  for (MavenItem& item : list.items)
    if (item.kind == MavenItem::Kind::kList) NormalizeMaven(item);
  // From the end: nulls go; a non-null sub-list is stepped over (1-0-a: the 0 before the
  // sub-list goes too); anything else stops.
  for (std::size_t i = list.items.size(); i-- > 0;) {
    if (list.items[i].IsNull())
      list.items.erase(list.items.begin() + static_cast<std::ptrdiff_t>(i));
    else if (list.items[i].kind != MavenItem::Kind::kList)
      break;
  }
}

MavenItem ParseMaven(std::string_view text) {
  std::string v;
  for (char c : text) v += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  MavenItem root{MavenItem::Kind::kList, {}, {}};
  // The list items are appended to: the innermost open sub-list, as a path of indexes.
  std::vector<MavenItem*> stack = {&root};
  auto current = [&]() -> MavenItem& { return *stack.back(); };
  auto open_list = [&] {
    current().items.push_back({MavenItem::Kind::kList, {}, {}});
    stack.push_back(&current().items.back());
  };
  auto add = [&](bool digits, std::string_view token, bool followed_by_digit) {
    current().items.push_back(digits ? MavenNumber(token) : MavenQualifier(std::string(token), followed_by_digit));
  };
  bool is_digit = false;
  std::size_t start = 0;
  for (std::size_t i = 0; i < v.size(); ++i) {
    char c = v[i];
    if (c == '.' || c == '-') {
      if (i == start)
        current().items.push_back(MavenNumber(""));
      else
        add(is_digit, std::string_view(v).substr(start, i - start), false);
      start = i + 1;
      if (c == '-') open_list();
    } else if (IsDigit(c)) {
      if (!is_digit && i > start) {
        add(false, std::string_view(v).substr(start, i - start), true);
        start = i;
        open_list();
      }
      is_digit = true;
    } else {
      if (is_digit && i > start) {
        add(true, std::string_view(v).substr(start, i - start), false);
        start = i;
        open_list();
      }
      is_digit = false;
    }
  }
  if (v.size() > start) add(is_digit, std::string_view(v).substr(start), false);
  NormalizeMaven(root);
  return root;
}

}  // namespace

std::optional<int> CompareSemver(std::string_view a, std::string_view b, bool go_shorthands) {
  auto x = ParseSemver(a, go_shorthands);
  auto y = ParseSemver(b, go_shorthands);
  if (!x || !y) return std::nullopt;
  if (int c = CompareNumbers(x->major, y->major)) return c;
  if (int c = CompareNumbers(x->minor, y->minor)) return c;
  if (int c = CompareNumbers(x->patch, y->patch)) return c;
  if (x->pre.empty() != y->pre.empty()) return x->pre.empty() ? 1 : -1;  // 1.0.0-rc.1 < 1.0.0
  for (std::size_t i = 0; i < std::min(x->pre.size(), y->pre.size()); ++i) {
    bool xn = AllDigits(x->pre[i]), yn = AllDigits(y->pre[i]);
    int c = xn && yn ? CompareNumbers(x->pre[i], y->pre[i])
                     : (xn != yn ? (xn ? -1 : 1) : Sign(x->pre[i].compare(y->pre[i])));
    if (c) return c;
  }
  if (x->pre.size() != y->pre.size()) return x->pre.size() < y->pre.size() ? -1 : 1;
  return 0;
}

std::optional<int> ComparePep440(std::string_view a, std::string_view b) {
  auto x = ParsePep440(a);
  auto y = ParsePep440(b);
  if (!x || !y) return std::nullopt;
  return ComparePep440Parsed(*x, *y);
}

int CompareMavenVersions(std::string_view a, std::string_view b) {
  MavenItem x = ParseMaven(a), y = ParseMaven(b);
  return CompareMaven(x, &y);
}

std::optional<int> CompareVersions(Ecosystem ecosystem, std::string_view a, std::string_view b) {
  switch (ecosystem) {
    case Ecosystem::kNpm:
    case Ecosystem::kCrates:
      return CompareSemver(a, b);
    case Ecosystem::kPypi:
      return ComparePep440(a, b);
    case Ecosystem::kMaven:
      if (a.empty() || b.empty()) return std::nullopt;
      return CompareMavenVersions(a, b);
    case Ecosystem::kGo:
      return CompareSemver(a, b, /*go_shorthands=*/true);
  }
  return std::nullopt;
}

bool IsValidVersion(Ecosystem ecosystem, std::string_view version) {
  return CompareVersions(ecosystem, version, version).has_value();
}

}  // namespace pkgtrust::core
