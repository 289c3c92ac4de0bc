// `pkgtrust check`'s two figures (bench/README.md): how fast the largest real lockfiles
// of the fixtures parse, and a whole check of a 2,000-dependency package-lock.json against
// a server that knows every package, timed with hyperfine.
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "app/config.hpp"
#include "app/service.hpp"
#include "bench/benches.hpp"
#include "pkgtrust/core/percent_encoding.hpp"
#include "pkgtrust/lockfile/lockfile.hpp"
#include "support/replay_server.hpp"
#include "support/test_support.hpp"

namespace pkgtrust::bench {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

std::string Fixture(const std::string& relative) {
  return std::string(PKGTRUST_SOURCE_DIR) + "/tests/fixtures/lockfiles/" + relative;
}

double MedianOf(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

// The `count` most downloaded npm names of the shipped list, each locked at 1.0.0.
std::vector<std::string> PopularNames(std::size_t count) {
  std::ifstream list(std::string(PKGTRUST_SOURCE_DIR) + "/data/popular/npm-top10000.tsv");
  std::vector<std::string> names;
  std::string line;
  std::getline(list, line);  // the header
  while (names.size() < count && std::getline(list, line)) names.push_back(line.substr(0, line.find('\t')));
  return names;
}

}  // namespace

int BenchCheckParse(int rounds, bool json) {
  struct Case {
    const char* file;
    lockfile::Format format;
  };
  const Case cases[] = {
      {"real/package-lock/pypi-warehouse-package-lock.json", lockfile::Format::kPackageLock},
      {"real/pnpm/vuejs-core-pnpm-lock.yaml", lockfile::Format::kPnpmLock},
      {"real/yarn-v1/webpack-webpack-yarn.lock", lockfile::Format::kYarnLock},
      {"real/yarn-berry/prettier-prettier-yarn.lock", lockfile::Format::kYarnLock},
      {"real/uv/pydantic-pydantic-uv.lock", lockfile::Format::kUvLock},
      {"real/poetry/Textualize-textual-poetry.lock", lockfile::Format::kPoetryLock},
      {"real/requirements/pypi-warehouse-requirements-main.txt", lockfile::Format::kRequirements},
      {"real/cargo/sharkdp-bat-Cargo.lock", lockfile::Format::kCargoLock},
      {"real/cyclonedx/CycloneDX-bom-examples-dropwizard-1.3.15-bom.json", lockfile::Format::kCycloneDx},
  };
  fmt::print("check-parse: the largest real lockfiles of the fixtures, median of {} rounds\n", rounds);
  nlohmann::json figures = nlohmann::json::array();
  for (const Case& c : cases) {
    lockfile::LockfileInput input{c.file, testing::ReadText(Fixture(c.file)), nullptr};
    std::vector<double> seconds;
    std::size_t packages = 0;
    for (int round = 0; round < rounds; ++round) {
      // Enough repetitions that one round takes a measurable time.
      int repeat =
          std::max<int>(1, static_cast<int>((20u << 20) / std::max<std::size_t>(input.text.size(), 1)));
      auto start = Clock::now();
      for (int i = 0; i < repeat; ++i) {
        auto parsed = lockfile::ParseLockfile(c.format, input);
        if (!parsed.ok()) {
          fmt::print(stderr, "check-parse: {}\n", parsed.status().message());
          return 1;
        }
        packages = parsed->size();
      }
      seconds.push_back(std::chrono::duration<double>(Clock::now() - start).count() / repeat);
    }
    double median = MedianOf(seconds);
    double mb_per_s = input.text.size() / median / 1e6;
    fmt::print("  {:<13} {:>9.1f} KB {:>6} packages {:>8.3f} ms {:>8.1f} MB/s  {}\n",
               lockfile::FormatName(c.format), input.text.size() / 1e3, packages, median * 1e3, mb_per_s,
               fs::path(c.file).filename().string());
    figures.push_back(
        {{"file", c.file}, {"bytes", input.text.size()}, {"packages", packages}, {"mb_per_s", mb_per_s}});
  }
  if (json) fmt::print("{}\n", nlohmann::json{{"bench", "check-parse"}, {"files", figures}}.dump());
  return 0;
}

int BenchCheckServer(int dependencies, int runs, bool json) {
  fs::path dir = fs::temp_directory_path() / fmt::format("pkgtrust-bench-check-{}", ::getpid());
  fs::create_directories(dir / "repo");
  std::vector<std::string> names = PopularNames(static_cast<std::size_t>(dependencies));
  // The lockfile: npm's layout, one folder per package.
  nlohmann::json lock = {{"name", "bench"}, {"lockfileVersion", 3}, {"requires", true}};
  lock["packages"][""] = {{"name", "bench"}, {"version", "1.0.0"}};
  for (const std::string& name : names)
    lock["packages"]["node_modules/" + name] = {
        {"version", "1.0.0"},
        {"resolved",
         fmt::format("https://registry.npmjs.org/{}/-/{}-1.0.0.tgz", name, name.substr(name.find('/') + 1))},
        {"integrity", "sha512-AAAA"}};
  std::ofstream(dir / "repo" / "package-lock.json") << lock.dump(2);

  testing::ReplayServer upstream(2);
  upstream.SetGenerator(
      [base = upstream.BaseUrl()](const std::string& method,
                                  const std::string& target) -> std::optional<testing::ReplayResponse> {
        if (method != "GET") return std::nullopt;
        if (target.starts_with("/downloads/"))
          return testing::ReplayResponse{200, {}, R"({"downloads": 1000000})"};
        auto name = core::PercentDecode(target.substr(1));
        if (!name.ok()) return std::nullopt;
        nlohmann::json doc = {{"name", *name},
                              {"dist-tags", {{"latest", "1.0.0"}}},
                              {"versions", {{"1.0.0", {{"name", *name}, {"version", "1.0.0"}}}}},
                              {"time", {{"1.0.0", "2020-01-01T00:00:00.000Z"}}}};
        return testing::ReplayResponse{200, {}, doc.dump()};
      });
  app::Config config = app::DefaultConfig();
  config.database.path = (dir / "bench.db").string();
  config.server.port = 0;
  config.log_level = core::LogLevel::kWarn;
  for (const char* name : {"npm", "npm_downloads", "pypi", "pypi_files", "crates", "maven", "go", "github"})
    config.upstreams[name] = upstream.BaseUrl();
  app::Service service(config);
  service.Start();
  std::string url = fmt::format("http://127.0.0.1:{}", service.http_port());
  std::string command =
      fmt::format("{} check {} --url {} --wait 0 --json", PKGTRUST_BINARY, (dir / "repo").string(), url);
  // Every package known first: the figure is a check against a server that has them all.
  auto start = Clock::now();
  auto first = testing::RunCommand(fmt::format("{} check {} --url {} --wait 600 > /dev/null; echo $?",
                                               PKGTRUST_BINARY, (dir / "repo").string(), url));
  double ingest = std::chrono::duration<double>(Clock::now() - start).count();
  auto known = testing::RunCommand(command);
  nlohmann::json result = nlohmann::json::parse(known.output, nullptr, false);
  if (result.is_discarded() || result["summary"]["judged"] != dependencies) {
    fmt::print(stderr, "check-server: not every package is known after the first check: {}\n",
               known.output.substr(0, 400));
    return 1;
  }
  auto timed =
      testing::RunCommand(fmt::format("hyperfine --warmup 2 --runs {} --export-json {} --style none '{}'",
                                      runs, (dir / "hyperfine.json").string(), command));
  service.Stop();
  nlohmann::json hyperfine =
      nlohmann::json::parse(testing::ReadText((dir / "hyperfine.json").string()), nullptr, false);
  fs::remove_all(dir);
  if (timed.exit_code != 0 || hyperfine.is_discarded()) {
    fmt::print(stderr, "check-server: hyperfine failed (apt-get install hyperfine): {}\n", timed.output);
    return 1;
  }
  const nlohmann::json& r = hyperfine["results"][0];
  fmt::print(
      "check-server: pkgtrust check of a {}-dependency package-lock.json, server knows every package\n",
      dependencies);
  fmt::print("  first check (the server fetches and scores all {}): {:.1f} s\n", dependencies, ingest);
  fmt::print("  hyperfine, {} runs: mean {:.3f} s ± {:.3f}, median {:.3f} s, min {:.3f} s, max {:.3f} s\n",
             runs, r["mean"].get<double>(), r["stddev"].get<double>(), r["median"].get<double>(),
             r["min"].get<double>(), r["max"].get<double>());
  if (json)
    fmt::print("{}\n", nlohmann::json{{"bench", "check-server"},
                                      {"dependencies", dependencies},
                                      {"mean_s", r["mean"]},
                                      {"median_s", r["median"]}}
                           .dump());
  return 0;
}

}  // namespace pkgtrust::bench
