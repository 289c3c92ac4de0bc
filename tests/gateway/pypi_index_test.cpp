// The PyPI simple index the gateway sends: PEP 691 content negotiation, versions of files,
// refused versions gone from files and versions, file URLs through the gateway (refused
// off the upstream host), and the PEP 503 HTML with hashes, requires-python, yanked marks and
// metadata marks, on PyPI's recorded numpy page and a hand-written one.
#include "pkgtrust/gateway/pypi_index.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <set>

#include "gateway/refusing.hpp"
#include "pkgtrust/core/time.hpp"
#include "support/test_support.hpp"

using namespace pkgtrust;
using json = nlohmann::json;

namespace {

const char* kFiles = "https://files.pythonhosted.org/";
const char* kGatewayFiles = "http://127.0.0.1:8080/registry/pypi/files/";

std::string Numpy() { return testing::ReadText(testing::FixturePath("registry/pypi/numpy-simple.json")); }

using testing::Refusing;

// A hand-written page: one yanked file with a reason, requires-python with '<', a metadata hash.
std::string Demo() {
  json files = json::array();
  files.push_back({{"filename", "Demo_Pkg-1.0-py3-none-any.whl"},
                   {"url", std::string(kFiles) + "packages/aa/Demo_Pkg-1.0-py3-none-any.whl"},
                   {"hashes", {{"sha256", "abc"}}},
                   {"requires-python", ">=3.8,<4"},
                   {"core-metadata", {{"sha256", "def"}}},
                   {"yanked", "broken \"build\""},
                   {"upload-time", "2025-01-01T00:00:00.000000Z"}});
  files.push_back({{"filename", "demo-pkg-1.1.tar.gz"},
                   {"url", std::string(kFiles) + "packages/bb/demo-pkg-1.1.tar.gz"},
                   {"hashes", {{"sha256", "123"}}},
                   {"yanked", true},
                   {"upload-time", "2025-02-01T00:00:00.000000Z"}});
  return json{{"meta", {{"api-version", "1.1"}}},
              {"name", "demo-pkg"},
              {"files", files},
              {"versions", {"1.0", "1.1"}}}
      .dump();
}

}  // namespace

TEST_CASE("pypi index: PEP 691 negotiation follows the q values", "[gateway]") {
  // What pip sends.
  CHECK(
      gateway::PypiFormFor("application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, "
                           "text/html; q=0.01") == gateway::PypiForm::kJson);
  CHECK(gateway::PypiFormFor("application/vnd.pypi.simple.v1+json; q=0.2, text/html") ==
        gateway::PypiForm::kHtml);
  CHECK(gateway::PypiFormFor("text/html, application/vnd.pypi.simple.v1+json") ==
        gateway::PypiForm::kJson);  // a tie
  CHECK(gateway::PypiFormFor("text/html") == gateway::PypiForm::kHtml);
  CHECK(gateway::PypiFormFor("") == gateway::PypiForm::kHtml);
  CHECK(gateway::PypiContentType(gateway::PypiForm::kJson, "") == "application/vnd.pypi.simple.v1+json");
  CHECK(gateway::PypiContentType(gateway::PypiForm::kHtml, "text/html") == "text/html");  // pip < 22.2
  CHECK(gateway::PypiContentType(gateway::PypiForm::kHtml, "application/vnd.pypi.simple.v1+html") ==
        "application/vnd.pypi.simple.v1+html");
}

TEST_CASE("pypi index: the version of a file, from the listed versions or its name", "[gateway]") {
  std::vector<std::string> listed = {"1.5", "1.5.0", "1.5.1"};
  CHECK(gateway::PypiFileVersion("numpy", "numpy-1.5.0.win32-py2.6.exe", listed) == "1.5.0");
  CHECK(gateway::PypiFileVersion("numpy", "numpy-1.5.1-cp27-none-macosx_10_6_intel.whl", listed) == "1.5.1");
  CHECK(gateway::PypiFileVersion("numpy", "numpy-1.5.tar.gz", listed) == "1.5");
  CHECK(gateway::PypiFileVersion("demo-pkg", "Demo_Pkg-1.0-py3-none-any.whl") == "1.0");
  CHECK(gateway::PypiFileVersion("demo-pkg", "demo.pkg-2.0rc1.tar.gz") == "2.0rc1");
  CHECK(gateway::PypiFileVersion("demo-pkg", "demo-pkgs-1.0.tar.gz").empty());   // another project
  CHECK(gateway::PypiFileVersion("numpy", "numpy-9.9.tar.gz", listed).empty());  // not a listed version
  // Wheels carry the normalized version; the listed spelling is returned.
  CHECK(gateway::PypiFileVersion("cal", "cal-2023.1.5-py3-none-any.whl", {"2023.01.05"}) == "2023.01.05");
}

TEST_CASE("pypi index: a refused version leaves files and versions; each file judged at its upload",
          "[gateway]") {
  std::set<std::pair<std::string, core::Millis>> asked;
  auto out =
      gateway::FilterPypiIndex(Numpy(), gateway::PypiForm::kJson, kFiles, kGatewayFiles,
                               [&](std::string_view version, core::Millis published) {
                                 CHECK(asked.emplace(std::string(version), published).second);  // once each
                                 return Refusing({"1.5.0"})(version, published);
                               });
  REQUIRE(out.ok());
  // Each file at its own upload time (a wheel added to an old release is judged as new).
  CHECK(asked.count({"1.5.0", core::ParseTimestamp("2010-08-31T18:15:09.478Z").value()}) == 1);
  CHECK(asked.count({"1.5.1", core::ParseTimestamp("2014-07-30T22:27:08.796Z").value()}) == 1);
  CHECK(asked.size() == 8);
  CHECK(out->kept == 6);
  CHECK(out->removed.size() == 2);
  json doc = json::parse(out->body);
  CHECK(doc["meta"]["api-version"] == "1.1");
  CHECK(doc["versions"] == json({"1.5.1"}));
  REQUIRE(doc["files"].size() == 6);
  for (const json& f : doc["files"]) {
    INFO(f.dump());
    CHECK(f["filename"].get<std::string>().starts_with("numpy-1.5.1"));
    CHECK(f["url"].get<std::string>().starts_with(kGatewayFiles));
  }
  // Everything else in a file is as the upstream wrote it.
  json upstream = json::parse(Numpy());
  json wheel = doc["files"][0];
  CHECK(wheel["hashes"] == upstream["files"][2]["hashes"]);
  CHECK(wheel["core-metadata"] == upstream["files"][2]["core-metadata"]);
  CHECK(wheel["upload-time"] == upstream["files"][2]["upload-time"]);
  CHECK(wheel["url"] ==
        std::string(kGatewayFiles) + upstream["files"][2]["url"].get<std::string>().substr(31));
}

TEST_CASE("pypi index: PEP 503 HTML keeps hashes, requires-python, yanked and metadata marks, escaped",
          "[gateway]") {
  auto out = gateway::FilterPypiIndex(Demo(), gateway::PypiForm::kHtml, kFiles, kGatewayFiles, Refusing({}));
  REQUIRE(out.ok());
  const std::string& html = out->body;
  CHECK(html.find("<meta name=\"pypi:repository-version\" content=\"1.1\">") != std::string::npos);
  CHECK(html.find(
            "<a href=\"http://127.0.0.1:8080/registry/pypi/files/packages/aa/Demo_Pkg-1.0-py3-none-any.whl"
            "#sha256=abc\" data-requires-python=\"&gt;=3.8,&lt;4\" data-yanked=\"broken &quot;build&quot;\" "
            "data-core-metadata=\"sha256=def\" data-dist-info-metadata=\"sha256=def\">"
            "Demo_Pkg-1.0-py3-none-any.whl</a><br/>") != std::string::npos);
  CHECK(
      html.find(
          "<a href=\"http://127.0.0.1:8080/registry/pypi/files/packages/bb/demo-pkg-1.1.tar.gz#sha256=123\" "
          "data-yanked=\"\">demo-pkg-1.1.tar.gz</a><br/>") != std::string::npos);
}

TEST_CASE("pypi index: a file off the upstream host is removed; everything refused is listed yanked with why",
          "[gateway]") {
  json page = json::parse(Demo());
  page["files"][1]["url"] = "https://files.pythonhosted.org.evil.example/demo-pkg-1.1.tar.gz";
  auto out = gateway::FilterPypiIndex(page.dump(), gateway::PypiForm::kJson, "https://files.pythonhosted.org",
                                      kGatewayFiles, Refusing({}));
  REQUIRE(out.ok());
  CHECK(out->kept == 1);
  REQUIRE(out->removed.size() == 1);
  CHECK(out->removed[0].decision.rule == "file_host");
  auto none = gateway::FilterPypiIndex(Demo(), gateway::PypiForm::kJson, kFiles, kGatewayFiles,
                                       Refusing({"1.0", "1.1"}));
  REQUIRE(none.ok());
  CHECK(none->kept == 0);
  CHECK(none->removed.size() == 2);
  CHECK(none->yanked_refused == 2);
  json listed = json::parse(none->body);
  REQUIRE(listed["files"].size() == 2);
  for (const json& file : listed["files"]) {
    CHECK(file["yanked"].get<std::string>().starts_with("blocked by the pkgtrust gateway: "));
    CHECK(file["url"].get<std::string>().starts_with(kGatewayFiles));
  }
  CHECK(listed["versions"] == json::array({"1.0", "1.1"}));
  auto html = gateway::FilterPypiIndex(Demo(), gateway::PypiForm::kHtml, kFiles, kGatewayFiles,
                                       Refusing({"1.0", "1.1"}));
  REQUIRE(html.ok());
  CHECK(html->body.find("data-yanked=\"blocked by the pkgtrust gateway: ") != std::string::npos);
  CHECK(html->body.find("broken &quot;build&quot;") == std::string::npos);  // the refusal replaces the yank

  // One file refused, the other kept: the refused one is removed, not yanked.
  auto one =
      gateway::FilterPypiIndex(Demo(), gateway::PypiForm::kJson, kFiles, kGatewayFiles, Refusing({"1.1"}));
  REQUIRE(one.ok());
  CHECK(one->kept == 1);
  CHECK(one->yanked_refused == 0);
  CHECK(json::parse(one->body)["files"].size() == 1);

  // Off the upstream host and refused: never listed again, not even yanked.
  auto off_host = gateway::FilterPypiIndex(page.dump(), gateway::PypiForm::kJson, kFiles, kGatewayFiles,
                                           Refusing({"1.0"}));
  REQUIRE(off_host.ok());
  CHECK(off_host->kept == 0);
  CHECK(off_host->yanked_refused == 1);
  CHECK(json::parse(off_host->body)["files"].size() == 1);
}

TEST_CASE("pypi index: what is not a PEP 691 page is an error naming it", "[gateway]") {
  auto f = [](std::string_view body) {
    return gateway::FilterPypiIndex(body, gateway::PypiForm::kJson, kFiles, kGatewayFiles, Refusing({}));
  };
  CHECK(f("<html>").status().code() == core::StatusCode::kInvalidArgument);
  CHECK(f("{}").status().message() == "the upstream index is not a PEP 691 project page (no \"files\" list)");
  CHECK(f(R"({"files":[]})").status().message() == "the upstream index names no project");
}

TEST_CASE("pypi index: a file no listed version claims is removed, not judged as another", "[gateway]") {
  json page = json::parse(Demo());
  page["files"][1]["filename"] = "demo-pkg-9.9.tar.gz";  // 9.9 is not listed
  auto out =
      gateway::FilterPypiIndex(page.dump(), gateway::PypiForm::kJson, kFiles, kGatewayFiles, Refusing({}));
  REQUIRE(out.ok());
  CHECK(out->kept == 1);
  REQUIRE(out->removed.size() == 1);
  CHECK(out->removed[0].decision.rule == "unknown_version");
}

TEST_CASE(
    "pypi index: a young file added to an old release goes; the release stays, judged at its first upload",
    "[gateway]") {
  json page = json::parse(Demo());
  json late = page["files"][1];
  late["filename"] = "demo_pkg-1.1-py3-none-any.whl";
  late["url"] = std::string(kFiles) + "packages/cc/demo_pkg-1.1-py3-none-any.whl";
  late["upload-time"] = "2025-12-31T00:00:00.000000Z";
  page["files"].push_back(late);
  const core::Millis cutoff = core::ParseTimestamp("2025-06-01T00:00:00Z").value();
  auto out = gateway::FilterPypiIndex(page.dump(), gateway::PypiForm::kJson, kFiles, kGatewayFiles,
                                      [&](std::string_view, core::Millis published) {
                                        gateway::Decision d;
                                        if (published > cutoff)
                                          d = {gateway::Action::kBlock, "min_release_age", "too young", true};
                                        return d;
                                      });
  REQUIRE(out.ok());
  REQUIRE(out->removed.size() == 1);
  CHECK(out->removed[0].filename == "demo_pkg-1.1-py3-none-any.whl");
  CHECK(json::parse(out->body)["versions"] == json({"1.0", "1.1"}));
}
