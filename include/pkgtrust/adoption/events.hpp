// Request log rows become package events (docs/privacy.md, docs/api.md "Adoption"):
//   - a download is one successful file request (200 or 206) for (ecosystem, name, version);
//     a request for the same file from the same origin within a minute after the previous
//     one (a retry, the next range of the file) is not counted again;
//   - a metadata request is a successful request (200 or 304) for a package's document (npm
//     packument, PyPI project page, a PEP 658 .metadata file): resolution without download;
//   - everything else (errors, refusals, npm audit) is no event.
// An EventStep turns the rows of one processing step into a store::AdoptionUpdate. It is a
// pure function of the rows and of the rows just before them (Seed), so computing a step
// twice gives the same update, and the store applies it once (AdoptionUpdate's cursor).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <tuple>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "pkgtrust/core/ecosystem.hpp"
#include "pkgtrust/store/adoption_records.hpp"

namespace pkgtrust::adoption {

// How long after a request of a file the same origin's next request of it is not counted.
inline constexpr core::Millis kRetryWindowMs = 60'000;

struct RequestEvent {
  enum class Kind { kNone, kDownload, kMetadata };
  Kind kind = Kind::kNone;
  core::PackageKey key;
  std::string version;  // kDownload
};

// `path` is below the gateway's prefix for `ecosystem` ("npm" or "pypi"), as the log has it.
RequestEvent ClassifyRequest(std::string_view ecosystem, std::string_view method, int status,
                             std::string_view path);

// A PyPI file name to (project, version): wheels ("name-1.0-py3-none-any.whl") and sdists
// ("name-1.0.tar.gz", ".zip", ".tar.bz2"); an error for anything else.
core::Result<std::pair<core::PackageKey, std::string>> PypiFileVersion(std::string_view filename);

// The major version: the leading number ("1.2.3" -> "1", "v2" -> "2", "0.4.1" -> "0");
// empty when the version does not start with one.
std::string MajorOf(std::string_view version);

class EventStep {
 public:
  // Rows just before the step (id <= its first row's, time within kRetryWindowMs of it):
  // they are not counted, only remembered as previous requests.
  void Seed(const std::vector<store::RequestLogRow>& rows);
  void Add(const store::RequestLogRow& row);
  store::AdoptionUpdate Take(std::int64_t from_cursor, std::int64_t to_cursor);

  std::int64_t downloads = 0, repeats = 0, metadata = 0, ignored = 0;

 private:
  // What a path is, classified once per step (a popular file is asked for many times).
  struct Target {
    RequestEvent event;
    std::int64_t package_subject = 0, version_subject = 0;
    std::int64_t file = 0;  // the path's hash: the file a retry asks for again
  };
  const Target& Classify(const store::RequestLogRow& row);
  // Whether the origin's previous request of the file (in log order) came less than a minute before.
  bool SeenWithinWindow(std::int64_t file, std::int64_t origin, core::Millis at);

  struct PairHash {
    std::size_t operator()(const std::pair<std::int64_t, std::int64_t>& p) const {
      return std::hash<std::uint64_t>()(static_cast<std::uint64_t>(p.first) ^
                                        (static_cast<std::uint64_t>(p.second) * 0x9E3779B97F4A7C15ull));
    }
  };
  struct TripleHash {
    std::size_t operator()(const std::tuple<std::int64_t, std::int64_t, std::int64_t>& t) const {
      return std::hash<std::uint64_t>()(static_cast<std::uint64_t>(std::get<0>(t)) ^
                                        (static_cast<std::uint64_t>(std::get<1>(t)) * 0x9E3779B97F4A7C15ull) ^
                                        (static_cast<std::uint64_t>(std::get<2>(t)) * 0xC2B2AE3D27D4EB4Full));
    }
  };
  std::unordered_map<std::uint64_t, Target> targets_;  // hash of ecosystem, method, status, path
  std::unordered_map<std::pair<std::int64_t, std::int64_t>, core::Millis, PairHash>
      recent_;  // (file, origin) -> the time of its last request
  std::unordered_map<std::pair<std::int64_t, std::int64_t>, store::AdoptionCount, PairHash>
      counts_;  // (subject, day)
  std::unordered_set<std::tuple<std::int64_t, std::int64_t, std::int64_t>, TripleHash>
      origins_;  // (subject, day, origin)
  std::unordered_map<std::int64_t, std::pair<core::PackageKey, core::Millis>> seen_;  // package subject
};

}  // namespace pkgtrust::adoption
