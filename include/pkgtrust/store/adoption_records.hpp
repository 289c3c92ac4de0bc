// What the store keeps for adoption (src/adoption/, docs/privacy.md): the gateway's request
// log, its processed aggregates and the exposure alerts. No row holds a client's address:
// `origin` is already the keyed hash of its network when a row reaches the store.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "pkgtrust/core/clock.hpp"
#include "pkgtrust/core/ecosystem.hpp"

namespace pkgtrust::store {

// Days are UTC days since the epoch (ms / 86,400,000).
inline constexpr std::int64_t kMillisPerDay = 86'400'000;
inline std::int64_t DayOf(core::Millis at) { return at / kMillisPerDay; }

// One request to the gateway (or one line of an imported access log).
struct RequestLogRow {
  std::int64_t id = 0;  // given by the store, increasing in commit order
  core::Millis at = 0;
  std::string ecosystem;  // "npm", "pypi"
  std::string method;
  std::string path;  // below the gateway's prefix for the ecosystem, still percent-encoded
  int status = 0;
  std::int64_t bytes = 0;
  std::int64_t duration_us = 0;
  std::int64_t origin = 0;  // the keyed hash of the client's network (adoption/origin.hpp)
  std::string tool, tool_version, runtime, os;  // the User-Agent, reduced (adoption/user_agent.hpp)
  bool ci = false;
  std::string source = "gateway";  // or "import"
};

// Added to one day's counts of a package (version empty) or of one of its versions.
struct AdoptionCount {
  core::PackageKey key;
  std::string version;  // empty: the package's own row (metadata requests, all downloads)
  std::int64_t day = 0;
  std::int64_t downloads = 0;
  std::int64_t metadata = 0;  // metadata-only requests (package rows)
  core::Millis last_at = 0;   // the latest download counted
};

// What origins are counted against: a package (version empty) or one of its versions, as a
// 64-bit FNV-1a hash of "ecosystem\0name\0version" (the origins table keeps integers only:
// small rows, fast inserts; two subjects of one organisation colliding is a 1-in-2^64 event).
std::int64_t AdoptionSubject(const core::PackageKey& key, std::string_view version);

// An origin seen downloading (or resolving) on a day, counted once per (day, subject) in the
// `origins` of the AdoptionCount of that subject and day.
struct AdoptionOrigin {
  std::int64_t subject = 0;
  std::int64_t day = 0;
  std::int64_t origin = 0;
};

// What one processing step adds, applied only when the log's processing cursor is still
// `from_cursor` (another process, or an earlier run of this one, did not process the rows):
// the cursor moves to `to_cursor` in the same transaction, so a row is never counted twice.
struct AdoptionUpdate {
  std::int64_t from_cursor = 0, to_cursor = 0;
  std::vector<AdoptionCount> counts;
  std::vector<AdoptionOrigin> origins;
  std::vector<std::pair<core::PackageKey, core::Millis>> seen;  // every package, first request time
};

struct AdoptionApplied {
  bool applied = false;                      // false: the cursor had moved, nothing written
  std::vector<core::PackageKey> first_seen;  // packages never seen before this update
};

struct AdoptionCursors {
  std::int64_t log = 0;     // the last request log row processed
  std::int64_t alerts = 0;  // the last change log offset the alerts looked at
};

// One row of a package's adoption: a day of one version (version set) or of the package.
struct AdoptionDayRow {
  std::string version;  // empty: the package row
  std::int64_t day = 0;
  std::int64_t downloads = 0;
  std::int64_t origins = 0;   // unique origins that day
  std::int64_t metadata = 0;  // package rows
  core::Millis last_at = 0;
};

struct PackageAdoption {
  core::PackageKey key;
  core::Millis first_seen_at = 0;    // 0: never seen
  std::vector<AdoptionDayRow> rows;  // by day, then version ("" first)
};

struct AdoptionTopRow {
  core::PackageKey key;
  std::int64_t downloads = 0;
  std::int64_t origin_days = 0;  // unique origins summed over the days
  std::int64_t metadata = 0;
};

// A flagged package that origins downloaded: which versions, how many origins, when last.
struct ExposureAlert {
  std::int64_t id = 0;
  core::PackageKey key;
  std::string reason;         // malicious, typosquat, below_min_score
  std::string detail;         // the advisory ids, the look-alike, the score
  std::string versions_json;  // [{"version", "downloads", "origins", "last_download_at"}]
  std::int64_t downloads = 0;
  std::int64_t origins = 0;  // unique origins summed over the days of the window
  core::Millis last_download_at = 0;
  std::int64_t exposure_days = 0;
  core::Millis created_at = 0;
  core::Millis resolved_at = 0;  // 0: open
  std::int64_t change_offset = 0;
};

// The alert as JSON, as GET /v1/alerts and the change stream's `alert` events carry it:
// {"id", "ecosystem", "name", "reason", "detail", "versions", "downloads", "origins",
//  "last_download_at", "exposure_days", "created_at", "resolved_at"} (times RFC 3339, null
// when unset; versions as stored).
std::string AlertJson(const ExposureAlert& alert);

}  // namespace pkgtrust::store
