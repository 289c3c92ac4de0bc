// The check's outputs: every dependency in each, SARIF valid against the 2.1.0 schema (with
// Ajv, a real JSON-schema validator) and pointing at the lockfile lines.
#include "pkgtrust/check/render.hpp"

#include <catch2/catch.hpp>

#include "check/check_test_support.hpp"
#include "support/test_support.hpp"

namespace pkgtrust::check {
using namespace testing;
using json = nlohmann::json;

namespace {

// Malicious (fails), a typosquat ignored until 2099, a yanked version (warns), a pending
// package, a git dependency, a clean one, and a file that could not be read.
CheckResult SampleResult() {
  CheckResult result;
  result.files = {"package-lock.json", "requirements.txt"};
  result.policy.source = ".pkgtrust.yaml";
  result.policy.ignore.push_back({"pkg:npm/expresss", {}, "our fork", "2099-01-01", 5});
  json evil = Report("gw-evil", 6.0);
  evil["version"]["malicious"] = true;
  evil["version"]["advisories"] = {"MAL-2099-0101"};
  evil["version"]["score"] = 0.0;
  json typo = Report("expresss", 4.0);
  typo["flags"]["typosquatting"] = true;
  typo["flags"]["looks_like"] = "express";
  json yanked = Report("old|pipe", 6.0);
  yanked["version"]["yanked"] = true;
  result.verdicts.push_back(
      Judge(Locked("left-pad", "1.3.0", 40), Report("left-pad", 7.5), result.policy, kCheckNow));
  result.verdicts.push_back(Judge(Locked("gw-evil", "1.0.0", 12), evil, result.policy, kCheckNow));
  result.verdicts.push_back(Judge(Locked("expresss", "1.0.0", 20), typo, result.policy, kCheckNow));
  result.verdicts.push_back(Judge(Locked("old", "2.0.0", 30), yanked, result.policy, kCheckNow));
  lockfile::LockedDependency pending = Locked("requests", "2.32.3", 3, core::Ecosystem::kPypi);
  pending.file = "requirements.txt";
  result.verdicts.push_back(Judge(pending, json{{"status", "pending_repository"}}, result.policy, kCheckNow));
  lockfile::LockedDependency git = Locked("is-number", "", 50);
  git.origin = lockfile::Origin::kGit;
  git.origin_detail = "github:jonschlinkert/is-number#d5ac058";
  result.verdicts.push_back(
      NotLookedUp(git, Outcome::kNotRegistry, "git: github:jonschlinkert/is-number#d5ac058"));
  result.errors.push_back({"yarn.lock", "yarn.lock:4: expected `version`"});
  SortWorstFirst(result.verdicts);
  return result;
}

}  // namespace

TEST_CASE("check table: every dependency, worst first, colours only when asked", "[check]") {
  CheckResult result = SampleResult();
  std::string plain = RenderTable(result, /*color=*/false);
  INFO(plain);
  CHECK(plain.find('\033') == std::string::npos);
  for (const auto& verdict : result.verdicts) CHECK(plain.find(verdict.purl) != std::string::npos);
  CHECK(plain.find("ERROR    yarn.lock:4: expected `version`") != std::string::npos);
  CHECK(plain.find("FAIL      0.0 pkg:npm/gw-evil@1.0.0  package-lock.json:12") != std::string::npos);
  CHECK(plain.find("malicious  fails: version 1.0.0 is malicious: MAL-2099-0101") != std::string::npos);
  CHECK(plain.find("typosquat  ignored: the name looks like the popular package express") !=
        std::string::npos);
  CHECK(plain.find("ignored until 2099-01-01: our fork") != std::string::npos);
  CHECK(plain.find("PENDING     - pkg:pypi/requests@2.32.3  requirements.txt:3  pending_repository") !=
        std::string::npos);
  CHECK(plain.find("SKIP        - pkg:npm/is-number  package-lock.json:50  git: github:") !=
        std::string::npos);
  CHECK(plain.find("ok        7.5 pkg:npm/left-pad@1.3.0") != std::string::npos);
  CHECK(plain.find(
            "6 dependencies in 2 files: 1 fails the policy, 1 warning, 1 pending, 1 not from a registry, "
            "1 file unreadable") != std::string::npos);
  CHECK(plain.find("FAIL") < plain.find("WARN"));
  std::string colored = RenderTable(result, /*color=*/true);
  CHECK(colored.find("\033[1;31mFAIL    \033[0m") != std::string::npos);
}

TEST_CASE("check JSON: every dependency with its findings and the exit code", "[check]") {
  CheckResult result = SampleResult();
  json out = RenderJson(result);
  CHECK(out["exit_code"] == kExitInputError);
  CHECK(out["passed"] == false);
  CHECK(out["summary"]["dependencies"] == 6);
  CHECK(out["summary"]["failing"] == 1);
  CHECK(out["summary"]["pending"] == 1);
  CHECK(out["summary"]["not_registry"] == 1);
  CHECK(out["errors"][0]["file"] == "yarn.lock");
  REQUIRE(out["dependencies"].size() == 6);
  const json& first = out["dependencies"][0];
  CHECK(first["purl"] == "pkg:npm/gw-evil@1.0.0");
  CHECK(first["line"] == 12);
  CHECK(first["fails"] == true);
  CHECK(first["findings"][0]["concern"] == "malicious");
  CHECK(first["explanation"].size() == 3);
  const json& git = out["dependencies"][5];
  CHECK(git["origin"] == "git");
  CHECK(git["origin_detail"] == "github:jonschlinkert/is-number#d5ac058");
  CHECK(git["outcome"] == "not_registry");
}

TEST_CASE("check Markdown: findings table and every dependency, cells without pipes", "[check]") {
  std::string markdown = RenderMarkdown(SampleResult());
  CHECK(markdown.starts_with("### pkgtrust check: files could not be read\n"));
  CHECK(markdown.find(
            "| **fails** | `pkg:npm/gw-evil@1.0.0` | malicious | version 1.0.0 is malicious: MAL-2099-0101 | "
            "`package-lock.json:12` |") != std::string::npos);
  CHECK(markdown.find("| ignored | `pkg:npm/expresss@1.0.0` | typosquat |") != std::string::npos);
  CHECK(markdown.find(
            "| `pkg:npm/is-number` | - | not_registry: git: github:jonschlinkert/is-number#d5ac058 |") !=
        std::string::npos);
  CHECK(markdown.find("<details>") != std::string::npos);
}

TEST_CASE("check SARIF: a result per finding at its lockfile line, ignored ones suppressed", "[check]") {
  CheckResult result = SampleResult();
  json sarif = RenderSarif(result, "1.2.3", ".");
  CHECK(sarif["version"] == "2.1.0");
  const json& run = sarif["runs"][0];
  CHECK(run["tool"]["driver"]["name"] == "pkgtrust");
  CHECK(run["tool"]["driver"]["rules"].size() == std::size(kAllConcerns));
  const json& results = run["results"];
  REQUIRE(results.size() == 4);  // malicious, typosquat, yanked, pending
  CHECK(results[0]["ruleId"] == "pkgtrust/malicious");
  CHECK(results[0]["level"] == "error");
  CHECK(results[0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "package-lock.json");
  CHECK(results[0]["locations"][0]["physicalLocation"]["region"]["startLine"] == 12);
  CHECK(run["tool"]["driver"]["rules"][results[0]["ruleIndex"].get<int>()]["id"] == "pkgtrust/malicious");
  CHECK(results[1]["ruleId"] == "pkgtrust/yanked");
  CHECK(results[1]["level"] == "warning");
  CHECK(results[2]["ruleId"] == "pkgtrust/pending");
  CHECK(results[2]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "requirements.txt");
  // Ignored: sorted with the clean ones, kept as a suppressed result.
  CHECK(results[3]["ruleId"] == "pkgtrust/typosquat");
  CHECK(results[3]["level"] == "error");
  CHECK(results[3]["suppressions"][0]["justification"] == "ignored until 2099-01-01: our fork");
  CHECK_FALSE(results[0].contains("suppressions"));
  CHECK(results[0]["partialFingerprints"]["pkgtrustFinding/v1"] ==
        "package-lock.json#pkg:npm/gw-evil@1.0.0#pkgtrust/malicious");
}

TEST_CASE("check SARIF of a run that could not judge: no results, the invocation failed and why", "[check]") {
  CheckResult result = SampleResult();
  json sarif = RenderSarifFailure(result, "1.2.3", ".", "cannot reach the pkgtrust server: refused");
  const json& invocation = sarif["runs"][0]["invocations"][0];
  CHECK(invocation["executionSuccessful"] == false);
  CHECK(invocation["toolExecutionNotifications"][0]["message"]["text"] ==
        "cannot reach the pkgtrust server: refused");
  CHECK(invocation["toolExecutionNotifications"][1]["message"]["text"] == "yarn.lock:4: expected `version`");
}

TEST_CASE("check SARIF validates against the SARIF 2.1.0 schema", "[check][sarif]") {
  std::string validator = std::string(PKGTRUST_SOURCE_DIR) + "/tests/sarif";
  INFO("Ajv is installed by scripts/test.sh: npm ci --prefix tests/sarif");
  REQUIRE(std::filesystem::exists(validator + "/node_modules/ajv-draft-04/package.json"));
  TempDir dir;
  std::string valid = dir.File("check.sarif");
  WriteText(valid, RenderSarif(SampleResult(), "1.2.3", ".").dump(2));
  CheckResult empty;
  std::string no_results = dir.File("empty.sarif");
  WriteText(no_results, RenderSarif(empty, "1.2.3", ".").dump());
  std::string failed = dir.File("failed.sarif");
  WriteText(failed, RenderSarifFailure(SampleResult(), "1.2.3", ".", "cannot reach the server").dump());
  std::string schema =
      std::string(PKGTRUST_SOURCE_DIR) + "/tests/fixtures/lockfiles/sarif/sarif-schema-2.1.0.json";
  auto run = RunCommand("node " + validator + "/validate.mjs " + schema + " " + valid + " " + no_results +
                        " " + failed + " 2>&1");
  INFO(run.output);
  CHECK(run.exit_code == 0);
  // The validator does fail on a wrong document: a result whose line is 0 (SARIF lines start at 1).
  json broken = RenderSarif(SampleResult(), "1.2.3", ".");
  broken["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"]["startLine"] = 0;
  std::string invalid = dir.File("broken.sarif");
  WriteText(invalid, broken.dump());
  auto rejected = RunCommand("node " + validator + "/validate.mjs " + schema + " " + invalid + " 2>&1");
  CHECK(rejected.exit_code == 1);
  CHECK(rejected.output.find("startLine must be >= 1") != std::string::npos);
}

}  // namespace pkgtrust::check
