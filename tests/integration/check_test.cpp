// `pkgtrust check` end to end against `pkgtrust serve` with the replay upstream: a real
// project's package-lock.json (pypi/warehouse, 999 packages) passes; with a malicious
// version and a typosquat injected it fails naming both, in the table, JSON and SARIF
// (validated against the SARIF 2.1.0 schema). Then the policy file's ignore list (one entry
// in force, one expired), --wait running out (pending), a bad file among good ones, the same
// check through POST /v1/check and in-process with --config, and a server that is down.
#include <fmt/format.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "pkgtrust/core/percent_encoding.hpp"
#include "pkgtrust/lockfile/lockfile.hpp"
#include "support/http_test_client.hpp"
#include "support/loopback_socket.hpp"
#include "support/replay_server.hpp"
#include "support/test_support.hpp"

using namespace pkgtrust;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

testing::CommandRun Pkgtrust(const std::string& args) {
  return testing::RunCommand(std::string(PKGTRUST_BINARY) + " " + args + " 2>&1");
}

// The 1-based line of the first occurrence of `needle` in `text`.
int LineOf(const std::string& text, const std::string& needle) {
  std::size_t at = text.find(needle);
  return at == std::string::npos ? 0
                                 : 1 + static_cast<int>(std::count(text.begin(), text.begin() + at, '\n'));
}

// A `pkgtrust serve` child process, stopped with SIGTERM when destroyed.
class ServeProcess {
 public:
  explicit ServeProcess(const std::string& config_path) {
    pid_ = fork();
    if (pid_ == 0) {
      execl(PKGTRUST_BINARY, PKGTRUST_BINARY, "serve", "--config", config_path.c_str(),
            static_cast<char*>(nullptr));
      _exit(127);
    }
  }
  ~ServeProcess() { Stop(); }
  void Stop() {
    if (pid_ <= 0) return;
    kill(pid_, SIGTERM);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
  }

 private:
  pid_t pid_ = -1;
};

}  // namespace

TEST_CASE("check end to end: a real lockfile passes, injected malicious and typosquat packages fail it",
          "[integration]") {
  testing::TempDir dir;
  const std::string original =
      testing::ReadText(testing::FixturePath("lockfiles/real/package-lock/pypi-warehouse-package-lock.json"));
  // The registry knows every locked version (published in 2020, no repository declared),
  // gw-evil at 1.0.0 and 1.0.1, expresss (a typosquat of express), and slow-pkg, which never answers.
  std::map<std::string, std::set<std::string>> versions;
  {
    auto parsed =
        lockfile::ParseLockfile(lockfile::Format::kPackageLock, {"package-lock.json", original, nullptr});
    REQUIRE(parsed.ok());
    REQUIRE(parsed->size() == 999);
    for (const auto& dependency : *parsed) {
      const core::Purl& purl = dependency.purl;
      versions[purl.namespace_.empty() ? purl.name : purl.namespace_ + "/" + purl.name].insert(purl.version);
    }
  }
  versions["gw-evil"] = {"1.0.0", "1.0.1"};
  versions["expresss"] = {"1.0.0"};
  testing::ReplayServer upstream(2);
  upstream.SetGenerator([&versions, base = upstream.BaseUrl()](
                            const std::string& method,
                            const std::string& target) -> std::optional<testing::ReplayResponse> {
    if (method != "GET") return std::nullopt;
    if (target.starts_with("/downloads/point/last-month/"))
      return testing::ReplayResponse{200, {}, R"({"downloads": 250000})"};
    if (target == "/slow-pkg") return testing::ReplayResponse{.hang = true};
    auto name = core::PercentDecode(target.substr(1));
    if (!name.ok() || !versions.contains(*name))
      return testing::ReplayResponse{404, {}, R"({"error":"Not found"})"};
    json doc = {{"name", *name}, {"dist-tags", {{"latest", *versions[*name].rbegin()}}}};
    for (const std::string& version : versions[*name]) {
      doc["versions"][version] = {{"name", *name},
                                  {"version", version},
                                  {"dist", {{"tarball", base + "/" + *name + "/-/x-" + version + ".tgz"}}}};
      doc["time"][version] = "2020-01-01T00:00:00.000Z";
    }
    return testing::ReplayResponse{200, {}, doc.dump()};
  });

  int port = testing::FreeLoopbackPort();
  std::string db = dir.File("check.db");
  std::string yaml = fmt::format(
      "server:\n  listen: \"127.0.0.1:{}\"\ndatabase:\n  path: {}\nlog:\n  level: warn\nupstreams:\n", port,
      db);
  for (const char* name : {"npm", "npm_downloads", "pypi", "pypi_files", "crates", "maven", "go", "github"})
    yaml += fmt::format("  {}: \"{}\"\n", name, upstream.BaseUrl());
  std::string config = dir.File("serve.yaml");
  testing::WriteText(config, yaml);
  auto serve = std::make_unique<ServeProcess>(config);
  std::string url = fmt::format("http://127.0.0.1:{}", port);
  testing::ApiClient client(url);
  REQUIRE(testing::WaitUntil([&] { return client.Get("/readyz").status == 200; }, 30s));
  auto imported = Pkgtrust("import-osv " + testing::FixturePath("osv-handwritten/check") + " --db " + db);
  INFO(imported.output);
  REQUIRE(imported.exit_code == 0);

  // The real lockfile as it is: every package judged, nothing fails.
  std::filesystem::create_directories(dir.File("repo"));
  testing::WriteText(dir.File("repo/package-lock.json"), original);
  auto clean = Pkgtrust(fmt::format("check {} --url {} --wait 300 --json", dir.File("repo"), url));
  INFO(clean.output.substr(0, 2000));
  REQUIRE(clean.exit_code == 0);
  json passed = json::parse(clean.output);
  CHECK(passed["passed"] == true);
  CHECK(passed["summary"]["dependencies"] == 999);
  CHECK(passed["summary"]["judged"] == 999);
  CHECK(passed["summary"]["failing"] == 0);

  // Injected: gw-evil 1.0.0 (named by MAL-9000-0101) and expresss.
  json lock = json::parse(original);
  for (const char* name : {"gw-evil", "expresss"})
    lock["packages"][std::string("node_modules/") + name] = {
        {"version", "1.0.0"},
        {"resolved", fmt::format("https://registry.npmjs.org/{0}/-/{0}-1.0.0.tgz", name)},
        {"license", "MIT"}};
  std::string injected = lock.dump(2);
  testing::WriteText(dir.File("repo/package-lock.json"), injected);
  std::string sarif = dir.File("check.sarif");
  auto failed = Pkgtrust(
      fmt::format("check {} --url {} --wait 300 --no-color --sarif {}", dir.File("repo"), url, sarif));
  INFO(failed.output.substr(0, 3000));
  CHECK(failed.exit_code == 1);
  std::string lockfile_path = dir.File("repo/package-lock.json");
  int evil_line = LineOf(injected, "\"node_modules/gw-evil\": {");
  int typo_line = LineOf(injected, "\"node_modules/expresss\": {");
  CHECK(failed.output.find(fmt::format("FAIL      0.0 pkg:npm/gw-evil@1.0.0  {}:{}", lockfile_path,
                                       evil_line)) != std::string::npos);
  CHECK(failed.output.find(
            "malicious  fails: version 1.0.0 is malicious: MAL-9000-0101 (Malicious code in gw-evil "
            "(npm))") != std::string::npos);
  CHECK(failed.output.find(fmt::format("pkg:npm/expresss@1.0.0  {}:{}", lockfile_path, typo_line)) !=
        std::string::npos);
  CHECK(failed.output.find("typosquat  fails: the name looks like the popular package express") !=
        std::string::npos);
  CHECK(failed.output.find("1,001 dependencies in 1 file: 2 fail the policy") != std::string::npos);
  CHECK(failed.output.find("FAIL") < failed.output.find("ok   "));  // worst first
  // The SARIF: valid, and each finding at its line of the lockfile.
  auto validated = testing::RunCommand(fmt::format(
      "node {0}/tests/sarif/validate.mjs {0}/tests/fixtures/lockfiles/sarif/sarif-schema-2.1.0.json {1} 2>&1",
      PKGTRUST_SOURCE_DIR, sarif));
  INFO(validated.output);
  CHECK(validated.exit_code == 0);
  json results = json::parse(testing::ReadText(sarif))["runs"][0]["results"];
  REQUIRE(results.size() == 2);
  CHECK(results[0]["ruleId"] == "pkgtrust/malicious");
  CHECK(results[0]["locations"][0]["physicalLocation"]["region"]["startLine"] == evil_line);
  CHECK(results[1]["ruleId"] == "pkgtrust/typosquat");
  CHECK(results[1]["locations"][0]["physicalLocation"]["region"]["startLine"] == typo_line);

  // Version-aware: gw-evil 1.0.1 is not named by the advisory.
  lock["packages"]["node_modules/gw-evil"]["version"] = "1.0.1";
  lock["packages"].erase("node_modules/expresss");
  testing::WriteText(dir.File("repo/package-lock.json"), lock.dump(2));
  auto fixed = Pkgtrust(fmt::format("check {} --url {} --wait 300", dir.File("repo"), url));
  INFO(fixed.output.substr(0, 2000));
  CHECK(fixed.exit_code == 0);

  // The policy file: expresss ignored until 2099 (in force), gw-evil until 2020 (expired).
  testing::WriteText(dir.File("repo/package-lock.json"), injected);
  testing::WriteText(
      dir.File("repo/.pkgtrust.yaml"),
      "fail_on: [malicious, typosquat]\n"
      "ignore:\n"
      "  - package: pkg:npm/expresss\n    reason: our own fork, reviewed\n    expires: 2099-12-31\n"
      "  - package: pkg:npm/gw-evil@1.0.0\n    reason: was a false alarm\n    expires: 2020-01-31\n");
  auto ignoring = Pkgtrust(fmt::format("check {} --url {} --wait 300 --no-color", dir.File("repo"), url));
  INFO(ignoring.output.substr(0, 3000));
  CHECK(ignoring.exit_code == 1);
  CHECK(ignoring.output.find("typosquat  ignored: the name looks like the popular package express") !=
        std::string::npos);
  CHECK(ignoring.output.find("ignored until 2099-12-31: our own fork, reviewed") != std::string::npos);
  CHECK(ignoring.output.find(
            fmt::format("the ignore entry for pkg:npm/gw-evil@1.0.0 ({}:6) expired on 2020-01-31: "
                        "no longer ignored",
                        dir.File("repo/.pkgtrust.yaml"))) != std::string::npos);
  CHECK(ignoring.output.find("1 fails the policy") != std::string::npos);

  // --wait running out: slow-pkg's registry never answers, so it is pending; the policy decides.
  std::filesystem::create_directories(dir.File("slow"));
  testing::WriteText(dir.File("slow/requirements.txt"), "# none\n");
  testing::WriteText(
      dir.File("slow/package-lock.json"),
      R"({"lockfileVersion": 3, "packages": {"": {}, "node_modules/slow-pkg": {"version": "1.0.0"},
                         "node_modules/gw-evil": {"version": "1.0.1"}}})");
  auto pending = Pkgtrust(fmt::format("check {} --url {} --wait 1 --no-color", dir.File("slow"), url));
  INFO(pending.output);
  CHECK(pending.exit_code == 0);
  CHECK(pending.output.find("PENDING     - pkg:npm/slow-pkg@1.0.0") != std::string::npos);
  CHECK(pending.output.find("ok ") != std::string::npos);
  CHECK(pending.output.find("2 dependencies in 2 files: 0 fail the policy, 1 pending") != std::string::npos);
  auto strict =
      Pkgtrust(fmt::format("check {} --url {} --wait 0 --fail-on malicious,pending", dir.File("slow"), url));
  CHECK(strict.exit_code == 1);

  // A bad file does not stop the others: exit 2, its error names the file and line.
  testing::WriteText(dir.File("slow/poetry.lock"), "[[package]]\nname = \"x\"\nversion = \n");
  auto broken = Pkgtrust(fmt::format("check {} --url {} --wait 0 --json", dir.File("slow"), url));
  CHECK(broken.exit_code == 2);
  json broken_json = json::parse(broken.output.substr(broken.output.find('{')));
  REQUIRE(broken_json["errors"].size() == 1);
  CHECK(broken_json["errors"][0]["message"].get<std::string>().starts_with(dir.File("slow/poetry.lock") +
                                                                           ":3: "));
  CHECK(broken_json["summary"]["dependencies"] == 2);

  // POST /v1/check: the same verdicts for a lockfile's text.
  auto posted = client.Post("/v1/check?filename=package-lock.json&wait=30", injected);
  REQUIRE(posted.status == 200);
  json api = posted.Json();
  CHECK(api["summary"]["failing"] == 2);
  CHECK(api["dependencies"][0]["purl"] == "pkg:npm/gw-evil@1.0.0");
  CHECK(api["dependencies"][0]["line"] == evil_line);
  CHECK(api["dependencies"][1]["purl"] == "pkg:npm/expresss@1.0.0");
  auto unreadable = client.Post("/v1/check?filename=poetry.lock", "[[package]]\nname = \n");
  CHECK(unreadable.status == 400);
  CHECK(unreadable.Json()["error"]["code"] == "invalid_lockfile");
  CHECK(client.Post("/v1/check", injected).status == 400);  // no filename or format
  // A version no registry would take (4,200 bytes): listed as invalid, the others judged.
  auto odd = client.Post("/v1/check?format=gradle&wait=5",
                         "com.example:lib:" + std::string(4200, 'a') + "=runtimeClasspath\n");
  REQUIRE(odd.status == 200);
  CHECK(odd.Json()["dependencies"][0]["outcome"] == "invalid");
  CHECK(odd.Json()["dependencies"][0]["detail"] == "the version is longer than 256 bytes");
  CHECK(client.Post("/v1/check?filename=package-lock.json&fail_on=none&wait=5", injected).Json()["passed"] ==
        true);

  // In-process, from the database the server filled (no server needed).
  serve->Stop();
  testing::WriteText(dir.File("repo/.pkgtrust.yaml"), "");
  auto in_process =
      Pkgtrust(fmt::format("check {} --config {} --wait 30 --no-color", dir.File("repo"), config));
  INFO(in_process.output.substr(0, 2000));
  CHECK(in_process.exit_code == 1);
  CHECK(in_process.output.find("FAIL      0.0 pkg:npm/gw-evil@1.0.0") != std::string::npos);

  // The server is down: exit 3, a message that says so, and a SARIF file that says the run failed.
  std::filesystem::remove(sarif);
  auto down = Pkgtrust(fmt::format("check {} --url {} --wait 5 --sarif {}", dir.File("repo"), url, sarif));
  CHECK(down.exit_code == 3);
  CHECK(down.output.find("pkgtrust check: cannot reach the pkgtrust server: ") != std::string::npos);
  CHECK(down.output.find("Connection refused") != std::string::npos);
  REQUIRE(std::filesystem::exists(sarif));
  CHECK(json::parse(testing::ReadText(sarif))["runs"][0]["invocations"][0]["executionSuccessful"] == false);
}
