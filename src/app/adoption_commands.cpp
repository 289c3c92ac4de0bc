#include "app/adoption_commands.hpp"

#include <fmt/format.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>

#include "app/command_args.hpp"
#include "app/config.hpp"
#include "pkgtrust/adoption/access_log.hpp"
#include "pkgtrust/adoption/adoption.hpp"
#include "pkgtrust/adoption/routes.hpp"
#include "pkgtrust/core/package_name.hpp"

namespace pkgtrust::app {

namespace {

using Usage = std::function<int(const std::string&)>;

// ▁▂▃▄▅▆▇█ for shares 0..1.
std::string Spark(const nlohmann::json& shares) {
  static const char* kBars[] = {"▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"};
  std::string out;
  for (const auto& point : shares) {
    double share = point.value("share", 0.0);
    out += kBars[std::clamp(static_cast<int>(std::lround(share * 7)), 0, 7)];
  }
  return out;
}

}  // namespace

int RunImportAccessLog(const std::vector<std::string>& args, const Usage& usage) {
  Parsed parsed;
  std::string problem;
  if (!Parse(args, {"--format", "--ecosystem", "--prefix", "--config", "--db"}, &parsed, &problem))
    return usage(problem);
  if (parsed.positional.size() != 1) return usage("needs one FILE: the access log to read ('-' for stdin)");
  auto format = parsed.options.find("--format");
  if (format == parsed.options.end() || format->second != "nginx-combined")
    return usage("--format nginx-combined is required (the only format read so far)");
  adoption::AccessLogImportOptions options;
  if (auto eco = parsed.options.find("--ecosystem"); eco != parsed.options.end()) {
    if (eco->second != "npm" && eco->second != "pypi") return usage("--ecosystem takes npm or pypi");
    options.ecosystem = eco->second;
  }
  if (auto prefix = parsed.options.find("--prefix"); prefix != parsed.options.end()) {
    options.prefix = prefix->second;
    if (!options.prefix.starts_with('/')) return usage("--prefix is a path starting with '/'");
    if (!options.prefix.ends_with('/')) options.prefix += '/';
  }
  try {
    Config config = LoadFor(parsed);
    const std::string& file = parsed.positional[0];
    std::ifstream stream;
    std::istream* in = &std::cin;
    if (file != "-") {
      stream.open(file, std::ios::binary);
      if (!stream) {
        std::fprintf(stderr, "pkgtrust import-access-log: cannot read '%s'\n", file.c_str());
        return 1;
      }
      in = &stream;
    }
    auto store = store::Store::Open(config.database, core::SystemClock::Instance());
    if (!store.ok()) {
      std::fprintf(stderr, "pkgtrust: %s\n", store.status().message().c_str());
      return 1;
    }
    adoption::OriginKeys keys;  // this import's own daily secrets, gone when it ends
    auto imported = adoption::ImportAccessLog(*in, options, keys, **store);
    if (!imported.ok()) {
      std::fprintf(stderr, "pkgtrust import-access-log: %s\n", imported.status().message().c_str());
      return 1;
    }
    for (const std::string& example : imported->malformed_examples)
      std::fprintf(stderr, "skipped %s\n", example.c_str());
    // The rows are processed now (a running service would process them too; each row counts
    // once whoever gets there first). First-seen packages are queued for scoring at priority.
    adoption::Processor processor(**store, nullptr, config.adoption, core::SystemClock::Instance());
    auto processed = processor.ProcessAll();
    if (!processed.ok()) {
      std::fprintf(stderr, "pkgtrust import-access-log: processing: %s\n",
                   processed.status().message().c_str());
      return 1;
    }
    std::vector<store::EnqueueRequest> requests;
    for (const auto& key : processed->first_seen)
      requests.push_back({key, core::Priority::kPriority, /*restart_finished=*/false});
    if (!requests.empty())
      if (auto enqueued = (*store)->EnqueueManySync(std::move(requests)); !enqueued.ok())
        std::fprintf(stderr, "pkgtrust: queueing first-seen packages: %s\n",
                     enqueued.status().message().c_str());
    (*store)->Close();
    std::printf(
        "read %lld lines from %s: %lld imported, %lld malformed (skipped), %lld outside %s; processed %lld "
        "rows: "
        "%lld downloads, %lld repeats within a minute, %lld metadata requests, %lld other; %zu packages "
        "first "
        "seen\n",
        static_cast<long long>(imported->lines), file.c_str(), static_cast<long long>(imported->imported),
        static_cast<long long>(imported->malformed), static_cast<long long>(imported->outside_prefix),
        options.prefix.c_str(), static_cast<long long>(processed->rows),
        static_cast<long long>(processed->downloads), static_cast<long long>(processed->repeats),
        static_cast<long long>(processed->metadata), static_cast<long long>(processed->ignored),
        processed->first_seen.size());
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "pkgtrust: %s\n", e.what());
    return 1;
  }
}

int RunAdoptionCommand(const std::vector<std::string>& args, const Usage& usage) {
  Parsed parsed;
  std::string problem;
  if (!Parse(args, {"--from", "--to", "--config", "--db"}, &parsed, &problem)) return usage(problem);
  if (parsed.positional.size() != 2) return usage("needs ECOSYSTEM NAME");
  auto eco = core::ParseEcosystemOrError(parsed.positional[0]);
  if (!eco.ok()) return usage(eco.status().message());
  auto key = core::MakePackageKey(*eco, parsed.positional[1]);
  if (!key.ok()) return usage(key.status().message());
  std::int64_t today = store::DayOf(core::SystemClock::Instance().NowMillis());
  std::int64_t to = today, from = today - 29;
  if (auto it = parsed.options.find("--to"); it != parsed.options.end()) {
    auto day = adoption::ParseDay(it->second);
    if (!day.ok()) return usage(day.status().message());
    to = *day;
    from = to - 29;
  }
  if (auto it = parsed.options.find("--from"); it != parsed.options.end()) {
    auto day = adoption::ParseDay(it->second);
    if (!day.ok()) return usage(day.status().message());
    from = *day;
  }
  if (from > to) return usage("--from is after --to");
  try {
    Config config = LoadFor(parsed);
    auto store = store::Store::Open(config.database, core::SystemClock::Instance());
    if (!store.ok()) {
      std::fprintf(stderr, "pkgtrust: %s\n", store.status().message().c_str());
      return 1;
    }
    auto adoption = (*store)->ReadAdoption(*key, from, to);
    if (!adoption.ok()) {
      std::fprintf(stderr, "pkgtrust adoption: %s\n", adoption.status().message().c_str());
      return 1;
    }
    std::string body =
        adoption::AdoptionReportJson(*adoption, from, to, adoption::MajorsPublished(**store, *key));
    (*store)->Close();
    if (parsed.json) {
      std::printf("%s\n", body.c_str());
      return 0;
    }
    auto report = nlohmann::json::parse(body);
    const auto& totals = report["totals"];
    std::printf("%s %s, %s to %s: %lld downloads, %lld metadata requests, %lld origin-days\n",
                report["ecosystem"].get<std::string>().c_str(), report["name"].get<std::string>().c_str(),
                report["from"].get<std::string>().c_str(), report["to"].get<std::string>().c_str(),
                static_cast<long long>(totals["downloads"].get<std::int64_t>()),
                static_cast<long long>(totals["metadata"].get<std::int64_t>()),
                static_cast<long long>(totals["origin_days"].get<std::int64_t>()));
    if (report["versions"].empty()) {
      std::printf("no downloads in this range\n");
      return 0;
    }
    std::printf("\n%-24s %-6s %10s %8s  %s\n", "VERSION", "MAJOR", "DOWNLOADS", "DAYS", "LAST DAY");
    for (const auto& v : report["versions"])
      std::printf("%-24s %-6s %10lld %8zu  %s\n", v["version"].get<std::string>().c_str(),
                  v["major"].get<std::string>().c_str(),
                  static_cast<long long>(v["downloads"].get<std::int64_t>()), v["days"].size(),
                  v["days"].back()["day"].get<std::string>().c_str());
    std::printf("\n%-6s %10s %-12s %-12s  %s\n", "MAJOR", "DOWNLOADS", "PUBLISHED", "DAYS TO 50%",
                "SHARE BY DAY");
    for (const auto& m : report["majors"]) {
      std::string published =
          m["first_published"].is_string() ? m["first_published"].get<std::string>().substr(0, 10) : "-";
      std::string half =
          m["days_to_half"].is_number() ? std::to_string(m["days_to_half"].get<std::int64_t>()) : "-";
      std::printf("%-6s %10lld %-12s %-12s  %s\n", m["major"].get<std::string>().c_str(),
                  static_cast<long long>(m["downloads"].get<std::int64_t>()), published.c_str(), half.c_str(),
                  Spark(m["share"]).c_str());
    }
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "pkgtrust: %s\n", e.what());
    return 1;
  }
}

}  // namespace pkgtrust::app
