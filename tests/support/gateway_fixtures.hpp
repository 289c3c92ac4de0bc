// The upstream side of the gateway tests with real clients: small npm packages packed with
// `npm pack` and a wheel built here, published on a replay server with packuments and PEP 691
// pages written from their bytes; npm and pip command lines that use nothing of the user's
// own configuration. Shared by tests/gateway/clients_test.cpp and tests/adoption/.
#pragma once

#include <fmt/format.h>
#include <openssl/evp.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "app/service.hpp"
#include "support/replay_server.hpp"
#include "support/test_stages.hpp"
#include "support/test_support.hpp"

namespace pkgtrust::testing::gateway_fixtures {

using namespace std::chrono_literals;
using nlohmann::json;
using Run = testing::CommandRun;
using testing::RunCommand;

inline std::string Digest(const EVP_MD* md, const std::string& bytes) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_Digest(bytes.data(), bytes.size(), out, &n, md, nullptr);
  return std::string(reinterpret_cast<char*>(out), n);
}
inline std::string Hex(const std::string& raw) {
  std::string hex;
  for (unsigned char c : raw) hex += fmt::format("{:02x}", c);
  return hex;
}
inline std::string Base64(const std::string& raw) {
  std::string out(4 * ((raw.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(raw.data()), static_cast<int>(raw.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

inline std::string IsoNow(std::chrono::hours ago = 0h) {
  auto t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now() - ago);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S.000Z", &tm);
  return text;
}

struct NpmFixture {
  std::string name, version;
  std::map<std::string, std::string> dependencies;
  std::string published = "2020-01-01T00:00:00.000Z";
  bool corrupt = false;  // the packument publishes a hash the tarball does not have
};

// The npm side of the upstream: packuments and tarballs on the replay server.
inline void PublishNpm(testing::ReplayServer& upstream, const testing::TempDir& dir,
                       const std::vector<NpmFixture>& fixtures) {
  std::string specs;
  for (const NpmFixture& f : fixtures) {
    std::filesystem::path src = dir.path() / "src" / (f.name + "-" + f.version);
    std::filesystem::create_directories(src);
    json manifest = {{"name", f.name}, {"version", f.version}, {"main", "index.js"}, {"license", "MIT"}};
    if (!f.dependencies.empty()) manifest["dependencies"] = f.dependencies;
    testing::WriteText((src / "package.json").string(), manifest.dump(2));
    testing::WriteText((src / "index.js").string(),
                       fmt::format("module.exports = '{}@{}';\n", f.name, f.version));
    specs += " " + src.string();
  }
  std::filesystem::create_directories(dir.path() / "packs");
  Run pack = RunCommand(fmt::format("cd {} && npm pack --silent --pack-destination {} {}",
                                    dir.path().string(), (dir.path() / "packs").string(), specs));
  INFO(pack.output);
  REQUIRE(pack.exit_code == 0);

  std::map<std::string, json> packuments;
  for (const NpmFixture& f : fixtures) {
    // `npm pack` names "@scope/name" "scope-name-1.0.0.tgz"; the registry serves it as
    // "@scope/name/-/name-1.0.0.tgz".
    bool scoped = f.name.starts_with('@');
    std::string unscoped = scoped ? f.name.substr(f.name.find('/') + 1) : f.name;
    std::string packed = scoped ? f.name.substr(1, f.name.find('/') - 1) + "-" + unscoped : f.name;
    std::string tarball =
        testing::ReadText((dir.path() / "packs" / (packed + "-" + f.version + ".tgz")).string());
    REQUIRE(!tarball.empty());
    std::string path = "/" + f.name + "/-/" + unscoped + "-" + f.version + ".tgz";
    upstream.Add("GET", path,
                 testing::ReplayResponse{200, {{"Content-Type", "application/octet-stream"}}, tarball});
    json& doc = packuments[f.name];
    doc["name"] = f.name;
    std::string hashed = f.corrupt ? tarball + "x" : tarball;
    json version = {{"name", f.name},
                    {"version", f.version},
                    {"dist",
                     {{"tarball", upstream.BaseUrl() + path},
                      {"integrity", "sha512-" + Base64(Digest(EVP_sha512(), hashed))},
                      {"shasum", Hex(Digest(EVP_sha1(), hashed))}}}};
    if (!f.dependencies.empty()) version["dependencies"] = f.dependencies;
    doc["versions"][f.version] = version;
    doc["time"][f.version] = f.published;
    doc["dist-tags"]["latest"] = f.version;  // fixtures come oldest first
  }
  for (const auto& [name, doc] : packuments) {
    // npm asks for a scoped packument as "@scope%2fname".
    std::string target = name.starts_with('@')
                             ? name.substr(0, name.find('/')) + "%2f" + name.substr(name.find('/') + 1)
                             : name;
    upstream.Add(
        "GET", "/" + target,
        testing::ReplayResponse{200, {{"Content-Type", "application/json"}, {"ETag", "\"v1\""}}, doc.dump()});
  }
}

// A wheel built here (a zip with the dist-info pip reads), served with a PEP 691 page.
inline std::string PublishWheel(testing::ReplayServer& upstream, const testing::TempDir& dir,
                                const std::string& project, const std::string& version) {
  std::string module = project;
  std::replace(module.begin(), module.end(), '-', '_');
  std::string filename = fmt::format("{}-{}-py3-none-any.whl", module, version);
  std::string script = fmt::format(R"(import zipfile
info = "{0}-{1}.dist-info"
with zipfile.ZipFile("{2}", "w") as z:
    z.writestr("{0}/__init__.py", "")
    z.writestr(info + "/METADATA", "Metadata-Version: 2.1\nName: {3}\nVersion: {1}\n")
    z.writestr(info + "/WHEEL", "Wheel-Version: 1.0\nGenerator: pkgtrust-test\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
    z.writestr(info + "/RECORD", "")
)",
                                   module, version, dir.File(filename), project);
  testing::WriteText(dir.File("make_wheel.py"), script);
  Run made = RunCommand("/usr/bin/python3 " + dir.File("make_wheel.py"));
  INFO(made.output);
  REQUIRE(made.exit_code == 0);
  std::string wheel = testing::ReadText(dir.File(filename));
  std::string path = "/pypi-files/packages/ab/cd/" + filename;
  upstream.Add("GET", path,
               testing::ReplayResponse{200, {{"Content-Type", "application/octet-stream"}}, wheel});
  json page = {{"meta", {{"api-version", "1.1"}}},
               {"name", project},
               {"versions", {version}},
               {"files",
                {{{"filename", filename},
                  {"url", upstream.BaseUrl() + path},
                  {"hashes", {{"sha256", Hex(Digest(EVP_sha256(), wheel))}}},
                  {"requires-python", ">=3.7"},
                  {"upload-time", "2021-01-01T00:00:00.000000Z"},
                  {"yanked", false}}}}};
  upstream.Add(
      "GET", "/simple/" + project + "/",
      testing::ReplayResponse{200, {{"Content-Type", "application/vnd.pypi.simple.v1+json"}}, page.dump()});
  return filename;
}

inline app::Config GatewayConfigFor(const testing::TempDir& dir, const testing::ReplayServer& upstream) {
  app::Config config = app::DefaultConfig();
  config.database.path = dir.File("gateway.db");
  config.server.port = 0;
  std::string base = upstream.BaseUrl();
  config.upstreams = {{"npm", base},    {"npm_downloads", base + "/npm-downloads"},
                      {"pypi", base},   {"pypi_files", base + "/pypi-files"},
                      {"crates", base}, {"maven", base + "/maven2"},
                      {"go", base},     {"github", base}};
  config.gateway.policy.min_release_age_hours = 48;
  config.log_level = core::LogLevel::kWarn;
  return config;
}

// The pipeline's stages as test handlers, which never ask the upstream: its hits are the
// gateway's alone.
inline std::map<std::string, pipeline::StageHandler*> WithoutUpstream(testing::TestStages& stages) {
  return {{"registry", &stages.registry}, {"repository", &stages.repository}, {"scoring", &stages.scoring}};
}

inline store::Advisory Malicious(const std::string& name, const std::string& id,
                                 const std::string& versions = "[]",
                                 core::Ecosystem ecosystem = core::Ecosystem::kNpm) {
  store::Advisory a;
  a.key = {ecosystem, name};
  a.id = id;
  a.summary = "Malicious code in " + name;
  a.versions = versions;
  a.modified = "2026-01-01T00:00:00Z";
  a.published = "2026-01-01T00:00:00Z";
  return a;
}

// npm with nothing from the user's own configuration, its cache in `dir`.
inline std::string Npm(const testing::TempDir& dir, const std::string& project, const std::string& registry,
                       const std::string& args) {
  return fmt::format(
      "cd {} && npm {} --registry {} --cache {} --userconfig {} --no-fund --no-update-notifier", project,
      args, registry, dir.File("npm-cache"), dir.File("npmrc"));
}

inline std::string Project(const testing::TempDir& dir, const std::string& name, const json& dependencies) {
  std::filesystem::path folder = dir.path() / name;
  std::filesystem::create_directories(folder);
  testing::WriteText(
      (folder / "package.json").string(),
      json{{"name", name}, {"version", "1.0.0"}, {"private", true}, {"dependencies", dependencies}}.dump());
  return folder.string();
}

inline std::string InstalledVersion(const std::string& project, const std::string& name) {
  std::string manifest = testing::ReadText(project + "/node_modules/" + name + "/package.json");
  return manifest.empty() ? "" : json::parse(manifest).value("version", "");
}

}  // namespace pkgtrust::testing::gateway_fixtures
