#include "pkgtrust/scoring/typosquat.hpp"

#include <catch2/catch.hpp>
#include <fstream>
#include <random>

#include "pkgtrust/core/package_name.hpp"
#include "pkgtrust/core/time.hpp"
#include "pkgtrust/scoring/model.hpp"

using namespace pkgtrust;
using core::Ecosystem;

namespace {

const scoring::PopularPackages& Shipped() {
  static const scoring::PopularPackages popular = [] {
    scoring::PopularPackages p;
    REQUIRE(
        p.Load(Ecosystem::kNpm, std::string(PKGTRUST_SOURCE_DIR) + "/data/popular/npm-top10000.tsv").ok());
    REQUIRE(
        p.Load(Ecosystem::kPypi, std::string(PKGTRUST_SOURCE_DIR) + "/data/popular/pypi-top15000.tsv").ok());
    return p;
  }();
  return popular;
}

std::string LooksLike(Ecosystem eco, const char* name, std::int64_t downloads = -1) {
  return Shipped().FindLookAlike({eco, name}, downloads).value_or("");
}

}  // namespace

TEST_CASE("edit distance with transpositions", "[scoring]") {
  CHECK(scoring::EditDistance("lodash", "lodash", 2) == 0);
  CHECK(scoring::EditDistance("loadsh", "lodash", 2) == 1);   // swapped characters
  CHECK(scoring::EditDistance("lodassh", "lodash", 2) == 1);  // a repeated character
  CHECK(scoring::EditDistance("lodahs", "lodash", 2) == 1);
  CHECK(scoring::EditDistance("abcdef", "uvwxyz", 2) == 3);  // gives up past the limit
  CHECK(scoring::EditDistance("a", "abcdef", 2) == 3);
}

TEST_CASE("typosquats of popular npm and PyPI packages are found, with the look-alike named", "[scoring]") {
  REQUIRE(Shipped().size(Ecosystem::kNpm) >= 9900);
  REQUIRE(Shipped().size(Ecosystem::kPypi) >= 14900);
  CHECK(LooksLike(Ecosystem::kNpm, "loadsh") == "lodash");       // swap (a recorded real typosquat)
  CHECK(LooksLike(Ecosystem::kNpm, "crossenv") == "cross-env");  // separator (a recorded real typosquat)
  CHECK(LooksLike(Ecosystem::kNpm, "@evil/cross-env") == "cross-env");  // scope
  CHECK(LooksLike(Ecosystem::kNpm, "expresss") == "express");           // repeated character
  CHECK(LooksLike(Ecosystem::kPypi, "reqeusts") == "requests");
  CHECK(LooksLike(Ecosystem::kPypi, "python-dateutils") == "python-dateutil");
}

TEST_CASE("every name one or two edits from a popular one is found, whatever the edits", "[scoring]") {
  // The lookup skips candidates by their characters before computing edit distances; this
  // checks it never skips a real match: 2,000 mutants of listed names, all found.
  std::ifstream list(std::string(PKGTRUST_SOURCE_DIR) + "/data/popular/npm-top10000.tsv");
  std::mt19937 rng(11);
  const std::string alphabet = "abcdefghijklmnopqrstuvwxyz0123456789-";
  int checked = 0;
  std::string line;
  std::getline(list, line);  // header
  while (checked < 2000 && std::getline(list, line)) {
    std::string name = line.substr(0, line.find('\t'));
    if (name.size() < 8 || name[0] == '@') continue;
    std::string mutant = name;
    for (int edit = 0; edit < 2; ++edit) {
      std::size_t at = std::uniform_int_distribution<std::size_t>(0, mutant.size() - 2)(rng);
      switch (std::uniform_int_distribution<int>(0, 3)(rng)) {
        case 0:  // substitution
          mutant[at] = alphabet[std::uniform_int_distribution<std::size_t>(0, 25)(rng)];
          break;
        case 1:  // deletion
          mutant.erase(at, 1);
          break;
        case 2:  // insertion
          mutant.insert(at, 1, alphabet[std::uniform_int_distribution<std::size_t>(0, 35)(rng)]);
          break;
        default:  // transposition
          std::swap(mutant[at], mutant[at + 1]);
      }
    }
    auto key = core::MakePackageKey(Ecosystem::kNpm, mutant);
    // Edits that overlap may add up to more than two (in the edit distance used here).
    if (!key.ok() || key->name != mutant || Shipped().Rank(*key) || mutant.size() < 8 ||
        scoring::EditDistance(mutant, name, 2) > 2)
      continue;
    INFO(name << " -> " << mutant);
    CHECK_FALSE(LooksLike(Ecosystem::kNpm, mutant.c_str()).empty());
    ++checked;
  }
  CHECK(checked == 2000);
}

TEST_CASE("popular names, short names and distant names are not flagged", "[scoring]") {
  CHECK(LooksLike(Ecosystem::kNpm, "lodash").empty());
  CHECK(LooksLike(Ecosystem::kNpm, "react").empty());
  CHECK(LooksLike(Ecosystem::kNpm, "mz").empty());  // too short to judge
  CHECK(LooksLike(Ecosystem::kNpm, "a-completely-unrelated-name").empty());
  CHECK(LooksLike(Ecosystem::kPypi, "requests").empty());
  // Popular in its own right (not 10x less downloaded): not a typosquat.
  CHECK(LooksLike(Ecosystem::kNpm, "loadsh", 100'000'000).empty());
  CHECK(LooksLike(Ecosystem::kCrates, "serde_jsn").empty());  // no list for crates
  scoring::PopularPackages broken;
  CHECK_FALSE(broken.Load(Ecosystem::kNpm, "/nonexistent/list.tsv").ok());
}

TEST_CASE("a typosquat is flagged in the report and scores at most 1", "[scoring]") {
  scoring::Inputs in;
  in.key = {Ecosystem::kNpm, "loadsh"};
  in.downloads_last_month = 5000;
  in.versions = {{"1.0.1", *core::ParseTimestamp("2026-11-01T00:00:00Z")}};
  auto report = scoring::Score(in, *core::ParseTimestamp("2026-11-23T00:00:00Z"), &Shipped());
  CHECK(report.typosquat_of == "lodash");
  CHECK(report.score <= 1.0);
  CHECK_THAT(report.ToJson(),
             Catch::Contains(R"("looks_like":"lodash")") && Catch::Contains(R"("typosquatting":true)"));
}
