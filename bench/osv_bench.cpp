// `pkgtrust import-osv` over a dump the size of ossf/malicious-packages' npm and PyPI records
// (bench/README.md): N record files laid out as that repository lays them out
// (osv/malicious/<ecosystem>/<name>/<id>.json), made from the recorded records in
// tests/fixtures/osv/ with new names (the random real names of bench/data/names/) and ids;
// one in 20 with a SEMVER range, one in 500 withdrawn. Timed: the first import, a re-import
// of the same files (nothing changes), and a re-import after 1% of the records got a newer copy.
#include <fmt/format.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "bench/benches.hpp"

namespace pkgtrust::bench {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::vector<std::string> Names(const std::string& ecosystem) {
  std::vector<std::string> names;
  std::istringstream in(ReadFile(fmt::format("{}/bench/data/names/{}-sample-20000.txt", PKGTRUST_SOURCE_DIR, ecosystem)));
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) names.push_back(line);
  return names;
}

// Writes the dump; `generation` > 0 gives every 100th record a newer `modified`.
void WriteDump(const fs::path& root, int records, int generation) {
  const std::vector<std::pair<std::string, std::string>> templates = {
      {"npm", "npm/MAL-2024-11848.json"}, {"npm", "npm/MAL-2025-191025.json"},
      {"pypi", "pypi/MAL-2024-9933.json"}, {"pypi", "pypi/MAL-2026-15859.json"}};
  std::vector<json> bodies;
  for (const auto& [eco, file] : templates)
    bodies.push_back(json::parse(ReadFile(std::string(PKGTRUST_SOURCE_DIR) + "/tests/fixtures/osv/" + file)));
  std::vector<std::string> npm = Names("npm"), pypi = Names("pypi");
  for (int i = 0; i < records; ++i) {
    std::size_t t = static_cast<std::size_t>(i) % templates.size();
    const std::string& eco = templates[t].first;
    const std::vector<std::string>& names = eco == "npm" ? npm : pypi;
    std::string name = names[static_cast<std::size_t>(i / 4) % names.size()];
    if (i / 4 >= static_cast<int>(names.size())) name += fmt::format("-{}", i / 4 / names.size());
    json record = bodies[t];
    std::string id = fmt::format("MAL-2025-{}", 100000 + i);
    record["id"] = id;
    record["summary"] = fmt::format("Malicious code in {} ({})", name, eco == "npm" ? "npm" : "PyPI");
    record["affected"][0]["package"]["name"] = name;
    if (i % 20 == 0) {
      record["affected"][0].erase("versions");
      record["affected"][0]["ranges"] = json::array(
          {{{"type", "SEMVER"}, {"events", json::array({{{"introduced", "1.0.0"}}, {{"fixed", "1.2.0"}}})}}});
    }
    if (i % 500 == 0) record["withdrawn"] = "2025-12-01T00:00:00Z";
    if (generation > 0 && i % 100 == 0) record["modified"] = fmt::format("2026-0{}-01T00:00:00Z", generation);
    fs::path dir = root / "osv" / "malicious" / eco / name;
    fs::create_directories(dir);
    std::ofstream(dir / (id + ".json")) << record.dump(2);
  }
}

struct Import {
  double seconds = 0;
  std::string summary;
};

Import RunImport(const fs::path& dump, const fs::path& db) {
  std::string command = fmt::format("{} import-osv {} --db {} 2>&1", PKGTRUST_BINARY, dump.string(), db.string());
  auto start = std::chrono::steady_clock::now();
  FILE* pipe = popen(command.c_str(), "r");
  std::string output;
  char buffer[4096];
  while (pipe && std::fgets(buffer, sizeof buffer, pipe)) output += buffer;
  int status = pipe ? pclose(pipe) : -1;
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (status != 0) throw std::runtime_error("import-osv failed: " + output);
  while (!output.empty() && output.back() == '\n') output.pop_back();
  return {seconds, output};
}

}  // namespace

int BenchOsvImport(int records, bool json_output) {
  fs::path root = fs::temp_directory_path() / fmt::format("pkgtrust-osv-bench-{}", ::getpid());
  fs::remove_all(root);
  WriteDump(root / "dump", records, 0);
  std::uintmax_t bytes = 0;
  for (const auto& entry : fs::recursive_directory_iterator(root / "dump"))
    if (entry.is_regular_file()) bytes += entry.file_size();
  fs::path db = root / "osv.db";
  Import first = RunImport(root / "dump", db);
  Import again = RunImport(root / "dump", db);
  WriteDump(root / "dump", records, 2);  // every 100th record: a newer copy
  Import newer = RunImport(root / "dump", db);
  fs::remove_all(root);
  if (json_output) {
    fmt::print("{}\n", json{{"records", records},
                            {"dump_mb", static_cast<double>(bytes) / 1e6},
                            {"first_import_seconds", first.seconds},
                            {"reimport_seconds", again.seconds},
                            {"reimport_1pct_newer_seconds", newer.seconds}}
                           .dump());
  } else {
    fmt::print("osv import: {} records, {:.1f} MB of JSON\n", records, static_cast<double>(bytes) / 1e6);
    fmt::print("  first import        {:6.2f} s  ({})\n", first.seconds, first.summary);
    fmt::print("  re-import, unchanged {:5.2f} s  ({})\n", again.seconds, again.summary);
    fmt::print("  re-import, 1% newer {:6.2f} s  ({})\n", newer.seconds, newer.summary);
  }
  return 0;
}

}  // namespace pkgtrust::bench
