// Package manifests in repositories: the paths tried, the names declared, and the
// repository adapter's search through the contents API (recorded answer shapes).
#include "pkgtrust/github/manifest.hpp"

#include <catch2/catch.hpp>
#include <future>
#include <nlohmann/json.hpp>

#include "pkgtrust/core/package_name.hpp"
#include "pkgtrust/github/github_client.hpp"
#include "support/replay_server.hpp"
#include "support/test_support.hpp"

using namespace pkgtrust;
using namespace std::chrono_literals;
using github::ManifestStatus;
using testing::ReplayResponse;

namespace {

core::PackageKey Key(core::Ecosystem ecosystem, const char* name) {
  auto key = core::MakePackageKey(ecosystem, name);
  REQUIRE(key.ok());
  return *key;
}

std::string Fixture(const std::string& name) { return testing::ReadText(testing::FixturePath(name)); }

std::string Base64(std::string_view text) {
  static const char* kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::size_t i = 0;
  for (; i + 2 < text.size(); i += 3) {
    unsigned v = (static_cast<unsigned char>(text[i]) << 16) |
                 (static_cast<unsigned char>(text[i + 1]) << 8) | static_cast<unsigned char>(text[i + 2]);
    for (int shift : {18, 12, 6, 0}) out += kAlphabet[(v >> shift) & 63];
  }
  if (i < text.size()) {
    unsigned v = static_cast<unsigned char>(text[i]) << 16;
    if (i + 1 < text.size()) v |= static_cast<unsigned char>(text[i + 1]) << 8;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += i + 1 < text.size() ? kAlphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
  std::string wrapped;  // GitHub breaks the base64 every 60 characters
  for (std::size_t at = 0; at < out.size(); at += 60) wrapped += out.substr(at, 60) + "\n";
  return wrapped;
}

// The recorded contents-API answer (a file), carrying `text` at `path` instead.
std::string ContentsAnswer(const std::string& path, std::string_view text) {
  nlohmann::json answer = nlohmann::json::parse(Fixture("github/contents-file.json"));
  answer["path"] = path;
  answer["name"] = path.substr(path.find_last_of('/') == std::string::npos ? 0 : path.find_last_of('/') + 1);
  answer["size"] = text.size();
  answer["content"] = Base64(text);
  return answer.dump();
}

// The version object of a packument is the package.json that was published.
std::string PublishedPackageJson(const char* packument, const char* version) {
  nlohmann::json doc = nlohmann::json::parse(Fixture(std::string("registry/npm/") + packument));
  return doc["versions"][version].dump();
}

struct Upstream {
  Upstream() : http(net::HttpClientConfig{}), github(http, {.base_url = server.BaseUrl(), .timeout = 5s}) {}
  github::GitHubResult Fetch(const char* owner, const char* name, const core::PackageKey& package,
                             const github::RepositoryFacts* previous = nullptr,
                             const char* subdirectory = "") {
    std::promise<github::GitHubResult> promise;
    github.Fetch(
        {"github.com", owner, name, subdirectory}, previous,
        [&](github::GitHubResult r) { promise.set_value(std::move(r)); }, false, package);
    return promise.get_future().get();
  }
  void AddRepository(const std::string& full_name) {
    nlohmann::json repo = nlohmann::json::parse(Fixture("github/repo-chalk.json"));
    repo["full_name"] = full_name;
    server.Add("GET", "/repos/" + full_name, ReplayResponse{200, {}, repo.dump()});
  }
  testing::ReplayServer server;
  net::BeastHttpClient http;
  github::GitHubClient github;
};

}  // namespace

TEST_CASE("manifests: the name each kind of manifest declares", "[github]") {
  CHECK(github::DeclaredPackageName("package.json", PublishedPackageJson("left-pad.json", "1.3.0")) ==
        "left-pad");
  CHECK(github::DeclaredPackageName("packages/x/package.json", R"({"private":true})").empty());
  CHECK(github::DeclaredPackageName("package.json", "not json").empty());

  CHECK(github::DeclaredPackageName("pyproject.toml",
                                    "[build-system]\nrequires = [\"hatchling\"]\n\n"
                                    "[project]\nname = \"requests\"\nversion = \"2.32.0\"\n") == "requests");
  CHECK(github::DeclaredPackageName(
            "pyproject.toml", "[tool.poetry]\nname = 'Flask_Login'  # the dist name\n") == "Flask_Login");
  CHECK(github::DeclaredPackageName("pyproject.toml", "[tool.black]\nname = \"not-this\"\n").empty());
  CHECK(github::DeclaredPackageName("setup.cfg", "[metadata]\nname = attrs\nversion = 1\n") == "attrs");
  CHECK(github::DeclaredPackageName("setup.py", "package_name = 'decoy'\nsetup(\n    name=\"six\",\n)\n") ==
        "six");
  CHECK(github::DeclaredPackageName("setup.py", "setup(name=NAME, version=VERSION)\n").empty());

  CHECK(github::DeclaredPackageName("Cargo.toml",
                                    "[package]\nname = \"serde_json\"\nversion = \"1.0.0\"\n\n"
                                    "[[bin]]\nname = \"other\"\n") == "serde_json");
  CHECK(github::DeclaredPackageName("Cargo.toml", "[workspace]\nmembers = [\"serde\", \"serde_derive\"]\n")
            .empty());
  CHECK(github::DeclaredPackageName("Cargo.toml", "[package]\nname.workspace = true\n").empty());

  // A real POM whose groupId comes from its parent.
  std::string pom = Fixture(
      "registry/maven/jaxb-runtime/"
      "repo1.maven.org__maven2__org__glassfish__jaxb__jaxb-runtime__4.0.5__jaxb-runtime-4.0.5.pom");
  CHECK(github::DeclaredPackageName("pom.xml", pom) == "org.glassfish.jaxb:jaxb-runtime");
  CHECK(github::DeclaredPackageName("pom.xml", "<project><groupId>a</groupId></project>").empty());
  CHECK(github::DeclaredPackageName("pom.xml", "<not xml").empty());

  CHECK(github::DeclaredPackageName(
            "go.mod", "// comment\nmodule github.com/gin-gonic/gin // the module\n\ngo 1.21\n") ==
        "github.com/gin-gonic/gin");
  CHECK(github::DeclaredPackageName("go.mod", "module \"example.com/quoted\"\n") == "example.com/quoted");
  CHECK(github::DeclaredPackageName("README.md", "name = x").empty());
}

TEST_CASE("manifests: declared names compare as the ecosystem normalizes them", "[github]") {
  CHECK(github::DeclaresPackage(Key(core::Ecosystem::kPypi, "flask-login"), "Flask_Login"));
  CHECK(github::DeclaresPackage(Key(core::Ecosystem::kCrates, "serde_json"), "serde-json"));
  CHECK(github::DeclaresPackage(Key(core::Ecosystem::kMaven, "org.glassfish.jaxb:jaxb-runtime"),
                                "org.glassfish.jaxb:jaxb-runtime"));
  CHECK_FALSE(github::DeclaresPackage(Key(core::Ecosystem::kNpm, "left-pad"), "left_pad"));
  CHECK_FALSE(github::DeclaresPackage(Key(core::Ecosystem::kNpm, "left-pad"), ""));
  CHECK_FALSE(github::DeclaresPackage(Key(core::Ecosystem::kNpm, "left-pad"), "not a valid name"));
}

TEST_CASE("manifests: the paths tried, likeliest first", "[github]") {
  using V = std::vector<std::string>;
  CHECK(github::ManifestPaths(Key(core::Ecosystem::kNpm, "@babel/core"), "") ==
        V{"package.json", "packages/core/package.json"});
  CHECK(github::ManifestPaths(Key(core::Ecosystem::kNpm, "@babel/core"), "packages/babel-core/") ==
        V{"packages/babel-core/package.json"});
  CHECK(github::ManifestPaths(Key(core::Ecosystem::kPypi, "requests"), "") ==
        V{"pyproject.toml", "setup.cfg", "setup.py"});
  CHECK(github::ManifestPaths(Key(core::Ecosystem::kCrates, "serde_json"), "") ==
        V{"Cargo.toml", "serde-json/Cargo.toml", "serde_json/Cargo.toml"});
  CHECK(github::ManifestPaths(Key(core::Ecosystem::kCrates, "serde"), "") ==
        V{"Cargo.toml", "serde/Cargo.toml"});
  CHECK(github::ManifestPaths(Key(core::Ecosystem::kMaven, "org.slf4j:slf4j-api"), "") ==
        V{"pom.xml", "slf4j-api/pom.xml"});
  CHECK(github::ManifestPaths(Key(core::Ecosystem::kGo, "github.com/go-redis/redis/v9"), "") ==
        V{"go.mod", "v9/go.mod"});
  CHECK(github::ManifestPaths(Key(core::Ecosystem::kGo, "github.com/aws/aws-sdk-go-v2/service/s3"),
                              "service/s3") == V{"service/s3/go.mod"});
}

TEST_CASE("manifests: contents API answers are decoded, too-large files are refused", "[github]") {
  auto recorded = github::ContentsFileText(Fixture("github/contents-file.json"));
  REQUIRE(recorded.ok());
  CHECK(recorded->starts_with("## 1.11.1 - December 20, 2017"));
  CHECK(recorded->size() == 940);  // as Python's base64 module decodes it (the fixture's "size" says 926)
  CHECK_FALSE(github::ContentsFileText(Fixture("github/contents-too-large.json")).ok());
  CHECK_FALSE(github::ContentsFileText(R"({"type":"dir"})").ok());
  CHECK_FALSE(github::ContentsFileText(R"({"type":"file","encoding":"none","content":""})").ok());
  CHECK_FALSE(github::ContentsFileText(R"({"type":"file","encoding":"base64","content":"!!!!"})").ok());
  CHECK_FALSE(github::ContentsFileText(R"({"type":7})").ok());
}

TEST_CASE("github: the manifest search finds the package's manifest, in a monorepo too", "[github]") {
  Upstream up;
  up.AddRepository("chalk/chalk");
  up.server.Add("GET", "/repos/chalk/chalk/contents/package.json",
                ReplayResponse{200,
                               {{"ETag", "\"manifest-1\""}},
                               ContentsAnswer("package.json", PublishedPackageJson("chalk.json", "5.3.0"))});
  auto chalk = up.Fetch("chalk", "chalk", Key(core::Ecosystem::kNpm, "chalk"));
  REQUIRE(chalk.ok());
  CHECK(chalk->manifest.status == ManifestStatus::kFound);
  CHECK(chalk->manifest.path == "package.json");
  CHECK(chalk->manifest.declared_name == "chalk");
  CHECK(chalk->etags.at("manifest") == "\"manifest-1\"");
  auto stored = github::RepositoryFacts::FromJson(chalk->ToJson());
  REQUIRE(stored.ok());
  CHECK(stored->manifest.declared_name == "chalk");

  // A refresh asks with the ETag; a 304 keeps the stored manifest.
  up.server.Add("GET", "/repos/chalk/chalk/contents/package.json", ReplayResponse{304});
  auto again = up.Fetch("chalk", "chalk", Key(core::Ecosystem::kNpm, "chalk"), &*chalk);
  REQUIRE(again.ok());
  CHECK(again->manifest.declared_name == "chalk");
  CHECK(again->etags.at("manifest") == "\"manifest-1\"");

  // The root package.json of a monorepo names the workspace; packages/<name>/ has the package.
  up.AddRepository("babel/babel");
  up.server.Add(
      "GET", "/repos/babel/babel/contents/package.json",
      ReplayResponse{200, {}, ContentsAnswer("package.json", R"({"name":"babel","private":true})")});
  up.server.Add(
      "GET", "/repos/babel/babel/contents/packages/core/package.json",
      ReplayResponse{200, {}, ContentsAnswer("packages/core/package.json", R"({"name":"@babel/core"})")});
  auto babel = up.Fetch("babel", "babel", Key(core::Ecosystem::kNpm, "@babel/core"));
  REQUIRE(babel.ok());
  CHECK(babel->manifest.status == ManifestStatus::kFound);
  CHECK(babel->manifest.path == "packages/core/package.json");
  CHECK(babel->manifest.declared_name == "@babel/core");

  // Only another package's manifest: the first one found is kept, naming what it declares.
  auto other = up.Fetch("babel", "babel", Key(core::Ecosystem::kNpm, "left-pad"));
  REQUIRE(other.ok());
  CHECK(other->manifest.status == ManifestStatus::kFound);
  CHECK(other->manifest.path == "package.json");
  CHECK(other->manifest.declared_name == "babel");
}

TEST_CASE("github: no manifest, a too-large one, and no package given", "[github]") {
  Upstream up;
  up.AddRepository("acme/empty");
  for (const char* file : {"pyproject.toml", "setup.cfg", "setup.py"})
    up.server.Add("GET", std::string("/repos/acme/empty/contents/") + file,
                  ReplayResponse{404, {}, Fixture("github/repo-404.json")});
  auto missing = up.Fetch("acme", "empty", Key(core::Ecosystem::kPypi, "acme"));
  REQUIRE(missing.ok());
  CHECK(missing->manifest.status == ManifestStatus::kMissing);
  CHECK(up.server.Hits("GET", "/repos/acme/empty/contents/setup.py") == 1);  // all three were tried

  up.AddRepository("acme/huge");
  up.server.Add(
      "GET", "/repos/acme/huge/contents/Cargo.toml",
      ReplayResponse{403, {{"X-RateLimit-Remaining", "4000"}}, Fixture("github/contents-too-large.json")});
  auto huge = up.Fetch("acme", "huge", Key(core::Ecosystem::kCrates, "huge"));
  REQUIRE(huge.ok());  // the rest of the facts stand; only the manifest is unknown
  CHECK(huge->manifest.status == ManifestStatus::kUnreadable);
  CHECK(huge->stars == 13452);

  up.AddRepository("acme/plain");
  std::promise<github::GitHubResult> promise;
  up.github.Fetch({"github.com", "acme", "plain", ""}, nullptr,
                  [&](github::GitHubResult r) { promise.set_value(std::move(r)); });
  auto plain = promise.get_future().get();
  REQUIRE(plain.ok());
  CHECK(plain->manifest.status == ManifestStatus::kNotRead);
}
