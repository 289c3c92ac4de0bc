// Facts extracted from real recorded registry documents, checked field by field against
// what the documents say (tests/fixtures/registry/SOURCES.md names each document).
#include "pkgtrust/registry/parsers.hpp"

#include <catch2/catch.hpp>

#include "pkgtrust/core/time.hpp"
#include "pkgtrust/net/http_client.hpp"
#include "support/test_support.hpp"

using namespace pkgtrust;
using core::Ecosystem;
using registry::PackageFacts;

namespace {

std::string Fixture(const std::string& name) {
  return testing::ReadText(testing::FixturePath("registry/" + name));
}
core::Millis T(const char* text) { return *core::ParseTimestamp(text); }

PackageFacts Npm(const std::string& file, const char* name) {
  auto facts = registry::ParseNpmPackument(Fixture("npm/" + file), {Ecosystem::kNpm, name});
  INFO(facts.status().message());
  REQUIRE(facts.ok());
  return std::move(facts).value();
}

}  // namespace

TEST_CASE("timestamps in the registries' spellings", "[registry]") {
  CHECK(T("2012-04-23T16:37:11.912Z") == 1335199031912);
  CHECK(T("2015-01-15T20:22:13.100871+00:00") == 1421353333100);
  CHECK(T("2024-12-09T00:15:25.297000+00:00") == T("2024-12-09T00:15:25.297Z"));
  CHECK(T("2020-01-01T02:00:00+02:00") == T("2020-01-01T00:00:00Z"));
  CHECK(T("2010-04-16") == T("2010-04-16T00:00:00Z"));
  CHECK_FALSE(core::ParseTimestamp("yesterday").has_value());
  CHECK_FALSE(core::ParseTimestamp("2020-13-01T00:00:00Z").has_value());
  CHECK(core::FormatTimestamp(1335199031912) == "2012-04-23T16:37:11.912Z");
}

TEST_CASE("npm: lodash's packument", "[registry][npm]") {
  PackageFacts f = Npm("lodash.json", "lodash");
  CHECK(f.display_name == "lodash");
  CHECK(f.latest_version == "4.17.21");
  CHECK(f.versions.size() == 114);
  CHECK(f.description == "Lodash modular utilities.");
  CHECK(f.license == "MIT");
  CHECK(f.homepage == "https://lodash.com/");
  CHECK(f.repository_declared == "git+https://github.com/lodash/lodash.git");
  REQUIRE(f.repository);
  CHECK(f.repository->Url() == "https://github.com/lodash/lodash");
  CHECK(f.maintainers == std::vector<std::string>{"mathias", "jdalton", "bnjmnt4n"});
  CHECK(f.created == T("2012-04-23T16:37:11.912Z"));
  CHECK(f.modified == T("2024-08-04T11:01:16.005Z"));
  CHECK(f.versions.front().version == "0.1.0");  // oldest first
  CHECK(f.versions.front().published == T("2012-04-23T16:37:12.603Z"));
  CHECK(f.FindVersion("4.17.21")->published == T("2021-02-20T15:42:16.891Z"));
  CHECK(f.deprecated.empty());
  CHECK_FALSE(f.security_holder);
  CHECK_FALSE(f.unpublished);
}

TEST_CASE("npm: deprecated, security-held, attested and impostor packages", "[registry][npm]") {
  PackageFacts jade = Npm("jade.json", "jade");
  CHECK(jade.latest_version == "1.11.0");
  CHECK(jade.versions.size() == 131);
  CHECK(jade.deprecated ==
        "Jade has been renamed to pug, please install the latest version of pug instead of jade");
  CHECK(jade.repository->Url() == "https://github.com/jadejs/jade");

  PackageFacts crossenv = Npm("crossenv.json", "crossenv");
  CHECK(crossenv.latest_version == "0.0.2-security");
  CHECK(crossenv.security_holder);

  PackageFacts attested = Npm("attestation_changes.json", "attestation-pkg");
  CHECK(attested.latest_version == "1.3.0");
  CHECK_FALSE(attested.FindVersion("1.0.0")->has_attestation);
  CHECK(attested.FindVersion("1.1.0")->has_attestation);
  CHECK_FALSE(attested.FindVersion("1.2.0")->has_attestation);
  CHECK(attested.FindVersion("1.3.0")->has_attestation);

  // loadsh: later versions claim lodash's repository, the latest declares none.
  PackageFacts loadsh = Npm("loadsh.json", "loadsh");
  CHECK(loadsh.latest_version == "1.0.1");
  CHECK(loadsh.FindVersion("0.0.2")->repository == "git+https://github.com/hustcc/loadsh.git");
  CHECK(loadsh.FindVersion("0.0.4")->repository == "git+https://github.com/lodash/lodash.git");
  CHECK(loadsh.FindVersion("1.0.1")->repository.empty());
  CHECK_FALSE(loadsh.repository.has_value());
  CHECK(loadsh.FindVersion("1.0.1")->deprecated.empty());  // "deprecated": false
}

TEST_CASE("npm: a package whose versions were all unpublished", "[registry][npm]") {
  // The shape registry.npmjs.org answers for an unpublished package.
  auto f =
      registry::ParseNpmPackument(R"({"_id":"gone","name":"gone","time":{"created":"2020-01-01T00:00:00.000Z",
    "modified":"2021-03-04T05:06:07.000Z","unpublished":{"time":"2021-03-04T05:06:07.000Z","versions":["1.0.0"],
    "maintainers":[{"name":"someone"}]}}})",
                                  {Ecosystem::kNpm, "gone"});
  REQUIRE(f.ok());
  CHECK(f->unpublished);
  CHECK(f->versions.empty());
  CHECK(f->modified == T("2021-03-04T05:06:07.000Z"));
}

TEST_CASE("npm: a stored fact survives a round trip", "[registry][npm]") {
  PackageFacts f = Npm("lodash.json", "lodash");
  auto again = PackageFacts::FromJson(f.ToJson());
  REQUIRE(again.ok());
  CHECK(again->ToJson() == f.ToJson());
  CHECK_FALSE(PackageFacts::FromJson("[]").ok());
  CHECK_FALSE(PackageFacts::FromJson(R"({"ecosystem":"npm"})").ok());
}

TEST_CASE("npm: the largest recorded packument (next, 21 MB)", "[registry][npm]") {
  auto body = net::Gunzip(Fixture("npm/next.json.gz"), 64u << 20);
  REQUIRE(body.ok());
  auto f = registry::ParseNpmPackument(*body, {Ecosystem::kNpm, "next"});
  REQUIRE(f.ok());
  CHECK(f->versions.size() == 2627);
  CHECK(f->ToJson().size() < body->size() / 20);  // the facts kept are a small part of the document
}

TEST_CASE("npm: garbage answers are errors naming the package", "[registry][npm]") {
  for (std::string body : {Fixture("npm/invalid.json"), std::string("{\"name\": 12"), std::string(""),
                           std::string("[1,2,3]"), std::string("{}"), std::string(100000, '[')}) {
    auto f = registry::ParseNpmPackument(body, {Ecosystem::kNpm, "x"});
    INFO(body.substr(0, 40));
    REQUIRE_FALSE(f.ok());
    CHECK_THAT(f.status().message(), Catch::Contains("npm packument for x"));
  }
  // Wrong types where strings are expected are ignored, not fatal.
  auto odd = registry::ParseNpmPackument(
      R"({"name":"x","dist-tags":{"latest":1},"versions":{"1.0.0":{"deprecated":7}},
    "time":{"1.0.0":false},"maintainers":"nobody","repository":["a"]})",
      {Ecosystem::kNpm, "x"});
  REQUIRE(odd.ok());
  CHECK(odd->versions.size() == 1);
  CHECK(odd->latest_version.empty());
}

TEST_CASE("npm: downloads API", "[registry][npm]") {
  CHECK(*registry::ParseNpmDownloads(Fixture("npm/downloads-base62.json")) == 1076972);
  CHECK_FALSE(registry::ParseNpmDownloads(R"({"error":"package x not found"})").ok());
}

TEST_CASE("pypi: flask's JSON API document", "[registry][pypi]") {
  auto f = registry::ParsePypiProject(Fixture("pypi/flask.json"), {Ecosystem::kPypi, "flask"});
  REQUIRE(f.ok());
  CHECK(f->display_name == "Flask");
  CHECK(f->latest_version == "3.1.2");
  CHECK(f->description == "A simple framework for building complex web applications.");
  CHECK(f->license == "BSD-3-Clause");
  CHECK(f->versions.size() == 63);
  CHECK(f->versions.front().version == "0.1");
  CHECK(f->versions.front().published == T("2010-04-16T14:29:37.458396Z"));
  CHECK(f->FindVersion("3.1.2")->published == T("2025-08-19T21:03:19.499263Z"));  // earliest file
  CHECK(f->repository_declared == "https://github.com/pallets/flask/");
  CHECK(f->repository->Url() == "https://github.com/pallets/flask");
  CHECK(f->created == T("2010-04-16T14:29:37.458396Z"));
  for (const auto& v : f->versions) CHECK_FALSE(v.yanked);
}

TEST_CASE("pypi: yanked releases and a project without a repository", "[registry][pypi]") {
  auto deptry = registry::ParsePypiProject(Fixture("pypi/deptry.json"), {Ecosystem::kPypi, "deptry"});
  REQUIRE(deptry.ok());
  CHECK(deptry->latest_version == "0.21.0");
  CHECK(deptry->versions.size() == 77);
  std::vector<std::string> yanked;
  for (const auto& v : deptry->versions)
    if (v.yanked) yanked.push_back(v.version);
  std::sort(yanked.begin(), yanked.end());
  CHECK(yanked == std::vector<std::string>{"0.5.1", "0.5.2", "0.5.8"});
  CHECK(deptry->repository->Url() == "https://github.com/fpgmaas/deptry");

  auto psycopg2 = registry::ParsePypiProject(Fixture("pypi/psycopg2.json"), {Ecosystem::kPypi, "psycopg2"});
  REQUIRE(psycopg2.ok());
  CHECK(psycopg2->latest_version == "2.6.2");
  CHECK(psycopg2->homepage == "http://initd.org/psycopg/");
  CHECK(psycopg2->versions.size() == 34);
  CHECK_FALSE(psycopg2->repository.has_value());
  CHECK_FALSE(registry::ParsePypiProject(R"({"message":"Not Found"})", {Ecosystem::kPypi, "x"}).ok());
}

TEST_CASE("crates: libc's API document", "[registry][crates]") {
  auto f = registry::ParseCratesCrate(Fixture("crates/libc.json"), {Ecosystem::kCrates, "libc"});
  REQUIRE(f.ok());
  CHECK(f->display_name == "libc");
  CHECK(f->latest_version == "0.2.147");
  CHECK(f->description == "Raw FFI bindings to platform libraries like libc.\n");
  CHECK(f->repository->Url() == "https://github.com/rust-lang/libc");
  CHECK(f->homepage == "https://github.com/rust-lang/libc");
  CHECK(f->downloads_total == 220852609);
  CHECK(f->downloads_last_90_days == 28078926);
  CHECK(f->created == T("2015-01-15T20:22:13.100871+00:00"));
  CHECK(f->modified == T("2023-06-25T18:25:40.915556+00:00"));
  CHECK(f->license == "MIT OR Apache-2.0");
  CHECK(f->versions.size() == 160);
  CHECK(f->versions.front().version == "0.1.0");
  std::vector<std::string> yanked;
  for (const auto& v : f->versions)
    if (v.yanked) yanked.push_back(v.version);
  std::sort(yanked.begin(), yanked.end());
  CHECK(yanked ==
        std::vector<std::string>{"0.1.11", "0.1.9", "0.2.110", "0.2.128", "0.2.130", "0.2.145", "0.2.63"});
  auto publishers = f->maintainers;
  std::sort(publishers.begin(), publishers.end());
  CHECK(publishers ==
        std::vector<std::string>{"Amanieu", "JohnTitor", "alexcrichton", "gnzlbg", "joshtriplett"});
  CHECK_FALSE(registry::ParseCratesCrate(Fixture("crates/not_found.json"), {Ecosystem::kCrates, "x"}).ok());
  auto owners =
      registry::ParseCratesOwners(R"({"users":[{"id":1,"login":"alexcrichton"},{"login":"JohnTitor"}]})");
  REQUIRE(owners.ok());
  CHECK(*owners == std::vector<std::string>{"alexcrichton", "JohnTitor"});
}

TEST_CASE("npm: each version's install scripts and publisher are kept, and survive storing", "[registry]") {
  PackageFacts bcrypt = Npm("bcrypt.json", "bcrypt");
  const registry::VersionFacts* latest = bcrypt.FindVersion("6.0.0");
  REQUIRE(latest != nullptr);
  // Only the install-time scripts: bcrypt 6.0.0 also has "test" and "build".
  CHECK(latest->install_scripts == std::vector<std::pair<std::string, std::string>>{{"install", "node-gyp-build"}});
  const registry::VersionFacts* first = bcrypt.FindVersion("0.1.2");
  REQUIRE(first != nullptr);
  CHECK(first->install_scripts ==
        std::vector<std::pair<std::string, std::string>>{{"install", "node-waf configure build"}});
  PackageFacts added = Npm("install_scripts.json", "install-scripts");
  CHECK(added.FindVersion("1.0.0")->install_scripts.empty());
  CHECK(added.FindVersion("1.3.0")->install_scripts.size() == 2);  // postinstall and preinstall
  PackageFacts lodash = Npm("lodash.json", "lodash");
  CHECK(lodash.FindVersion("4.17.21")->publisher == "bnjmnt4n");
  // One owner writes and reads the stored form: nothing is lost on the way.
  auto stored = PackageFacts::FromJson(added.ToJson());
  REQUIRE(stored.ok());
  CHECK(stored->FindVersion("1.3.0")->install_scripts == added.FindVersion("1.3.0")->install_scripts);
  CHECK(stored->FindVersion("1.3.0")->publisher == "maintainer");
}
