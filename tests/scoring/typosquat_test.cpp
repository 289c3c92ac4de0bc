#include "pkgtrust/scoring/typosquat.hpp"

#include <catch2/catch.hpp>

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
