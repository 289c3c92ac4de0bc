#include "pkgtrust/scoring/osv.hpp"

#include <sys/wait.h>

#include <array>
#include <catch2/catch.hpp>
#include <cstdio>

#include "pkgtrust/core/time.hpp"
#include "pkgtrust/scoring/model.hpp"
#include "pkgtrust/store/package_store.hpp"
#include "support/test_support.hpp"

using namespace pkgtrust;

TEST_CASE("OSV malicious-package records (recorded from ossf/malicious-packages)", "[scoring]") {
  auto npm = scoring::ParseOsvRecord(testing::ReadText(testing::FixturePath("osv/npm/MAL-2024-11848.json")));
  REQUIRE(npm.ok());
  REQUIRE(npm->size() == 1);
  CHECK((*npm)[0].key == core::PackageKey{core::Ecosystem::kNpm, "000webhost-admin"});
  CHECK((*npm)[0].id == "MAL-2024-11848");
  CHECK((*npm)[0].versions == std::vector<std::string>{"999.9.9"});
  CHECK((*npm)[0].summary == "Malicious code in 000webhost-admin (npm)");
  auto pypi = scoring::ParseOsvRecord(testing::ReadText(testing::FixturePath("osv/pypi/MAL-2024-9933.json")));
  REQUIRE(pypi.ok());
  CHECK((*pypi)[0].key == core::PackageKey{core::Ecosystem::kPypi, "3web"});

  int skipped = 0;
  auto mixed =
      scoring::ParseOsvRecord(R"({"id":"MAL-1","affected":[{"package":{"ecosystem":"RubyGems","name":"x"}},
      {"package":{"ecosystem":"crates.io","name":"Evil_Crate"}}]})",
                              &skipped);
  REQUIRE(mixed.ok());
  CHECK(skipped == 1);
  REQUIRE(mixed->size() == 1);
  CHECK((*mixed)[0].key.name == "evil-crate");
  CHECK((*mixed)[0].versions.empty());                                               // every version
  CHECK_FALSE(scoring::ParseOsvRecord(R"({"id":"GHSA-xxxx","affected":[]})").ok());  // not a malicious record
  CHECK_FALSE(scoring::ParseOsvRecord("[]").ok());
  CHECK_FALSE(scoring::ParseOsvRecord(R"({"id":"MAL-2"})").ok());
}

TEST_CASE("a package named by a malicious-package advisory scores 0 and the report names it", "[scoring]") {
  scoring::Inputs in;
  in.key = {core::Ecosystem::kNpm, "02-echo"};
  in.downloads_last_month = 50'000'000;
  in.malicious_advisory = "MAL-2025-191025";
  auto r = scoring::Score(in, *core::ParseTimestamp("2026-11-23T00:00:00Z"));
  CHECK(r.score == 0.0);
  CHECK(r.malicious == "MAL-2025-191025");
  CHECK_THAT(r.ToJson(),
             Catch::Contains(R"("advisory":"MAL-2025-191025")") && Catch::Contains(R"("malicious":true)"));
}

TEST_CASE("pkgtrust import-osv stores the advisories of a folder", "[scoring]") {
  testing::TempDir dir;
  std::string command = std::string(PKGTRUST_BINARY) + " import-osv " + testing::FixturePath("osv") +
                        " --db " + dir.File("osv.db") + " 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  REQUIRE(pipe != nullptr);
  std::string output;
  std::array<char, 1024> buffer;
  while (std::size_t n = fread(buffer.data(), 1, buffer.size(), pipe)) output.append(buffer.data(), n);
  int status = pclose(pipe);
  INFO(output);
  CHECK(WEXITSTATUS(status) == 0);
  CHECK_THAT(output, Catch::StartsWith("imported 4 advisories from 4 files"));
  auto db = store::PackageStore::Open({.path = dir.File("osv.db")}, core::SystemClock::Instance());
  REQUIRE(db.ok());
  auto found = (*db)->FindAdvisories({core::Ecosystem::kPypi, "0requests"});
  REQUIRE(found.ok());
  REQUIRE(found->size() == 1);
  CHECK((*found)[0].id == "MAL-2026-15859");
  CHECK((*db)->FindAdvisories({core::Ecosystem::kNpm, "left-pad"})->empty());
}
