// npm audit through the gateway: OSV affected versions as npm ranges, the bulk answer for
// the versions sent (only advisories naming one of them), and bad requests.
#include "pkgtrust/gateway/npm_audit.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

using namespace pkgtrust;
using json = nlohmann::json;

namespace {

scoring::OsvAffected Affected(std::vector<std::string> versions, std::vector<scoring::OsvRange> ranges = {}) {
  scoring::OsvAffected a;
  a.versions = std::move(versions);
  a.ranges = std::move(ranges);
  return a;
}

gateway::AdvisoriesOf Advisories() {
  return [](const core::PackageKey& key) -> core::Result<std::vector<gateway::PackageKnowledge::Advisory>> {
    if (key.name == "evil")
      return std::vector<gateway::PackageKnowledge::Advisory>{
          {"MAL-2025-1", "steals tokens", Affected({"1.0.1"})}, {"MAL-2025-2", "", Affected({"2.0.0"})}};
    if (key.name == "@scope/all") return std::vector<gateway::PackageKnowledge::Advisory>{{"MAL-3", "", {}}};
    if (key.name == "broken") return core::Status::Unavailable("database is locked");
    return std::vector<gateway::PackageKnowledge::Advisory>{};
  };
}

}  // namespace

TEST_CASE("npm audit: OSV versions and ranges as npm semver ranges", "[gateway]") {
  CHECK(gateway::NpmVulnerableRange({}) == "*");
  CHECK(gateway::NpmVulnerableRange(Affected({"1.0.1", "1.0.2"})) == "1.0.1 || 1.0.2");
  CHECK(gateway::NpmVulnerableRange(
            Affected({}, {{"SEMVER", {{"introduced", "1.0.0"}, {"fixed", "1.0.5"}}}})) == ">=1.0.0 <1.0.5");
  CHECK(gateway::NpmVulnerableRange(Affected(
            {"0.9.0"}, {{"ECOSYSTEM",
                         {{"introduced", "2.0.0"}, {"last_affected", "2.0.3"}, {"introduced", "3.0.0"}}}})) ==
        "0.9.0 || >=2.0.0 <=2.0.3 || >=3.0.0");
  CHECK(gateway::NpmVulnerableRange(Affected({}, {{"GIT", {{"introduced", "abc"}}}})).empty());
  // Events in version order, as OSV evaluates them, whatever order the record wrote them in.
  CHECK(gateway::NpmVulnerableRange(
            Affected({}, {{"SEMVER", {{"fixed", "1.0.5"}, {"introduced", "1.0.0"}}}})) == ">=1.0.0 <1.0.5");
  // "1.0" would be npm's X-range 1.0.x: a listed version npm cannot read as one is left out.
  CHECK(gateway::NpmVulnerableRange(Affected({"1.0", "1.0.1"})) == "1.0.1");
  CHECK(gateway::NpmAdvisoryNumber("MAL-2025-1") == gateway::NpmAdvisoryNumber("MAL-2025-1"));
  CHECK(gateway::NpmAdvisoryNumber("MAL-2025-1") != gateway::NpmAdvisoryNumber("MAL-2025-2"));
  CHECK(gateway::NpmAdvisoryNumber("MAL-2025-1") >= 0);
}

TEST_CASE("npm audit: the bulk answer names the advisories of the versions sent, and only those",
          "[gateway]") {
  auto answer = gateway::AnswerNpmAuditBulk(
      R"({"evil":["1.0.0","1.0.1"],"@scope/all":["0.1.0"],"left-pad":["1.3.0"],"../x":["1"]})", Advisories());
  REQUIRE(answer.ok());
  json doc = json::parse(*answer);
  CHECK(doc.size() == 2);            // left-pad is clean; "../x" is not a name npm could publish
  REQUIRE(doc["evil"].size() == 1);  // MAL-2025-2 names 2.0.0, which was not sent
  json advisory = doc["evil"][0];
  CHECK(advisory["id"] == gateway::NpmAdvisoryNumber("MAL-2025-1"));
  CHECK(advisory["title"] == "Malicious package (MAL-2025-1): steals tokens");
  CHECK(advisory["url"] == "https://osv.dev/vulnerability/MAL-2025-1");
  CHECK(advisory["severity"] == "critical");
  CHECK(advisory["vulnerable_versions"] == "1.0.1");
  CHECK(doc["@scope/all"][0]["vulnerable_versions"] == "*");
}

TEST_CASE("npm audit: bad requests are errors naming the problem; a store error is not a clean bill",
          "[gateway]") {
  CHECK(gateway::AnswerNpmAuditBulk("[]", Advisories()).status().message() ==
        "the audit request is not a JSON object of package names to versions");
  CHECK(gateway::AnswerNpmAuditBulk(R"({"evil":"1.0.1"})", Advisories()).status().message() ==
        "the audit request's entry for 'evil' is not a list of versions");
  CHECK(gateway::AnswerNpmAuditBulk(R"({"broken":["1.0.0"]})", Advisories()).status().code() ==
        core::StatusCode::kUnavailable);
  CHECK(gateway::AnswerNpmAuditBulk("{}", Advisories()).value() == "{}");
}
