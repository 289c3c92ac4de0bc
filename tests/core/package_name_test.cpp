#include "pkgtrust/core/package_name.hpp"

#include <catch2/catch.hpp>

#include "pkgtrust/core/package_state.hpp"

using namespace pkgtrust::core;

namespace {
std::string Norm(Ecosystem eco, std::string_view name) {
  auto result = NormalizePackageName(eco, name);
  INFO(name);
  REQUIRE(result.ok());
  return *result;
}
bool Valid(Ecosystem eco, std::string_view name) { return NormalizePackageName(eco, name).ok(); }
}  // namespace

TEST_CASE("ecosystem names and aliases", "[core]") {
  CHECK(ParseEcosystem("npm") == Ecosystem::kNpm);
  CHECK(ParseEcosystem("PyPI") == Ecosystem::kPypi);
  CHECK(ParseEcosystem("cargo") == Ecosystem::kCrates);
  CHECK(ParseEcosystem("crates.io") == Ecosystem::kCrates);
  CHECK(ParseEcosystem("goproxy") == Ecosystem::kGo);
  CHECK(ParseEcosystem("golang") == Ecosystem::kGo);
  CHECK_FALSE(ParseEcosystem("nuget").has_value());
  CHECK_FALSE(ParseEcosystem("").has_value());
  auto err = ParseEcosystemOrError("rubygems");
  REQUIRE_FALSE(err.ok());
  CHECK_THAT(err.status().message(),
             Catch::Contains("rubygems") && Catch::Contains("npm, pypi, crates, maven, go"));
  for (Ecosystem eco : kAllEcosystems) CHECK(ParseEcosystem(EcosystemName(eco)) == eco);
}

TEST_CASE("npm names: scopes kept, legacy case kept, bad characters refused", "[core]") {
  CHECK(Norm(Ecosystem::kNpm, "left-pad") == "left-pad");
  CHECK(Norm(Ecosystem::kNpm, "@babel/core") == "@babel/core");
  CHECK(Norm(Ecosystem::kNpm, "JSONStream") == "JSONStream");
  CHECK_FALSE(Valid(Ecosystem::kNpm, ""));
  CHECK_FALSE(Valid(Ecosystem::kNpm, ".hidden"));
  CHECK_FALSE(Valid(Ecosystem::kNpm, "_underscore"));
  CHECK_FALSE(Valid(Ecosystem::kNpm, "with space"));
  CHECK_FALSE(Valid(Ecosystem::kNpm, "@scope"));
  CHECK_FALSE(Valid(Ecosystem::kNpm, "@scope/"));
  CHECK_FALSE(Valid(Ecosystem::kNpm, "a/b"));
  CHECK_FALSE(Valid(Ecosystem::kNpm, std::string(215, 'a')));
  CHECK_FALSE(Valid(Ecosystem::kNpm, std::string("nul\0byte", 8)));
}

TEST_CASE("pypi names are normalized per PEP 503", "[core]") {
  CHECK(Norm(Ecosystem::kPypi, "Django") == "django");
  CHECK(Norm(Ecosystem::kPypi, "zope.interface") == "zope-interface");
  CHECK(Norm(Ecosystem::kPypi, "Foo__Bar-.baz") == "foo-bar-baz");
  CHECK_FALSE(Valid(Ecosystem::kPypi, "-leading"));
  CHECK_FALSE(Valid(Ecosystem::kPypi, "trailing."));
  CHECK_FALSE(Valid(Ecosystem::kPypi, "semi;colon"));
}

TEST_CASE("crate names fold case and separators", "[core]") {
  CHECK(Norm(Ecosystem::kCrates, "Serde_JSON") == "serde-json");
  CHECK(Norm(Ecosystem::kCrates, "serde-json") == "serde-json");
  CHECK_FALSE(Valid(Ecosystem::kCrates, "1password"));
  CHECK_FALSE(Valid(Ecosystem::kCrates, std::string(65, 'a')));
  CHECK_FALSE(Valid(Ecosystem::kCrates, "dot.name"));
}

TEST_CASE("maven names are groupId:artifactId", "[core]") {
  CHECK(Norm(Ecosystem::kMaven, "org.slf4j:slf4j-api") == "org.slf4j:slf4j-api");
  CHECK(Norm(Ecosystem::kMaven, "org.slf4j/slf4j-api") == "org.slf4j:slf4j-api");
  CHECK_FALSE(Valid(Ecosystem::kMaven, "slf4j-api"));
  CHECK_FALSE(Valid(Ecosystem::kMaven, ":slf4j-api"));
  CHECK_FALSE(Valid(Ecosystem::kMaven, "org.slf4j:"));
  CHECK_FALSE(Valid(Ecosystem::kMaven, "org slf4j:api"));
}

TEST_CASE("go module paths are kept verbatim and checked", "[core]") {
  CHECK(Norm(Ecosystem::kGo, "github.com/gin-gonic/gin") == "github.com/gin-gonic/gin");
  CHECK(Norm(Ecosystem::kGo, "github.com/BurntSushi/toml") == "github.com/BurntSushi/toml");
  CHECK(Norm(Ecosystem::kGo, "gopkg.in/yaml.v3") == "gopkg.in/yaml.v3");
  CHECK_FALSE(Valid(Ecosystem::kGo, "localmodule"));
  CHECK_FALSE(Valid(Ecosystem::kGo, "GitHub.com/a/b"));
  CHECK_FALSE(Valid(Ecosystem::kGo, "github.com//b"));
  CHECK_FALSE(Valid(Ecosystem::kGo, "github.com/a/"));
  CHECK_FALSE(Valid(Ecosystem::kGo, "github.com/../b"));
  CHECK_FALSE(Valid(Ecosystem::kGo, "github.com/a b"));
}

TEST_CASE("absurd names get a clear error, never a crash", "[core]") {
  std::string huge(1 << 20, 'a');
  for (Ecosystem eco : kAllEcosystems) {
    auto result = NormalizePackageName(eco, huge);
    REQUIRE_FALSE(result.ok());
    CHECK_THAT(result.status().message(), Catch::Contains("longer than"));
    CHECK(result.status().message().size() < 300);
  }
  auto binary = NormalizePackageName(Ecosystem::kNpm, "\x01\x02\xff");
  REQUIRE_FALSE(binary.ok());
  CHECK_THAT(binary.status().message(), Catch::Contains("invalid npm package name"));
}

TEST_CASE("state machine rules", "[core]") {
  using S = PackageState;
  CHECK(IsStageTransition(S::kPendingRegistry, S::kPendingRepository));
  CHECK(IsStageTransition(S::kPendingRegistry, S::kPendingScore));
  CHECK(IsStageTransition(S::kPendingRegistry, S::kNotFound));
  CHECK(IsStageTransition(S::kPendingScore, S::kComplete));
  CHECK(IsStageTransition(S::kPendingRepository, S::kFailed));
  CHECK_FALSE(IsStageTransition(S::kPendingRegistry, S::kComplete));
  CHECK_FALSE(IsStageTransition(S::kComplete, S::kPendingScore));
  CHECK_FALSE(IsStageTransition(S::kFailed, S::kComplete));
  for (S s : kAllPackageStates) CHECK(ParsePackageState(PackageStateName(s)) == s);
  CHECK(ParsePriority("1") == Priority::kPriority);
  CHECK(ParsePriority("2") == Priority::kRegular);
  CHECK_FALSE(ParsePriority("3").has_value());
}
