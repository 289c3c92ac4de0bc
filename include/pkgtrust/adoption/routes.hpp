// The adoption REST routes, mounted on the API's server (docs/api.md "Adoption"):
//   GET /v1/adoption/{ecosystem}/{name}?from=YYYY-MM-DD&to=YYYY-MM-DD
//       per day: downloads, unique origins, metadata requests; per version per day; per major
//       version: its share of each day's downloads, its first publish and the days it took
//       to reach half of the downloads (the adoption curve)
//   GET /v1/adoption/top?from=&to=&ecosystem=&limit=
//   GET /v1/alerts?open=true&before=ID&limit=
// Without from/to: the last 30 days up to today (UTC).
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "pkgtrust/api/http_server.hpp"
#include "pkgtrust/core/clock.hpp"
#include "pkgtrust/core/executor.hpp"
#include "pkgtrust/store/store.hpp"

namespace pkgtrust::adoption {

// "2026-11-30" -> its UTC day number; an error names the text.
core::Result<std::int64_t> ParseDay(std::string_view text);
std::string FormatDay(std::int64_t day);

// A major version's first publish (ms), from the package's registry facts.
using MajorPublished = std::map<std::string, core::Millis>;

// The body of GET /v1/adoption/{ecosystem}/{name}.
std::string AdoptionReportJson(const store::PackageAdoption& adoption, std::int64_t from_day,
                               std::int64_t to_day, const MajorPublished& published);

// The first publish of each major version, read from the package's registry fact (empty
// when the package has none).
MajorPublished MajorsPublished(store::Store& store, const core::PackageKey& key);

// Answers are built on `executor` (a year of a package's days is about a megabyte of JSON,
// tens of milliseconds: not on the server's I/O threads) and reused: for up to a second
// (kAnswerReuse) as they are, then served as they are while one rebuild runs (the data
// changes once per processing step, adoption.process_interval_ms). Alerts are always read
// afresh.
class AdoptionRoutes final : public api::RequestHandler {
 public:
  // Everything passed in must outlive it.
  AdoptionRoutes(store::Store& store, const core::Clock& clock, core::Executor& executor)
      : store_(store), clock_(clock), executor_(executor) {}
  void Handle(api::ServerRequest request, api::Responder respond) override;

 private:
  void Answer(const api::ServerRequest& request, const api::Responder& respond);
  // Builds the answer for `key` and keeps it when it is a 200; `respond` (may be empty) gets it.
  void Build(std::string key, api::ServerRequest request, api::Responder respond);
  store::Store& store_;
  const core::Clock& clock_;
  core::Executor& executor_;
  struct Answered {
    std::chrono::steady_clock::time_point at;
    std::shared_ptr<const std::string> body;
    bool rebuilding = false;
  };
  std::mutex answers_mu_;
  std::unordered_map<std::string, Answered> answers_;  // by path and query
};

}  // namespace pkgtrust::adoption
