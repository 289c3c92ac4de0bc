// The adoption part of the store's conformance suite (adoption_records.hpp), on SQLite by
// default and on PostgreSQL in the store_postgres entry: the request log, the processing
// cursor that makes a step count once, unique origins, first-seen packages, alerts on the
// change log, expiry and deletion.
#include <catch2/catch.hpp>

#include "pkgtrust/store/store.hpp"
#include "support/store_under_test.hpp"

using namespace pkgtrust;

namespace {

core::PackageKey Npm(const char* name) { return {core::Ecosystem::kNpm, name}; }

constexpr core::Millis kDay = store::kMillisPerDay;
constexpr core::Millis kT0 = 20'000 * kDay + 3'600'000;  // 2024-10-04T01:00Z

store::RequestLogRow LogRow(core::Millis at, std::string path, std::int64_t origin, int status = 200) {
  store::RequestLogRow r;
  r.at = at;
  r.ecosystem = "npm";
  r.method = "GET";
  r.path = std::move(path);
  r.status = status;
  r.bytes = 123;
  r.duration_us = 456;
  r.origin = origin;
  r.tool = "npm";
  r.tool_version = "10.2.4";
  r.runtime = "node/20.10.0";
  r.os = "linux";
  r.ci = true;
  return r;
}

// One step: `downloads` of left-pad@1.3.0 on day `day` by `origins`.
store::AdoptionUpdate Step(std::int64_t from, std::int64_t to, std::int64_t day, std::int64_t downloads,
                           std::vector<std::int64_t> origins) {
  store::AdoptionUpdate u;
  u.from_cursor = from;
  u.to_cursor = to;
  u.counts.push_back({Npm("left-pad"), "", day, downloads, 2, day * kDay + 5});
  u.counts.push_back({Npm("left-pad"), "1.3.0", day, downloads, 0, day * kDay + 5});
  for (std::int64_t o : origins) {
    u.origins.push_back({store::AdoptionSubject(Npm("left-pad"), ""), day, o});
    u.origins.push_back({store::AdoptionSubject(Npm("left-pad"), "1.3.0"), day, o});
  }
  u.seen.push_back({Npm("left-pad"), day * kDay + 1});
  return u;
}

const store::AdoptionDayRow* Row(const store::PackageAdoption& a, const std::string& version,
                                 std::int64_t day) {
  for (const auto& r : a.rows)
    if (r.version == version && r.day == day) return &r;
  return nullptr;
}

}  // namespace

TEST_CASE("request log rows keep every field and come back in id order", "[store][adoption]") {
  testing::StoreUnderTest db;
  core::ManualClock clock;
  auto s = db.Open(clock);
  REQUIRE(s->AppendRequestLogSync(
               {LogRow(kT0, "left-pad", -5), LogRow(kT0 + 1, "left-pad/-/left-pad-1.3.0.tgz", 7)})
              .ok());
  REQUIRE(s->AppendRequestLogSync({LogRow(kT0 + 2, "react", 8, 304)}).ok());
  auto rows = s->ReadRequestLog(0, 10);
  REQUIRE(rows.ok());
  REQUIRE(rows->size() == 3);
  CHECK((*rows)[0].id < (*rows)[1].id);
  CHECK((*rows)[1].id < (*rows)[2].id);
  const auto& r = (*rows)[0];
  CHECK(r.at == kT0);
  CHECK(r.ecosystem == "npm");
  CHECK(r.method == "GET");
  CHECK(r.path == "left-pad");
  CHECK(r.status == 200);
  CHECK(r.bytes == 123);
  CHECK(r.duration_us == 456);
  CHECK(r.origin == -5);  // the key is a full 64-bit value, sign and all
  CHECK(r.tool == "npm");
  CHECK(r.tool_version == "10.2.4");
  CHECK(r.runtime == "node/20.10.0");
  CHECK(r.os == "linux");
  CHECK(r.ci);
  CHECK(r.source == "gateway");
  CHECK((*rows)[2].status == 304);
  auto after = s->ReadRequestLog((*rows)[0].id, 1);
  REQUIRE(after.ok());
  REQUIRE(after->size() == 1);
  CHECK((*after)[0].path == "left-pad/-/left-pad-1.3.0.tgz");
  // What came before an id, from a time on (a step's look back).
  auto before = s->ReadRequestLogBefore((*rows)[1].id, kT0 + 1, kT0 + 1);
  REQUIRE(before.ok());
  REQUIRE(before->size() == 1);
  CHECK((*before)[0].id == (*rows)[1].id);
}

TEST_CASE("an adoption step applies once: the cursor moves only from where the step started",
          "[store][adoption]") {
  testing::StoreUnderTest db;
  core::ManualClock clock;
  auto s = db.Open(clock);
  std::int64_t day = store::DayOf(kT0);
  auto first = s->ApplyAdoptionSync(Step(0, 10, day, 3, {11, 12}));
  REQUIRE(first.ok());
  CHECK(first->applied);
  REQUIRE(first->first_seen.size() == 1);
  CHECK(first->first_seen[0] == Npm("left-pad"));
  // The same step again (a process killed after its commit, or another process): nothing.
  auto again = s->ApplyAdoptionSync(Step(0, 10, day, 3, {11, 12}));
  REQUIRE(again.ok());
  CHECK_FALSE(again->applied);
  CHECK(again->first_seen.empty());
  auto cursors = s->GetAdoptionCursors();
  REQUIRE(cursors.ok());
  CHECK(cursors->log == 10);
  // The next step: one origin already counted that day, one new; the package is not new.
  auto next = s->ApplyAdoptionSync(Step(10, 20, day, 2, {12, 13}));
  REQUIRE(next.ok());
  CHECK(next->applied);
  CHECK(next->first_seen.empty());
  auto a = s->ReadAdoption(Npm("left-pad"), day, day);
  REQUIRE(a.ok());
  CHECK(a->first_seen_at == day * kDay + 1);
  const auto* package = Row(*a, "", day);
  const auto* version = Row(*a, "1.3.0", day);
  REQUIRE(package != nullptr);
  REQUIRE(version != nullptr);
  CHECK(package->downloads == 5);
  CHECK(package->metadata == 4);
  CHECK(package->origins == 3);  // 11, 12, 13
  CHECK(version->downloads == 5);
  CHECK(version->origins == 3);
  CHECK(version->last_at == day * kDay + 5);
  // The next day's origins are counted afresh.
  REQUIRE(s->ApplyAdoptionSync(Step(20, 30, day + 1, 1, {12}))->applied);
  a = s->ReadAdoption(Npm("left-pad"), day, day + 1);
  REQUIRE(a.ok());
  REQUIRE(Row(*a, "", day + 1) != nullptr);
  CHECK(Row(*a, "", day + 1)->origins == 1);
  // The range is inclusive on both ends and nothing outside it comes back.
  a = s->ReadAdoption(Npm("left-pad"), day + 1, day + 1);
  REQUIRE(a.ok());
  CHECK(Row(*a, "", day) == nullptr);
  CHECK(a->rows.size() == 2);
  auto top = s->ReadAdoptionTop(day, day + 1, "", 10);
  REQUIRE(top.ok());
  REQUIRE(top->size() == 1);
  CHECK(top->front().downloads == 6);
  CHECK(top->front().origin_days == 4);
  CHECK(top->front().metadata == 6);
  auto other = s->ReadAdoptionTop(day, day + 1, "pypi", 10);
  REQUIRE(other.ok());
  CHECK(other->empty());
}

TEST_CASE("an alert is raised once while open, travels on the change log and leaves the report alone",
          "[store][adoption]") {
  testing::StoreUnderTest db;
  core::ManualClock clock;
  clock.Set(kT0);
  auto s = db.Open(clock);
  REQUIRE(s->EnqueueSync({Npm("left-pad")}).ok());
  auto state_before = s->ReadState(0, 10);
  REQUIRE(state_before.ok());
  auto bounds_before = s->GetChangeLogBounds();
  REQUIRE(bounds_before.ok());
  store::ExposureAlert alert;
  alert.key = Npm("left-pad");
  alert.reason = "malicious";
  alert.detail = "MAL-2026-1";
  alert.versions_json = R"([{"version":"1.3.0","downloads":4,"origins":3}])";
  alert.downloads = 4;
  alert.origins = 3;
  alert.last_download_at = kT0 - 1000;
  alert.exposure_days = 30;
  auto raised = s->RaiseAlertSync(alert);
  REQUIRE(raised.ok());
  CHECK(raised->id > 0);
  auto twice = s->RaiseAlertSync(alert);
  REQUIRE(twice.ok());
  CHECK(twice->id == 0);  // one is open for this package and reason
  alert.reason = "typosquat";
  auto other = s->RaiseAlertSync(alert);
  REQUIRE(other.ok());
  CHECK(other->id > raised->id);
  auto changes = s->ReadChanges(bounds_before->last, 10);
  REQUIRE(changes.ok());
  REQUIRE(changes->size() == 2);
  CHECK(changes->at(0).key == Npm("left-pad"));
  CHECK(changes->at(0).alert_json.find("\"reason\":\"malicious\"") != std::string::npos);
  CHECK(changes->at(0).alert_json.find("\"origins\":3") != std::string::npos);
  CHECK(changes->at(1).alert_json.find("\"reason\":\"typosquat\"") != std::string::npos);
  auto state_after = s->ReadState(0, 10);
  REQUIRE(state_after.ok());
  CHECK(state_after->packages.size() == state_before->packages.size());  // no report came of it
  auto open = s->ListAlerts(true, 0, 10);
  REQUIRE(open.ok());
  REQUIRE(open->size() == 2);
  CHECK(open->at(0).id == other->id);  // newest first
  CHECK(open->at(1).change_offset == changes->at(0).offset);
  CHECK(open->at(1).downloads == 4);
  CHECK(open->at(1).last_download_at == kT0 - 1000);
  // Still flagged as malicious, no longer a typosquat: only that one is resolved.
  auto resolved = s->ResolveAlertsSync(Npm("left-pad"), {"malicious"}, kT0 + 5);
  REQUIRE(resolved.ok());
  CHECK(*resolved == 1);
  open = s->ListAlerts(true, 0, 10);
  REQUIRE(open.ok());
  REQUIRE(open->size() == 1);
  CHECK(open->at(0).reason == "malicious");
  auto all = s->ListAlerts(false, 0, 10);
  REQUIRE(all.ok());
  REQUIRE(all->size() == 2);
  CHECK(all->at(0).resolved_at == kT0 + 5);
  auto paged = s->ListAlerts(false, all->at(0).id, 10);
  REQUIRE(paged.ok());
  REQUIRE(paged->size() == 1);
  CHECK(paged->at(0).id == raised->id);
  // Resolved, the reason may raise a new alert.
  auto again = s->RaiseAlertSync(alert);
  REQUIRE(again.ok());
  CHECK(again->id > other->id);
}

TEST_CASE("expiry deletes processed log rows before the cut and old origins; the counts stay",
          "[store][adoption]") {
  testing::StoreUnderTest db;
  core::ManualClock clock;
  auto s = db.Open(clock);
  REQUIRE(s->AppendRequestLogSync({LogRow(kT0, "a", 1), LogRow(kT0 + 10, "b", 1), LogRow(kT0 + 20, "c", 1)})
              .ok());
  auto rows = s->ReadRequestLog(0, 10);
  REQUIRE(rows.ok());
  std::int64_t day = store::DayOf(kT0);
  // Processed up to the second row only.
  REQUIRE(s->ApplyAdoptionSync(Step(0, (*rows)[1].id, day, 1, {1}))->applied);
  auto expired = s->ExpireAdoptionSync(kT0 + 20 + 1, day);
  REQUIRE(expired.ok());
  CHECK(*expired == 2);  // the third is older than the cut but not processed: kept
  auto left = s->ReadRequestLog(0, 10);
  REQUIRE(left.ok());
  REQUIRE(left->size() == 1);
  CHECK(left->front().path == "c");
  // Origins of the day are kept while the day is not before the cut...
  REQUIRE(s->ApplyAdoptionSync(Step((*rows)[1].id, (*rows)[2].id, day, 1, {1}))->applied);
  auto a = s->ReadAdoption(Npm("left-pad"), day, day);
  REQUIRE(a.ok());
  CHECK(Row(*a, "", day)->origins == 1);  // origin 1 seen again: still one
  // ...and dropped after: the counts stay as they were.
  REQUIRE(s->ExpireAdoptionSync(kT0, day + 1).ok());
  a = s->ReadAdoption(Npm("left-pad"), day, day);
  REQUIRE(a.ok());
  CHECK(Row(*a, "", day)->origins == 1);
  CHECK(Row(*a, "", day)->downloads == 2);
  // Deleting a package's adoption data removes its rows and alerts.
  store::ExposureAlert alert;
  alert.key = Npm("left-pad");
  alert.reason = "malicious";
  REQUIRE(s->RaiseAlertSync(alert).ok());
  auto deleted = s->DeleteAdoptionSync(Npm("left-pad"));
  REQUIRE(deleted.ok());
  CHECK(*deleted == 4);  // two daily rows, the alert, the package (its origins were expired)
  a = s->ReadAdoption(Npm("left-pad"), day, day);
  REQUIRE(a.ok());
  CHECK(a->rows.empty());
  CHECK(a->first_seen_at == 0);
  CHECK(s->ListAlerts(false, 0, 10)->empty());
}
