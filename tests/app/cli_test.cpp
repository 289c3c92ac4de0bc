// The pkgtrust binary as a user meets it: exit codes and messages.
#include <sys/wait.h>

#include <array>
#include <catch2/catch.hpp>
#include <cstdio>
#include <cstdlib>
#include <iterator>
#include <nlohmann/json.hpp>
#include <set>

#include "app/config.hpp"
#include "app/service.hpp"
#include "support/http_test_client.hpp"
#include "support/replay_server.hpp"
#include "support/test_support.hpp"

namespace {

struct Run {
  int exit_code;
  std::string output;  // stdout and stderr
};

Run Pkgtrust(const std::string& args) {
  std::string command = std::string(PKGTRUST_BINARY) + " " + args + " 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  REQUIRE(pipe != nullptr);
  std::string output;
  std::array<char, 4096> buffer;
  while (std::size_t n = fread(buffer.data(), 1, buffer.size(), pipe)) output.append(buffer.data(), n);
  int status = pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, output};
}

// The replay upstream of the score tests: left-pad as recorded, no-such-pkg a 404.
void AddScoreRoutes(pkgtrust::testing::ReplayServer& upstream) {
  upstream.Add(
      "GET", "/left-pad",
      pkgtrust::testing::ReplayResponse{
          200,
          {},
          pkgtrust::testing::ReadText(pkgtrust::testing::FixturePath("registry/npm/left-pad.json"))});
  upstream.Add("GET", "/no-such-pkg", pkgtrust::testing::ReplayResponse{404, {}, R"({"error":"Not found"})"});
}

// A config file with the database `db`, `more` YAML, and every upstream at `upstream`.
std::string WriteScoreConfig(pkgtrust::testing::TempDir& dir, const pkgtrust::testing::ReplayServer& upstream,
                             const std::string& db, const std::string& more = "") {
  std::string yaml = "database:\n  path: " + dir.File(db) + "\n" + more + "upstreams:\n";
  for (const char* name : {"npm", "npm_downloads", "pypi", "crates", "maven", "go", "github"})
    yaml += std::string("  ") + name + ": \"" + upstream.BaseUrl() + "\"\n";
  std::string path = dir.File(db + ".yaml");
  pkgtrust::testing::WriteText(path, yaml);
  return path;
}

}  // namespace

TEST_CASE("--help and --version answer and exit 0", "[app][cli]") {
  auto help = Pkgtrust("--help");
  CHECK(help.exit_code == 0);
  CHECK_THAT(help.output, Catch::Contains("pkgtrust serve --config FILE") && Catch::Contains("pkgtrust dev"));
  auto version = Pkgtrust("--version");
  CHECK(version.exit_code == 0);
  CHECK_THAT(version.output, Catch::StartsWith("pkgtrust 0."));
}

TEST_CASE("unknown commands and flags print usage and exit 2", "[app][cli]") {
  for (const char* args :
       {"", "frobnicate", "--frobnicate", "serve --bogus", "serve --config", "dev --config x",
        "watch --max-events many", "watch --from-offset -3", "topology", "topology destroy"}) {
    INFO(args);
    auto run = Pkgtrust(args);
    CHECK(run.exit_code == 2);
    CHECK_THAT(run.output, Catch::Contains("Usage:"));
  }
}

TEST_CASE("watch refuses a URL it cannot follow", "[app][cli]") {
  auto run = Pkgtrust("watch --url https://example.invalid");
  CHECK(run.exit_code == 2);
  CHECK_THAT(run.output, Catch::Contains("--url must be an http:// URL"));
}

TEST_CASE("a broken config stops start-up with one line naming file, line and key", "[app][cli]") {
  pkgtrust::testing::TempDir dir;
  pkgtrust::testing::WriteText(dir.File("bad.yaml"), "database:\n  path: x.db\n  colour: blue\n");
  auto run = Pkgtrust("serve --config " + dir.File("bad.yaml"));
  CHECK(run.exit_code == 1);
  CHECK(run.output == "pkgtrust: " + dir.File("bad.yaml") +
                          ":3: database.colour: unknown key (expected one of: kind, path, postgres_url_env, "
                          "read_connections, cache_mb_per_connection, synchronous)\n");
  auto check =
      Pkgtrust(std::string("check-config --config ") + PKGTRUST_SOURCE_DIR + "/config/pkgtrust.yaml");
  CHECK(check.exit_code == 0);
  CHECK_THAT(check.output, Catch::Contains("ok (topology") && Catch::Contains("6 queues, 3 topics"));
}

TEST_CASE("rescore runs over a database and says what it did", "[app][cli]") {
  pkgtrust::testing::TempDir dir;
  auto run = Pkgtrust("rescore --db " + dir.File("empty.db"));
  CHECK(run.exit_code == 0);
  CHECK_THAT(run.output, Catch::Contains("rescored 0 complete packages") && Catch::Contains("pkgtrust-3"));
  CHECK(Pkgtrust("rescore --frobnicate").exit_code == 2);
}

TEST_CASE("a GitHub token that would break a header stops start-up", "[app][cli]") {
  pkgtrust::testing::TempDir dir;
  pkgtrust::testing::WriteText(dir.File("t.yaml"), "database:\n  path: " + dir.File("t.db") + "\n");
  setenv("GITHUB_TOKEN", "abc\r\nX-Injected: 1", 1);
  auto run = Pkgtrust("serve --config " + dir.File("t.yaml"));
  unsetenv("GITHUB_TOKEN");
  CHECK(run.exit_code == 1);
  CHECK_THAT(run.output, Catch::Contains("$GITHUB_TOKEN holds spaces, line breaks"));
}

TEST_CASE("an unusable database path is a clear start-up error", "[app][cli]") {
  pkgtrust::testing::TempDir dir;
  pkgtrust::testing::WriteText(dir.File("c.yaml"), "database:\n  path: /nonexistent-dir/db/pkgtrust.db\n");
  auto run = Pkgtrust("serve --config " + dir.File("c.yaml"));
  CHECK(run.exit_code == 1);
  CHECK_THAT(run.output,
             Catch::StartsWith("pkgtrust: cannot open database '/nonexistent-dir/db/pkgtrust.db'"));
}

TEST_CASE("pkgtrust score fetches one package and prints its report, readable or JSON", "[app][cli]") {
  pkgtrust::testing::TempDir dir;
  pkgtrust::testing::ReplayServer upstream;
  AddScoreRoutes(upstream);
  std::string config = " --config " + WriteScoreConfig(dir, upstream, "score.db");

  auto readable = Pkgtrust("score npm left-pad" + config);
  INFO(readable.output);
  CHECK(readable.exit_code == 0);
  CHECK_THAT(readable.output, Catch::Contains("npm left-pad 1.3.0  (pkg:npm/left-pad)") &&
                                  Catch::Contains("score ") && Catch::Contains("provenance") &&
                                  Catch::Contains("top reasons:"));

  // The second run answers from the stored report: the registry is not asked again.
  auto as_json = Pkgtrust("score pkg:npm/left-pad --json" + config);
  CHECK(as_json.exit_code == 0);
  auto report = nlohmann::json::parse(as_json.output.substr(as_json.output.find('{')));
  CHECK(report["status"] == "complete");
  CHECK(report["score"]["value"].is_number());
  CHECK(upstream.Hits("GET", "/left-pad") == 1);

  auto missing = Pkgtrust("score npm no-such-pkg" + config);
  CHECK(missing.exit_code == 3);
  CHECK_THAT(missing.output, Catch::Contains("npm/no-such-pkg does not exist in its registry"));
  auto bad = Pkgtrust("score cobol x" + config);
  CHECK(bad.exit_code == 1);
  CHECK_THAT(bad.output, Catch::Contains("cobol"));
  CHECK(Pkgtrust("score").exit_code == 2);
  CHECK(Pkgtrust("score npm x --timeout soon").exit_code == 2);
}

TEST_CASE("pkgtrust score and GET /v1/packages give the same answer: one lookup, one set of rules",
          "[app][cli]") {
  pkgtrust::testing::TempDir dir;
  pkgtrust::testing::ReplayServer upstream;
  AddScoreRoutes(upstream);
  // The configured not-found recheck applies to score as it does to the API (score once
  // had its own hour): 0 s, so every score of a missing package asks the registry again.
  std::string config_path = WriteScoreConfig(
      dir, upstream, "same.db", "server:\n  listen: 127.0.0.1:0\napi:\n  not_found_recheck_seconds: 0\n");
  std::string config = " --config " + config_path;

  auto cli = Pkgtrust("score npm left-pad 1.3.0 --json" + config);
  INFO(cli.output);
  REQUIRE(cli.exit_code == 0);
  auto from_cli = nlohmann::json::parse(cli.output.substr(cli.output.find('{')));
  CHECK(from_cli["version"]["version"] == "1.3.0");

  CHECK(Pkgtrust("score npm no-such-pkg" + config).exit_code == 3);
  CHECK(Pkgtrust("score npm no-such-pkg" + config).exit_code == 3);
  CHECK(upstream.Hits("GET", "/no-such-pkg") == 2);

  // The same database served over HTTP: the same report, field for field.
  pkgtrust::app::Service service(pkgtrust::app::LoadConfigFile(config_path));
  service.Start();
  pkgtrust::testing::ApiClient client("http://127.0.0.1:" + std::to_string(service.http_port()));
  auto rest = client.Get("/v1/packages/npm/left-pad?version=1.3.0");
  REQUIRE(rest.status == 200);
  CHECK(rest.Json() == from_cli);
  CHECK(upstream.Hits("GET", "/left-pad") == 1);  // both answered from the one stored run
  CHECK(client.Get("/v1/packages/npm/no-such-pkg").status == 404);
  CHECK(upstream.Hits("GET", "/no-such-pkg") == 3);
}

TEST_CASE("each command's --help is its own: synopsis, options and an example", "[app][cli]") {
  const char* commands[] = {"serve",   "dev",   "check-config", "import-osv",
                            "rescore", "score", "topology",     "watch"};
  std::set<std::string> texts;
  for (const char* command : commands) {
    INFO(command);
    auto run = Pkgtrust(std::string(command) + " --help");
    CHECK(run.exit_code == 0);
    CHECK_THAT(run.output, Catch::StartsWith(std::string("Usage: pkgtrust ") + command));
    CHECK_THAT(run.output, Catch::Contains("Options:") && Catch::Contains("Example"));
    texts.insert(run.output);
    // The same text however it is asked for, even after a bad argument.
    CHECK(Pkgtrust(std::string("help ") + command).output == run.output);
    CHECK(Pkgtrust(std::string(command) + " --bogus -h").output == run.output);
  }
  CHECK(texts.size() == std::size(commands));
  CHECK_THAT(Pkgtrust("import-osv --help").output,
             Catch::Contains("--db PATH") && !Catch::Contains("--prune"));
  CHECK_THAT(Pkgtrust("topology --help").output, Catch::Contains("--detailed-exitcode"));
  // A usage error names the command and shows its synopsis, not every command's.
  auto bad = Pkgtrust("score --timeout 0 npm left-pad");
  CHECK(bad.exit_code == 2);
  CHECK_THAT(bad.output,
             Catch::StartsWith(
                 "pkgtrust score: --timeout takes whole seconds from 1 to 3600\nUsage: pkgtrust score"));
  CHECK_THAT(bad.output, !Catch::Contains("pkgtrust watch"));
  CHECK(Pkgtrust("help frobnicate").exit_code == 2);
}

TEST_CASE("score with an unknown ecosystem fails on the argument first, with nothing else said",
          "[app][cli]") {
  pkgtrust::testing::TempDir dir;
  unsetenv("GITHUB_TOKEN");
  auto run = Pkgtrust("score cobol x --db " + dir.File("s.db"));
  CHECK(run.exit_code == 1);
  CHECK(run.output ==
        "pkgtrust: score: unknown ecosystem 'cobol' (expected one of npm, pypi, crates, maven, go)\n");
}

TEST_CASE("topology on a memory-transport config says so instead of asking for AWS credentials",
          "[app][cli]") {
  for (const char* action : {"plan", "apply"}) {
    auto run = Pkgtrust(std::string("topology ") + action + " --config " + PKGTRUST_SOURCE_DIR +
                        "/config/pkgtrust.yaml");
    INFO(run.output);
    CHECK(run.exit_code == 1);
    CHECK_THAT(run.output,
               Catch::Contains("uses the memory transport") && Catch::Contains("transport.kind: sqs"));
    CHECK_THAT(run.output, !Catch::Contains("AWS_ACCESS_KEY_ID"));
  }
}

TEST_CASE("cli: check's usage and input errors exit 2 and say what is wrong", "[app]") {
  pkgtrust::testing::TempDir dir;
  // Usage errors name the option.
  Run bad_format = Pkgtrust("check --format npm-lock " + dir.File("x"));
  CHECK(bad_format.exit_code == 2);
  CHECK_THAT(bad_format.output,
             Catch::Contains("unknown --format 'npm-lock' (known: package-lock, yarn, pnpm,"));
  Run bad_wait = Pkgtrust("check --wait soon");
  CHECK(bad_wait.exit_code == 2);
  CHECK_THAT(bad_wait.output, Catch::Contains("--wait takes a whole number from 0 to 3600"));
  Run bad_concern = Pkgtrust("check --fail-on malicious,evil");
  CHECK(bad_concern.exit_code == 2);
  CHECK_THAT(bad_concern.output, Catch::Contains("--fail-on: 'evil' is not one of malicious, typosquat"));
  Run both = Pkgtrust("check --json --markdown");
  CHECK(both.exit_code == 2);
  CHECK_THAT(both.output, Catch::Contains("--json and --markdown cannot be combined"));
  Run help = Pkgtrust("check --help");
  CHECK(help.exit_code == 0);
  CHECK_THAT(help.output,
             Catch::Contains("Exit status: 0 passed, 1 the policy is violated, 2 a usage error"));

  // A folder with nothing to check, a file whose format the name does not tell, a broken policy.
  std::filesystem::create_directories(dir.File("empty/node_modules/x"));
  pkgtrust::testing::WriteText(dir.File("empty/node_modules/x/package-lock.json"), "{}");  // not walked into
  Run nothing = Pkgtrust("check " + dir.File("empty") + " --url http://127.0.0.1:9");
  CHECK(nothing.exit_code == 2);
  CHECK_THAT(nothing.output, Catch::Contains("no lockfile, manifest or SBOM found in " + dir.File("empty")));
  pkgtrust::testing::WriteText(dir.File("deps.lock"), "{}");
  Run unnamed = Pkgtrust("check " + dir.File("deps.lock") + " --url http://127.0.0.1:9");
  CHECK(unnamed.exit_code == 2);
  CHECK_THAT(unnamed.output,
             Catch::Contains(dir.File("deps.lock") +
                             ": cannot tell the format from the file name; name it with --format"));
  std::filesystem::create_directories(dir.File("repo"));
  pkgtrust::testing::WriteText(dir.File("repo/requirements.txt"), "left-pad==1.0\n");
  pkgtrust::testing::WriteText(dir.File("repo/.pkgtrust.yaml"), "fail_on: [malicious]\nmin_score: eleven\n");
  Run policy = Pkgtrust("check " + dir.File("repo") + " --url http://127.0.0.1:9");
  CHECK(policy.exit_code == 2);
  CHECK_THAT(policy.output, Catch::Contains(dir.File("repo/.pkgtrust.yaml") +
                                            ":2: min_score must be a number from 0 to 10"));
  // Nothing looked up and nothing to fail: a file of git dependencies needs no server.
  pkgtrust::testing::WriteText(dir.File("repo/.pkgtrust.yaml"), "");
  pkgtrust::testing::WriteText(dir.File("repo/requirements.txt"),
                               "git+https://github.com/psf/requests@v2.32.3#egg=requests\n");
  Run offline = Pkgtrust("check " + dir.File("repo") + " --url http://127.0.0.1:9 --no-color");
  CHECK(offline.exit_code == 0);
  CHECK_THAT(offline.output, Catch::Contains("SKIP        - pkg:pypi/requests"));
  CHECK_THAT(offline.output,
             Catch::Contains("1 dependency in 1 file: 0 fail the policy, 1 not from a registry"));
}
