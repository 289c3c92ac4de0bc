// The npm packument the gateway sends: removed versions gone from `versions` and `time`,
// dist-tags moved, tarballs rewritten through the gateway (and refused when they point
// off the upstream), both forms, on a hand-written packument and on npm's recorded left-pad.
#include "pkgtrust/gateway/npm_metadata.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "gateway/refusing.hpp"
#include "support/test_support.hpp"

using namespace pkgtrust;
using json = nlohmann::json;

namespace {

const char* kUpstream = "https://registry.npmjs.org/";
const char* kGateway = "http://127.0.0.1:8080/registry/npm/";
const std::string kReadme(2000, 'r');  // what makes full packuments large

// Three releases and a pre-release; 1.2.0 is `latest`, 2.0.0-beta.1 is `next`.
std::string Packument() {
  json versions = json::object();
  for (const char* v : {"1.0.0", "1.1.0", "1.2.0", "2.0.0-beta.1"}) {
    versions[v] = {{"name", "demo"},
                   {"version", v},
                   {"description", "a demo"},
                   {"readme", kReadme},
                   {"scripts", {{"postinstall", "node x.js"}, {"test", "t"}}},
                   {"dependencies", {{"left-pad", "^1.3.0"}}},
                   {"dist",
                    {{"integrity", "sha512-abc"},
                     {"shasum", "0123"},
                     {"tarball", std::string(kUpstream) + "demo/-/demo-" + v + ".tgz"}}}};
  }
  json doc = {{"_id", "demo"},
              {"name", "demo"},
              {"dist-tags", {{"latest", "1.2.0"}, {"next", "2.0.0-beta.1"}}},
              {"versions", versions},
              {"time",
               {{"created", "2020-01-01T00:00:00.000Z"},
                {"modified", "2025-06-01T00:00:00.000Z"},
                {"1.0.0", "2020-01-01T00:00:00.000Z"},
                {"1.1.0", "2021-01-01T00:00:00.000Z"},
                {"1.2.0", "2025-06-01T00:00:00.000Z"},
                {"2.0.0-beta.1", "2025-05-01T00:00:00.000Z"}}},
              {"readme", kReadme}};
  return doc.dump();
}

using testing::Refusing;

}  // namespace

TEST_CASE("npm metadata: removed versions leave versions and time; latest moves to the highest release left",
          "[gateway]") {
  auto out = gateway::FilterNpmPackument(Packument(), gateway::NpmForm::kFull, kUpstream, kGateway,
                                         Refusing({"1.2.0"}));
  REQUIRE(out.ok());
  json doc = json::parse(out->body);
  CHECK(out->kept == 3);
  REQUIRE(out->removed.size() == 1);
  CHECK(out->removed[0].version == "1.2.0");
  CHECK_FALSE(doc["versions"].contains("1.2.0"));
  CHECK_FALSE(doc["time"].contains("1.2.0"));
  CHECK(doc["time"]["created"] == "2020-01-01T00:00:00.000Z");  // not a version: stays
  CHECK(doc["time"].contains("1.1.0"));
  // Not the pre-release, though it orders higher: a release is left.
  CHECK(doc["dist-tags"]["latest"] == "1.1.0");
  CHECK(doc["dist-tags"]["next"] == "2.0.0-beta.1");
  CHECK(doc["versions"]["1.1.0"]["dist"]["tarball"] == std::string(kGateway) + "demo/-/demo-1.1.0.tgz");
  CHECK(doc["versions"]["1.1.0"]["dist"]["integrity"] == "sha512-abc");
  CHECK(doc["versions"]["1.1.0"]["readme"] == kReadme);  // the full form keeps every member
  CHECK(doc["readme"] == kReadme);
}

TEST_CASE("npm metadata: with only a pre-release left, tags move to it; with nothing left, tags go",
          "[gateway]") {
  auto pre = gateway::FilterNpmPackument(Packument(), gateway::NpmForm::kFull, kUpstream, kGateway,
                                         Refusing({"1.0.0", "1.1.0", "1.2.0"}));
  REQUIRE(pre.ok());
  CHECK(json::parse(pre->body)["dist-tags"]["latest"] == "2.0.0-beta.1");
  auto none = gateway::FilterNpmPackument(Packument(), gateway::NpmForm::kFull, kUpstream, kGateway,
                                          Refusing({"1.0.0", "1.1.0", "1.2.0", "2.0.0-beta.1"}));
  REQUIRE(none.ok());
  CHECK(none->kept == 0);
  json doc = json::parse(none->body);
  CHECK(doc["dist-tags"] == json::object());
  CHECK(doc["versions"] == json::object());
}

TEST_CASE("npm metadata: a tarball off the upstream registry removes its version", "[gateway]") {
  json doc = json::parse(Packument());
  doc["versions"]["1.1.0"]["dist"]["tarball"] = "https://evil.example/demo-1.1.0.tgz";
  // A look-alike host that merely starts with the upstream's name is elsewhere too.
  doc["versions"]["1.0.0"]["dist"]["tarball"] = "https://registry.npmjs.org.evil.example/demo-1.0.0.tgz";
  auto out =
      gateway::FilterNpmPackument(doc.dump(), gateway::NpmForm::kFull, kUpstream, kGateway, Refusing({}));
  REQUIRE(out.ok());
  CHECK(out->kept == 2);
  REQUIRE(out->removed.size() == 2);
  CHECK(out->removed[0].decision.rule == "tarball_host");
  CHECK(out->removed[1].decision.rule == "tarball_host");
  CHECK_FALSE(json::parse(out->body)["versions"].contains("1.1.0"));
  // Configured without its trailing slash, the upstream still does not match the look-alike.
  auto unslashed =
      gateway::FilterNpmPackument(doc.dump(), gateway::NpmForm::kFull, "https://registry.npmjs.org",
                                  "http://127.0.0.1:8080/registry/npm", Refusing({}));
  REQUIRE(unslashed.ok());
  CHECK(unslashed->kept == 2);
  CHECK(json::parse(unslashed->body)["versions"]["1.2.0"]["dist"]["tarball"] ==
        std::string(kGateway) + "demo/-/demo-1.2.0.tgz");
}

TEST_CASE("npm metadata: the abbreviated form has the install members only, and hasInstallScript",
          "[gateway]") {
  auto out = gateway::FilterNpmPackument(Packument(), gateway::NpmForm::kAbbreviated, kUpstream, kGateway,
                                         Refusing({}));
  REQUIRE(out.ok());
  json doc = json::parse(out->body);
  CHECK(doc.size() == 4);  // name, modified, dist-tags, versions
  CHECK(doc["name"] == "demo");
  CHECK(doc["modified"] == "2025-06-01T00:00:00.000Z");
  json v = doc["versions"]["1.2.0"];
  CHECK(v["hasInstallScript"] == true);
  CHECK(v["dependencies"]["left-pad"] == "^1.3.0");
  CHECK_FALSE(v.contains("readme"));
  CHECK_FALSE(v.contains("scripts"));
  CHECK_FALSE(v.contains("description"));
  CHECK(v["dist"]["tarball"] == std::string(kGateway) + "demo/-/demo-1.2.0.tgz");
  CHECK(out->body.size() < Packument().size() / 5);
}

TEST_CASE("npm metadata: warnings are kept and reported; the publish time reaches the decision",
          "[gateway]") {
  std::map<std::string, core::Millis> seen;
  auto out = gateway::FilterNpmPackument(
      Packument(), gateway::NpmForm::kFull, kUpstream, kGateway,
      [&](std::string_view version, core::Millis published) {
        seen[std::string(version)] = published;
        return gateway::Decision{gateway::Action::kWarn, "typosquat", "looks like", false};
      });
  REQUIRE(out.ok());
  CHECK(out->kept == 4);
  CHECK(out->warned.size() == 4);
  CHECK(seen.at("1.0.0") == 1'577'836'800'000);
}

TEST_CASE("npm metadata: recorded left-pad keeps every version, all through the gateway", "[gateway]") {
  std::string body = testing::ReadText(testing::FixturePath("registry/npm/left-pad.json"));
  auto out =
      gateway::FilterNpmPackument(body, gateway::NpmForm::kAbbreviated, kUpstream, kGateway, Refusing({}));
  REQUIRE(out.ok());
  json upstream = json::parse(body), doc = json::parse(out->body);
  CHECK(out->kept == upstream["versions"].size());
  CHECK(doc["dist-tags"] == upstream["dist-tags"]);
  for (auto& [version, entry] : doc["versions"].items()) {
    INFO(version);
    CHECK(entry["dist"]["tarball"].get<std::string>().starts_with(kGateway));
    CHECK(entry["dist"]["integrity"] == upstream["versions"][version]["dist"]["integrity"]);
  }
}

TEST_CASE("npm metadata: garbage from the upstream is an error naming it", "[gateway]") {
  auto bad =
      gateway::FilterNpmPackument("{not json", gateway::NpmForm::kFull, kUpstream, kGateway, Refusing({}));
  CHECK(bad.status().code() == core::StatusCode::kInvalidArgument);
  auto array = gateway::FilterNpmPackument("[]", gateway::NpmForm::kFull, kUpstream, kGateway, Refusing({}));
  CHECK(array.status().message() == "the upstream packument is not a JSON object");
  CHECK(gateway::NpmFormFor("application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8, */*") ==
        gateway::NpmForm::kAbbreviated);
  CHECK(gateway::NpmFormFor("application/json") == gateway::NpmForm::kFull);
}

TEST_CASE("npm metadata: a tag steps back within its line, never forward", "[gateway]") {
  json versions = json::object();
  for (const char* v : {"2.5.0", "2.5.1", "3.0.0"})
    versions[v] = {{"version", v}, {"dist", {{"tarball", std::string(kUpstream) + "x/-/x-" + v + ".tgz"}}}};
  json doc = {
      {"name", "x"}, {"dist-tags", {{"latest", "3.0.0"}, {"v2-lts", "2.5.1"}}}, {"versions", versions}};
  auto out = gateway::FilterNpmPackument(doc.dump(), gateway::NpmForm::kFull, kUpstream, kGateway,
                                         Refusing({"2.5.1", "3.0.0"}));
  REQUIRE(out.ok());
  json tags = json::parse(out->body)["dist-tags"];
  CHECK(tags["v2-lts"] == "2.5.0");
  CHECK(tags["latest"] == "2.5.0");
  auto only_lts = gateway::FilterNpmPackument(doc.dump(), gateway::NpmForm::kFull, kUpstream, kGateway,
                                              Refusing({"2.5.1"}));
  REQUIRE(only_lts.ok());
  CHECK(json::parse(only_lts->body)["dist-tags"]["v2-lts"] == "2.5.0");  // not 3.0.0
  CHECK(json::parse(only_lts->body)["dist-tags"]["latest"] == "3.0.0");
}

TEST_CASE("npm metadata: read in place with padding, pretty-printed, repeated members written once",
          "[gateway]") {
  // Pretty-printed upstream JSON: values are copied as written and the answer still parses.
  std::string pretty = json::parse(Packument()).dump(2);
  pretty.reserve(pretty.size() + gateway::kJsonPadding);  // read in place, as the gateway keeps bodies
  auto in_place = gateway::FilterNpmPackument(pretty, gateway::NpmForm::kFull, kUpstream, kGateway,
                                              Refusing({"1.2.0"}), pretty.capacity() - pretty.size());
  REQUIRE(in_place.ok());
  json doc = json::parse(in_place->body);
  CHECK(doc["versions"].size() == 3);
  CHECK(doc["dist-tags"]["latest"] == "1.1.0");
  CHECK(doc["readme"] == json::parse(Packument())["readme"]);

  // A second "versions" member (JSON parsers keep the last) cannot smuggle a refused
  // version past the filter: one "versions" is written, without it.
  std::string twice =
      R"({"name":"demo","versions":{"1.0.0":{"name":"demo","version":"1.0.0","dist":{"tarball":")" +
      std::string(kUpstream) + R"(demo/-/demo-1.0.0.tgz"}}},"versions":{"6.6.6":{"name":"demo",)" +
      R"("version":"6.6.6","dist":{"tarball":")" + std::string(kUpstream) + R"(demo/-/demo-6.6.6.tgz"}}}})";
  auto once =
      gateway::FilterNpmPackument(twice, gateway::NpmForm::kFull, kUpstream, kGateway, Refusing({"6.6.6"}));
  REQUIRE(once.ok());
  CHECK(once->removed.size() == 1);
  CHECK(once->body.find("6.6.6") == std::string::npos);
  CHECK(once->body.find("\"versions\"") == once->body.rfind("\"versions\""));
  CHECK(json::parse(once->body)["versions"].contains("1.0.0"));
}
