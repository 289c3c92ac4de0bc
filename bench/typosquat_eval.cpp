// How precise the typosquatting check is on real names (bench/README.md):
//   typosquat_eval [--json] [--top N] [--names ECOSYSTEM FILE]... [--synthetic N]
// For each shipped popular list (npm, PyPI): the share of its names flagged as look-alikes of
// the others (each with its own popularity from the list), and the share of 20,000 random real
// names (bench/data/names/) flagged; with the most popular look-alike pairs and a count per
// rule. `--names npm FILE` adds a list of one name per line (for example known typosquats, to
// measure recall): the share flagged, and the names missed. `--synthetic N` (default 2000)
// makes one look-alike of each kind from each of the N most popular names (a fixed seed), the
// names a squatter would register, and measures the share flagged per kind: the rules' recall
// by construction, a check that no kind is left uncovered.
#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <map>
#include <random>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "pkgtrust/core/package_name.hpp"
#include "pkgtrust/scoring/typosquat.hpp"

using namespace pkgtrust;

namespace {

struct Flagged {
  std::string name, look_alike;
  scoring::LookAlikeRule rule;
  double ratio;
  std::size_t position;  // in its list: the order pairs are shown in
};

struct Result {
  std::string set;
  std::size_t names = 0;
  std::vector<Flagged> flagged;
  std::vector<std::string> missed;  // --names sets: names not flagged
};

std::vector<std::string> ReadNames(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error(path + ": cannot read");
  std::vector<std::string> names;
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    auto tab = line.find('\t');
    if (tab != std::string::npos) line.resize(tab);
    if (!line.empty() && line.front() != '#') names.push_back(line);
  }
  return names;
}

Result Evaluate(const scoring::PopularPackages& popular, core::Ecosystem eco, const std::string& set,
                const std::vector<std::string>& names, bool keep_missed) {
  Result result{set, 0, {}, {}};
  for (const std::string& raw : names) {
    auto key = core::MakePackageKey(eco, raw);
    if (!key.ok()) continue;
    ++result.names;
    if (auto look_alike = popular.FindLookAlike(*key, -1))
      result.flagged.push_back({key->name, look_alike->name, look_alike->rule, look_alike->ratio, result.names});
    else if (keep_missed)
      result.missed.push_back(key->name);
  }
  return result;
}

void Print(const Result& r, std::size_t top) {
  fmt::print("{}: {} of {} names flagged ({:.2f}%)\n", r.set, r.flagged.size(), r.names,
             r.names ? 100.0 * static_cast<double>(r.flagged.size()) / static_cast<double>(r.names) : 0.0);
  std::map<std::string_view, int> by_rule;
  for (const Flagged& f : r.flagged) by_rule[scoring::LookAlikeRuleName(f.rule)]++;
  for (const auto& [rule, n] : by_rule) fmt::print("  {:<20} {}\n", rule, n);
  for (std::size_t i = 0; i < r.flagged.size() && i < top; ++i)
    fmt::print("    {:<40} looks like {:<30} ({}, {:.0f}x)\n", r.flagged[i].name, r.flagged[i].look_alike,
               scoring::LookAlikeRuleName(r.flagged[i].rule), r.flagged[i].ratio);
  if (!r.missed.empty()) {
    fmt::print("  missed ({}):", r.missed.size());
    for (std::size_t i = 0; i < r.missed.size() && i < top; ++i) fmt::print(" {}", r.missed[i]);
    fmt::print("\n");
  }
}

nlohmann::json ToJson(const Result& r, std::size_t top) {
  nlohmann::json pairs = nlohmann::json::array();
  for (std::size_t i = 0; i < r.flagged.size() && i < top; ++i)
    pairs.push_back({{"name", r.flagged[i].name},
                     {"looks_like", r.flagged[i].look_alike},
                     {"rule", scoring::LookAlikeRuleName(r.flagged[i].rule)},
                     {"ratio", r.flagged[i].ratio}});
  nlohmann::json by_rule = nlohmann::json::object();
  for (const Flagged& f : r.flagged) {
    std::string rule(scoring::LookAlikeRuleName(f.rule));
    by_rule[rule] = by_rule.value(rule, 0) + 1;
  }
  nlohmann::json out = {{"set", r.set},
                        {"names", r.names},
                        {"flagged", r.flagged.size()},
                        {"share", r.names ? static_cast<double>(r.flagged.size()) / static_cast<double>(r.names) : 0},
                        {"by_rule", by_rule},
                        {"top_pairs", pairs}};
  if (!r.missed.empty()) out["missed"] = r.missed;
  return out;
}


// One look-alike of `name` of the given kind, or "" when the kind does not apply to it.
std::string MakeLookAlike(const std::string& name, const std::string& kind, std::mt19937& rng) {
  auto slash = name.find('/');
  bool scoped = name[0] == '@' && slash != std::string::npos;
  std::string scope = scoped ? name.substr(1, slash - 1) : "";
  std::string bare = scoped ? name.substr(slash + 1) : name;
  auto pick = [&](std::size_t n) { return std::uniform_int_distribution<std::size_t>(0, n - 1)(rng); };
  static const std::string kLetters = "abcdefghijklmnopqrstuvwxyz";
  static const char* kNeighbours[] = {"qwas", "vghn", "xdfv", "serfcx", "wsdr", "drtgvc", "ftyhbv", "gyujnb", "ujko",
                                      "huikmn", "jiolm", "kop", "njk", "bhjm", "iklp", "ol", "wa", "edft",
                                      "awedxz", "rfgy", "yhji", "cfgb", "qase", "zsdc", "tghu", "asx"};
  if (kind == "scope_folded") return scoped ? scope + "-" + bare : "";
  if (kind == "scope_typo") {
    if (!scoped || scope.size() < 4) return "";
    std::size_t at = pick(scope.size() - 1);
    std::swap(scope[at], scope[at + 1]);
    return "@" + scope + "/" + bare;
  }
  if (scoped || bare.size() < 3) return "";
  std::string out = bare;
  if (kind == "swap") {
    std::size_t at = pick(out.size() - 1);
    if (out[at] == out[at + 1]) return "";
    std::swap(out[at], out[at + 1]);
  } else if (kind == "repeated") {
    std::size_t at = pick(out.size());
    out.insert(at, 1, out[at]);
  } else if (kind == "omission") {
    if (out.size() < 4) return "";
    out.erase(pick(out.size()), 1);
  } else if (kind == "substitution") {  // short names: a neighbouring key, as a typo makes
    std::size_t at = pick(out.size());
    char c = out[at];
    if (c < 'a' || c > 'z') return "";
    out[at] = out.size() >= 5 ? kLetters[pick(26)] : kNeighbours[c - 'a'][pick(std::strlen(kNeighbours[c - 'a']))];
  } else if (kind == "insertion") {
    if (out.size() < 5) return "";
    out.insert(pick(out.size() + 1), 1, kLetters[pick(26)]);
  } else if (kind == "separator") {
    auto sep = out.find_first_of("-_.");
    if (sep != std::string::npos)
      out.erase(sep, 1);
    else if (out.size() >= 6)
      out.insert(2 + pick(out.size() - 3), 1, '-');
    else
      return "";
  }
  return out == bare ? "" : out;
}

std::vector<Result> Synthetic(const scoring::PopularPackages& popular, core::Ecosystem eco, std::size_t top) {
  std::vector<Result> results;
  std::vector<std::string> names = popular.Names(eco);
  names.resize(std::min(names.size(), top));
  for (const char* kind : {"substitution", "swap", "repeated", "omission", "insertion", "separator",
                           "scope_folded", "scope_typo"}) {
    std::mt19937 rng(7);
    std::vector<std::string> variants;
    for (const std::string& name : names) {
      std::string variant = MakeLookAlike(name, kind, rng);
      auto key = core::MakePackageKey(eco, variant);
      if (variant.empty() || !key.ok() || popular.Rank(*key)) continue;  // invalid, or itself listed
      variants.push_back(variant);
    }
    if (variants.empty()) continue;
    results.push_back(Evaluate(popular, eco,
                               fmt::format("{} synthetic {} of the top {}", core::EcosystemName(eco), kind, top),
                               variants, true));
  }
  return results;
}

}  // namespace

int main(int argc, char** argv) {
  bool json = false;
  std::size_t top = 15;
  std::size_t synthetic = 2000;
  std::vector<std::pair<std::string, std::string>> extra;  // (ecosystem, file)
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--json") {
      json = true;
    } else if (arg == "--top" && i + 1 < argc) {
      top = static_cast<std::size_t>(std::stoul(argv[++i]));
    } else if (arg == "--synthetic" && i + 1 < argc) {
      synthetic = static_cast<std::size_t>(std::stoul(argv[++i]));
    } else if (arg == "--names" && i + 2 < argc) {
      extra.emplace_back(argv[i + 1], argv[i + 2]);
      i += 2;
    } else {
      fmt::print(stderr, "usage: typosquat_eval [--json] [--top N] [--names ECOSYSTEM FILE]... [--synthetic N]\n");
      return 2;
    }
  }
  try {
    scoring::PopularPackages popular;
    for (core::Ecosystem eco : {core::Ecosystem::kNpm, core::Ecosystem::kPypi})
      if (auto s = popular.LoadShipped(eco); !s.ok()) throw std::runtime_error(s.message());
    std::vector<Result> results;
    for (core::Ecosystem eco : {core::Ecosystem::kNpm, core::Ecosystem::kPypi}) {
      std::string name(core::EcosystemName(eco));
      results.push_back(Evaluate(popular, eco, name + " popular list", popular.Names(eco), false));
      results.push_back(Evaluate(popular, eco, name + " random names",
                                 ReadNames(fmt::format("{}/bench/data/names/{}-sample-20000.txt",
                                                       PKGTRUST_SOURCE_DIR, name)),
                                 false));
    }
    if (synthetic > 0)
      for (core::Ecosystem eco : {core::Ecosystem::kNpm, core::Ecosystem::kPypi})
        for (Result& r : Synthetic(popular, eco, synthetic)) results.push_back(std::move(r));
    for (const auto& [eco_name, file] : extra) {
      auto eco = core::ParseEcosystem(eco_name);
      if (!eco) throw std::runtime_error("unknown ecosystem " + eco_name);
      results.push_back(Evaluate(popular, *eco, eco_name + " " + file, ReadNames(file), true));
    }
    if (json) {
      nlohmann::json out = nlohmann::json::array();
      for (const Result& r : results) out.push_back(ToJson(r, top));
      fmt::print("{}\n", out.dump(2));
    } else {
      for (const Result& r : results) Print(r, top);
    }
  } catch (const std::exception& e) {
    fmt::print(stderr, "typosquat_eval: {}\n", e.what());
    return 1;
  }
  return 0;
}
