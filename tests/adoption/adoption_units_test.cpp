// The pieces of adoption that decide what is counted and what is kept: origin keys, the
// reduced User-Agent, request classification, the retry window, nginx's combined format,
// the access-log import and the adoption report's curve.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <sstream>

#include "pkgtrust/adoption/access_log.hpp"
#include "pkgtrust/adoption/adoption.hpp"
#include "pkgtrust/adoption/events.hpp"
#include "pkgtrust/adoption/origin.hpp"
#include "pkgtrust/adoption/routes.hpp"
#include "pkgtrust/adoption/user_agent.hpp"
#include "pkgtrust/core/time.hpp"
#include "support/store_under_test.hpp"

using namespace pkgtrust;
using adoption::RequestEvent;
using nlohmann::json;

namespace {

constexpr core::Millis kDay = store::kMillisPerDay;
constexpr core::Millis kT0 = 20'000 * kDay + 3'600'000;

store::RequestLogRow Row(core::Millis at, std::string path, std::int64_t origin, int status = 200,
                         std::string ecosystem = "npm") {
  store::RequestLogRow r;
  r.at = at;
  r.ecosystem = std::move(ecosystem);
  r.method = "GET";
  r.path = std::move(path);
  r.status = status;
  r.origin = origin;
  return r;
}

std::int64_t Downloads(const store::AdoptionUpdate& u, const std::string& version) {
  std::int64_t n = 0;
  for (const auto& c : u.counts)
    if (c.version == version) n += c.downloads;
  return n;
}

}  // namespace

TEST_CASE("origin keys: a /24 or a /48 is one origin, the next network another", "[adoption]") {
  CHECK(adoption::NetworkOf("10.1.2.3") == adoption::NetworkOf("10.1.2.250"));
  CHECK(adoption::NetworkOf("10.1.2.3") != adoption::NetworkOf("10.1.3.3"));
  CHECK(adoption::NetworkOf("2001:db8:1::1") == adoption::NetworkOf("2001:db8:1:ffff::9"));
  CHECK(adoption::NetworkOf("2001:db8:1::1") != adoption::NetworkOf("2001:db8:2::1"));
  CHECK(adoption::NetworkOf("::ffff:10.1.2.3") == adoption::NetworkOf("10.1.2.99"));
  CHECK(adoption::NetworkOf("[::1]") == adoption::NetworkOf("::1"));
  CHECK_FALSE(adoption::NetworkOf("not-an-address"));
  CHECK_FALSE(adoption::NetworkOf(""));

  adoption::OriginKeys keys;
  std::int64_t a = keys.Key("10.1.2.3", kT0);
  CHECK(keys.Key("10.1.2.77", kT0 + 1000) == a);  // same network, same day
  CHECK(keys.Key("10.1.3.3", kT0) != a);
  // The next day has a new secret: nothing links the two days' keys.
  std::int64_t tomorrow = keys.Key("10.1.2.3", kT0 + kDay);
  CHECK(tomorrow != a);
  CHECK(keys.Key("10.1.2.3", kT0 + kDay + 5) == tomorrow);
  // A request stamped before midnight but keyed after it takes the new day's secret, and the
  // new day keeps its secret (its origins are not split in two).
  std::int64_t late = keys.Key("10.1.2.3", kT0 + kDay - 3'600'001);
  CHECK(late == tomorrow);
  CHECK(keys.Key("10.1.2.3", kT0 + kDay + 9) == tomorrow);
  // Another process (another instance) has its own secret.
  adoption::OriginKeys other;
  CHECK(other.Key("10.1.2.3", kT0) != a);
  // A value that is not an address is still one origin, keyed like the rest.
  CHECK(keys.Key("garbage", kT0 + kDay) == keys.Key("garbage", kT0 + kDay + 1));
}

TEST_CASE("the User-Agent is reduced to tool, version, runtime, OS and CI", "[adoption]") {
  auto npm =
      adoption::ReduceUserAgent("npm/10.2.4 node/v20.10.0 linux x64 workspaces/false ci/github-actions");
  CHECK(npm.tool == "npm");
  CHECK(npm.tool_version == "10.2.4");
  CHECK(npm.runtime == "node/20.10.0");
  CHECK(npm.os == "linux");
  CHECK(npm.ci);
  auto laptop = adoption::ReduceUserAgent("npm/9.8.1 node/v18.17.0 darwin arm64 workspaces/false");
  CHECK(laptop.os == "darwin");
  CHECK_FALSE(laptop.ci);
  CHECK(adoption::ReduceUserAgent("pnpm/8.15.0 npm/? node/v20.10.0 win32 x64").os == "windows");
  auto pip = adoption::ReduceUserAgent(
      R"(pip/23.0.1 {"ci":true,"cpu":"x86_64","implementation":{"name":"CPython","version":"3.11.2"},)"
      R"("installer":{"name":"pip","version":"23.0.1"},"system":{"name":"Linux","release":"6.1.0"},)"
      R"("user_data":"/home/alice/secret"})");
  CHECK(pip.tool == "pip");
  CHECK(pip.tool_version == "23.0.1");
  CHECK(pip.runtime == "cpython/3.11.2");
  CHECK(pip.os == "linux");
  CHECK(pip.ci);
  auto no_ci =
      adoption::ReduceUserAgent(R"(pip/24.0 {"ci":null,"implementation":{"name":"PyPy","version":"7.3"}})");
  CHECK_FALSE(no_ci.ci);
  CHECK(no_ci.runtime == "pypy/7.3");
  // Anything that is not a plain short token is not kept.
  auto odd = adoption::ReduceUserAgent("Mozilla/5.0 (X11; alice@laptop.example) Gecko");
  CHECK(odd.tool == "mozilla");
  CHECK(odd.runtime.empty());
  CHECK(adoption::ReduceUserAgent("/home/alice/bin/tool").tool == "other");
  CHECK(adoption::ReduceUserAgent(std::string(40, 'x') + "/1.0").tool == "other");
  CHECK(adoption::ReduceUserAgent("curl/7.88.1").tool_version == "7.88.1");
  CHECK(adoption::ReduceUserAgent("").tool.empty());
  CHECK(adoption::ReduceUserAgent("pip/1 {not json").runtime.empty());
}

TEST_CASE("requests are downloads, metadata or nothing", "[adoption]") {
  using Kind = RequestEvent::Kind;
  auto npm = [](std::string_view path, int status = 200, std::string_view method = "GET") {
    return adoption::ClassifyRequest("npm", method, status, path);
  };
  CHECK(npm("left-pad").kind == Kind::kMetadata);
  CHECK(npm("left-pad", 304).kind == Kind::kMetadata);
  CHECK(npm("left-pad", 404).kind == Kind::kNone);
  auto tarball = npm("left-pad/-/left-pad-1.3.0.tgz");
  CHECK(tarball.kind == Kind::kDownload);
  CHECK(tarball.key.name == "left-pad");
  CHECK(tarball.version == "1.3.0");
  CHECK(npm("left-pad/-/left-pad-1.3.0.tgz", 206).kind == Kind::kDownload);
  CHECK(npm("left-pad/-/left-pad-1.3.0.tgz", 304).kind == Kind::kNone);  // no bytes went out
  CHECK(npm("left-pad/-/left-pad-1.3.0.tgz", 403).kind == Kind::kNone);  // refused by the policy
  CHECK(npm("left-pad/-/left-pad-1.3.0.tgz", 200, "HEAD").kind == Kind::kNone);
  auto scoped = npm("@babel/core/-/core-7.24.0.tgz");
  CHECK(scoped.key.name == "@babel/core");
  CHECK(scoped.version == "7.24.0");
  CHECK(npm("-/npm/v1/security/advisories/bulk", 200, "POST").kind == Kind::kNone);
  auto pypi = [](std::string_view path, int status = 200) {
    return adoption::ClassifyRequest("pypi", "GET", status, path);
  };
  CHECK(pypi("simple/Requests/").kind == Kind::kMetadata);
  CHECK(pypi("simple/requests/").key.name == "requests");
  auto wheel = pypi("files/requests/packages/ab/cd/requests-2.32.3-py3-none-any.whl");
  CHECK(wheel.kind == Kind::kDownload);
  CHECK(wheel.version == "2.32.3");
  CHECK(pypi("files/requests/packages/ab/cd/requests-2.32.3-py3-none-any.whl.metadata").kind ==
        Kind::kMetadata);
  CHECK(adoption::ClassifyRequest("crates", "GET", 200, "serde").kind == Kind::kNone);

  auto sdist = adoption::PypiFileVersion("my-pkg-1.0.post1.tar.gz");
  REQUIRE(sdist.ok());
  CHECK(sdist->first.name == "my-pkg");
  CHECK(sdist->second == "1.0.post1");
  CHECK(adoption::PypiFileVersion("Django-5.0-py3-none-any.whl")->first.name == "django");
  CHECK_FALSE(adoption::PypiFileVersion("README.md").ok());
  CHECK_FALSE(adoption::PypiFileVersion("noversion.tar.gz").ok());
  CHECK(adoption::MajorOf("1.2.3") == "1");
  CHECK(adoption::MajorOf("v2.0.0") == "2");
  CHECK(adoption::MajorOf("0.4.1") == "0");
  CHECK(adoption::MajorOf("10.0.0-rc.1") == "10");
  CHECK(adoption::MajorOf("latest").empty());
}

TEST_CASE("a file asked again by the same origin within a minute is one download", "[adoption]") {
  const std::string file = "left-pad/-/left-pad-1.3.0.tgz";
  SECTION("59.999 s later: a retry") {
    adoption::EventStep step;
    step.Add(Row(kT0, file, 1));
    step.Add(Row(kT0 + 59'999, file, 1, 206));  // the next range of the same file
    CHECK(step.downloads == 1);
    CHECK(step.repeats == 1);
    CHECK(Downloads(step.Take(0, 2), "1.3.0") == 1);
  }
  SECTION("60 s later: a download again") {
    adoption::EventStep step;
    step.Add(Row(kT0, file, 1));
    step.Add(Row(kT0 + 60'000, file, 1));
    CHECK(step.downloads == 2);
    CHECK(Downloads(step.Take(0, 2), "1.3.0") == 2);
  }
  SECTION("a chain of retries each within a minute of the last counts once") {
    adoption::EventStep step;
    for (int i = 0; i < 5; ++i) step.Add(Row(kT0 + i * 50'000, file, 1));
    CHECK(step.downloads == 1);
  }
  SECTION("another origin, another file: each counts") {
    adoption::EventStep step;
    step.Add(Row(kT0, file, 1));
    step.Add(Row(kT0 + 1, file, 2));
    step.Add(Row(kT0 + 2, "left-pad/-/left-pad-1.2.0.tgz", 1));
    CHECK(step.downloads == 3);
  }
  SECTION("the requests just before the step decide its first rows") {
    adoption::EventStep step;
    step.Seed({Row(kT0 - 30'000, file, 1)});
    step.Add(Row(kT0, file, 1));
    step.Add(Row(kT0, file, 2));
    CHECK(step.downloads == 1);
    CHECK(step.repeats == 1);
  }
  SECTION("metadata is counted apart, and its origins count for the package") {
    adoption::EventStep step;
    step.Add(Row(kT0, "left-pad", 7));
    step.Add(Row(kT0 + 1, "left-pad", 7, 304));
    step.Add(Row(kT0 + 2, file, 8));
    step.Add(Row(kT0 + 3, "left-pad", 9, 404));
    CHECK(step.metadata == 2);
    CHECK(step.downloads == 1);
    CHECK(step.ignored == 1);
    auto u = step.Take(5, 9);
    CHECK(u.from_cursor == 5);
    CHECK(u.to_cursor == 9);
    std::int64_t package_origins = 0, version_origins = 0;
    core::PackageKey left_pad{core::Ecosystem::kNpm, "left-pad"};
    for (const auto& o : u.origins) {
      if (o.subject == store::AdoptionSubject(left_pad, "")) package_origins++;
      if (o.subject == store::AdoptionSubject(left_pad, "1.3.0")) version_origins++;
    }
    CHECK(package_origins == 2);  // 7 (metadata) and 8 (download)
    CHECK(version_origins == 1);
    REQUIRE(u.seen.size() == 1);
    CHECK(u.seen[0].second == kT0);
  }
}

TEST_CASE("nginx combined lines are read, and malformed ones named by line number", "[adoption]") {
  auto line = adoption::ParseCombinedLine(
      R"(10.1.2.3 - - [07/Dec/2026:10:00:05 +0100] "GET /left-pad/-/left-pad-1.3.0.tgz?x=1 HTTP/1.1" 200 1234 "-" "npm/10.2.4 node/v20.10.0 linux x64 workspaces/false")");
  REQUIRE(line.ok());
  CHECK(line->address == "10.1.2.3");
  CHECK(line->at == core::UtcMillis(2026, 12, 7, 9, 0, 5));
  CHECK(line->method == "GET");
  CHECK(line->target == "/left-pad/-/left-pad-1.3.0.tgz?x=1");
  CHECK(line->status == 200);
  CHECK(line->bytes == 1234);
  CHECK(line->user_agent.starts_with("npm/10.2.4"));
  CHECK(
      adoption::ParseCombinedLine(R"(::1 - bob [01/Jan/2026:00:00:00 -0530] "GET / HTTP/1.1" 304 0 "-" "-")")
          ->at == core::UtcMillis(2026, 1, 1, 5, 30, 0));
  for (const char* bad :
       {"", "10.1.2.3", R"(10.1.2.3 - - [07/Dec/2026:10:00:05] "GET / HTTP/1.1" 200 1 "-" "-")",
        R"(10.1.2.3 - - [07/Dek/2026:10:00:05 +0000] "GET / HTTP/1.1" 200 1 "-" "-")",
        R"(10.1.2.3 - - [07/Dec/2026:10:00:05 +0000] "GET / HTTP/1.1" OK 1 "-" "-")",
        R"(10.1.2.3 - - [07/Dec/2026:10:00:05 +0000] "GET / HTTP/1.1" 200 - "-" "-")",
        R"(10.1.2.3 - - [07/Dec/2026:10:00:05 +0000] "\x16\x03\x01" 400 0 "-" "-")",
        R"(10.1.2.3 - - [07/Dec/2026:10:00:05 +0000] "GET / HTTP/1.1" 200 1 "-")"})
    CHECK_FALSE(adoption::ParseCombinedLine(bad).ok());

  testing::StoreUnderTest db(false);
  core::ManualClock clock;
  auto s = db.Open(clock);
  std::istringstream log(
      "10.1.2.3 - - [07/Dec/2026:10:00:05 +0000] \"GET /npm/left-pad HTTP/1.1\" 200 10 \"-\" \"npm/10.2.4\"\n"
      "garbage line\n"
      "10.1.2.3 - - [07/Dec/2026:10:00:06 +0000] \"GET /npm/left-pad/-/left-pad-1.3.0.tgz HTTP/1.1\" 200 99 "
      "\"-\" \"npm/10.2.4\"\n"
      "10.1.2.3 - - [07/Dec/2026:10:00:07 +0000] \"GET /other/x HTTP/1.1\" 200 1 \"-\" \"curl/8\"\n"
      "\n"
      "10.9.9.9 - - [07/Dec/2026:10:00:08 +0000] \"GET /npm/left-pad/-/left-pad-1.3.0.tgz HTTP/1.1\" 200 "
      "99\n");
  adoption::OriginKeys keys;
  adoption::AccessLogImportOptions options;
  options.prefix = "/npm/";
  auto imported = adoption::ImportAccessLog(log, options, keys, *s);
  REQUIRE(imported.ok());
  CHECK(imported->lines == 6);
  CHECK(imported->imported == 2);
  CHECK(imported->outside_prefix == 1);
  CHECK(imported->malformed == 2);
  REQUIRE(imported->malformed_examples.size() == 2);
  CHECK(imported->malformed_examples[0].starts_with("line 2: "));
  CHECK(imported->malformed_examples[1].starts_with("line 6: "));
  auto rows = s->ReadRequestLog(0, 10);
  REQUIRE(rows.ok());
  REQUIRE(rows->size() == 2);
  CHECK(rows->at(0).path == "left-pad");
  CHECK(rows->at(0).source == "import");
  CHECK(rows->at(1).path == "left-pad/-/left-pad-1.3.0.tgz");
  CHECK(rows->at(0).origin == rows->at(1).origin);
  adoption::Processor processor(*s, nullptr, {}, clock);
  auto processed = processor.ProcessAll();
  REQUIRE(processed.ok());
  CHECK(processed->downloads == 1);
  CHECK(processed->metadata == 1);
  CHECK(processor.ProcessAll()->rows == 0);  // nothing twice
}

TEST_CASE("the adoption report: share of each major per day and the days it took to reach half",
          "[adoption]") {
  store::PackageAdoption a;
  a.key = {core::Ecosystem::kNpm, "left-pad"};
  std::int64_t d0 = 20'000;
  // Day 0: 1.x only. Day 1: 2.x has 1 of 4. Day 2: 2.x 2 of 4 (half). Day 3: 2.x 3 of 4.
  a.rows = {{"", d0, 4, 2, 1, 0},          {"1.0.0", d0, 4, 2, 0, 0},     {"", d0 + 1, 4, 2, 0, 0},
            {"1.0.0", d0 + 1, 3, 1, 0, 0}, {"2.0.0", d0 + 1, 1, 1, 0, 0}, {"", d0 + 2, 4, 2, 0, 0},
            {"1.0.0", d0 + 2, 2, 1, 0, 0}, {"2.0.0", d0 + 2, 2, 1, 0, 0}, {"", d0 + 3, 4, 2, 0, 0},
            {"1.0.0", d0 + 3, 1, 1, 0, 0}, {"2.1.0", d0 + 3, 3, 1, 0, 0}};
  adoption::MajorPublished published{{"2", (d0 - 1) * kDay + 5000}};  // 2.x published the day before day 0
  json report = json::parse(adoption::AdoptionReportJson(a, d0, d0 + 3, published));
  CHECK(report["totals"]["downloads"] == 16);
  CHECK(report["totals"]["origin_days"] == 8);
  CHECK(report["totals"]["metadata"] == 1);
  REQUIRE(report["majors"].size() == 2);
  json two = report["majors"][1];
  CHECK(two["major"] == "2");
  CHECK(two["downloads"] == 6);
  REQUIRE(two["share"].size() == 4);
  CHECK(two["share"][1]["share"] == 0.25);
  CHECK(two["share"][2]["share"] == 0.5);
  CHECK(two["days_to_half"] == 3);  // published day -1, half on day 2
  json one = report["majors"][0];
  CHECK(one["first_published"].is_null());
  CHECK(one["days_to_half"] == 0);  // from its first download here, which had all of them
  REQUIRE(report["versions"].size() == 3);
  CHECK(report["versions"][2]["version"] == "2.1.0");
  CHECK(report["versions"][2]["major"] == "2");

  CHECK(adoption::ParseDay("2026-12-07").value() == store::DayOf(core::UtcMillis(2026, 12, 7)));
  CHECK(adoption::FormatDay(*adoption::ParseDay("2024-02-29")) == "2024-02-29");
  CHECK_FALSE(adoption::ParseDay("2026-02-30").ok());
  CHECK_FALSE(adoption::ParseDay("2026-1-07").ok());
  CHECK_FALSE(adoption::ParseDay("yesterday").ok());
}
