// Adoption in the service: whose address a request is counted under (a trusted proxy's
// X-Forwarded-For, or the socket's), and processing killed with SIGKILL and started again.
#include <fmt/format.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "pkgtrust/adoption/adoption.hpp"
#include "support/child_serve.hpp"
#include "support/gateway_fixtures.hpp"
#include "support/http_test_client.hpp"

using namespace pkgtrust;
using namespace std::chrono_literals;
using namespace testing::gateway_fixtures;
using nlohmann::json;

TEST_CASE("X-Forwarded-For names the client only when the peer is a trusted proxy", "[adoption]") {
  testing::TempDir dir;
  testing::ReplayServer upstream(1);
  PublishNpm(upstream, dir, {{"ad-one", "1.0.0"}});
  for (bool trusted : {false, true}) {
    app::Config config = GatewayConfigFor(dir, upstream);
    config.database.path = dir.File(trusted ? "trusted.db" : "untrusted.db");
    if (trusted) config.gateway.trusted_proxies = {"127.0.0.1"};
    config.adoption.flush_interval = 20ms;
    config.adoption.process_interval = 20ms;
    testing::TestStages stages;
    app::Service service(config, WithoutUpstream(stages));
    service.Start();
    testing::ApiClient client(fmt::format("http://127.0.0.1:{}", service.http_port()));
    // Two networks: 10.30.1.0/24 and 10.30.2.0/24 (its two addresses are one origin).
    for (const char* from : {"10.30.1.1", "10.30.2.1", "10.30.2.99"})
      REQUIRE(client.Call("GET", "/registry/npm/ad-one", "", {{"X-Forwarded-For", from}}).status == 200);
    // A proxy that appends: the last address not itself a trusted proxy is the client.
    REQUIRE(client.Call("GET", "/registry/npm/ad-one", "", {{"X-Forwarded-For", "10.30.3.1, 127.0.0.1"}})
                .status == 200);
    json report;
    REQUIRE(testing::WaitUntil(
        [&] {
          report = json::parse(client.Get("/v1/adoption/npm/ad-one").body);
          return report["totals"]["metadata"] == 4;
        },
        10s));
    INFO(report.dump());
    CHECK(report["days"][0]["origins"] == (trusted ? 3 : 1));  // untrusted: all are 127.0.0.1
    service.Stop();
  }
}

namespace {

constexpr int kPackages = 200;
constexpr int kRowsPerDay = 60'000;

// Two past days of gateway requests: downloads of three versions of 200 packages by 97
// origins, with a metadata request every tenth row.
std::vector<store::RequestLogRow> SyntheticLog(std::int64_t first_day) {
  std::vector<store::RequestLogRow> rows;
  for (int day = 0; day < 2; ++day)
    for (int i = 0; i < kRowsPerDay; ++i) {
      store::RequestLogRow r;
      r.at = (first_day + day) * store::kMillisPerDay + static_cast<core::Millis>(i) * 1'400;
      r.ecosystem = "npm";
      r.method = "GET";
      std::string name = fmt::format("sk-{}", i % kPackages);
      r.path = i % 10 == 0 ? name : fmt::format("{0}/-/{0}-1.0.{1}.tgz", name, (i / kPackages) % 3);
      r.status = 200;
      r.origin = (i * 7919) % 97;
      r.tool = "npm";
      rows.push_back(std::move(r));
    }
  return rows;
}

// Every aggregate row of the two days, as text, in one order.
std::vector<std::string> Aggregates(store::Store& s, std::int64_t first_day) {
  std::vector<std::string> out;
  for (int p = 0; p < kPackages; ++p) {
    auto a = s.ReadAdoption({core::Ecosystem::kNpm, fmt::format("sk-{}", p)}, first_day, first_day + 1);
    REQUIRE(a.ok());
    for (const auto& r : a->rows)
      out.push_back(fmt::format("{} {} {} d={} o={} m={} l={}", p, r.day, r.version, r.downloads, r.origins,
                                r.metadata, r.last_at));
  }
  return out;
}

std::vector<std::string> DayOnly(const std::vector<std::string>& rows, std::int64_t day) {
  std::vector<std::string> out;
  for (const auto& r : rows)
    if (r.find(fmt::format(" {} ", day)) != std::string::npos) out.push_back(r);
  return out;
}

}  // namespace

TEST_CASE("processing killed with SIGKILL resumes after a restart: committed days unchanged, nothing twice",
          "[adoption]") {
  testing::TempDir dir;
  testing::ReplayServer upstream(1);  // answers 404 to the first-seen packages' runs
  core::ManualClock clock;
  std::int64_t first_day = store::DayOf(core::SystemClock::Instance().NowMillis()) - 3;
  auto rows = SyntheticLog(first_day);
  std::int64_t day_one_end = 0, last = 0;
  for (const std::string& path : {dir.File("child.db"), dir.File("reference.db")}) {
    store::StoreConfig config;
    config.path = path;
    auto s = store::Store::Open(config, clock);
    REQUIRE(s.ok());
    for (std::size_t i = 0; i < rows.size(); i += 10'000)
      REQUIRE((*s)->AppendRequestLogSync({rows.begin() + i, rows.begin() + std::min(rows.size(), i + 10'000)})
                  .ok());
    auto all = (*s)->ReadRequestLog(0, rows.size());
    REQUIRE(all.ok());
    day_one_end = all->at(kRowsPerDay - 1).id;
    last = all->back().id;
  }
  // The reference: the same rows processed in this process, without interruption.
  std::vector<std::string> expected;
  {
    store::StoreConfig config;
    config.path = dir.File("reference.db");
    auto s = store::Store::Open(config, clock);
    REQUIRE(s.ok());
    adoption::Processor processor(**s, nullptr, {}, clock);
    auto processed = processor.ProcessAll();
    REQUIRE(processed.ok());
    CHECK(processed->rows == 2 * kRowsPerDay);
    expected = Aggregates(**s, first_day);
  }
  REQUIRE(expected.size() > 2 * kPackages);

  store::StoreConfig watch_config;
  watch_config.path = dir.File("child.db");
  auto watcher = store::Store::Open(watch_config, clock);
  REQUIRE(watcher.ok());
  auto cursor = [&] { return (*watcher)->GetAdoptionCursors()->log; };
  std::string more = "adoption:\n  process_interval_ms: 20\n  step_rows: 6000\n";
  std::vector<std::string> at_kill;
  std::int64_t killed_at = 0;
  {
    testing::ChildServe child(dir, upstream.BaseUrl(), "", more);
    // Killed between steps once the first day is behind the cursor and the second is not.
    REQUIRE(testing::WaitUntil([&] { return cursor() >= day_one_end; }, 120s));
    child.Kill(SIGKILL);
    killed_at = cursor();
    at_kill = Aggregates(**watcher, first_day);
  }
  INFO("cursor at the kill: " << killed_at << " of " << last);
  CHECK(killed_at < last);  // some rows were still to process
  CHECK(DayOnly(at_kill, first_day) == DayOnly(expected, first_day));
  {
    testing::ChildServe child(dir, upstream.BaseUrl(), "", more);
    REQUIRE(testing::WaitUntil([&] { return cursor() == last; }, 120s));
    child.Kill(SIGTERM);
  }
  std::vector<std::string> after = Aggregates(**watcher, first_day);
  CHECK(DayOnly(after, first_day) == DayOnly(at_kill, first_day));  // the committed day did not change
  CHECK(after == expected);                                         // and nothing counted twice
}
