// The package report (docs/api.md, `GET /v1/packages/{ecosystem}/{name}`): identity, status,
// score, flags, package, repository and provenance facts, timestamps, from the stored row and facts.
// Pure: the caller reads the store (PackageLookup does, for every front end).
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "pkgtrust/store/store.hpp"

namespace pkgtrust::pipeline {

// The report of a package that has a score fact; an error when it has none or a stored
// fact is unreadable. With a `version`, the report also answers for that version
// ("version": VersionSection).
core::Result<nlohmann::json> BuildReport(const store::PackageRecord& record,
                                         const std::vector<store::Fact>& facts,
                                         std::string_view version = {});

// What a user asking for one version needs: whether the registry has it, when it was
// published, yanked, deprecated, its install scripts, the advisories in force that name it
// (evaluated on the advisory's versions and ranges, so removed versions are judged too),
// and its score: the package's, 0 when the version is malicious, at most 3 when deprecated.
nlohmann::json VersionSection(const core::PackageKey& key, const std::vector<store::Fact>& facts,
                              std::string_view version);

// The body of GET /v1/packages/{ecosystem}/{name}:versions: the newest `limit` versions,
// newest first, each with its publish time, yanked, deprecated, attested, malicious (the
// advisories naming it) and the repository tag that matches it (historical provenance, as
// the score's provenance component judges it: the tag's name and date, the days between
// the tag and the publish, and `tag_match`: "near" within scoring::kTagWindowDays, "far",
// "none" when no tag names the version, "no_tags" when the repository's facts list none,
// "no_repository"). NotFound when the package has no registry facts.
core::Result<nlohmann::json> BuildVersionTimeline(const core::PackageKey& key,
                                                  const std::vector<store::Fact>& facts, std::size_t limit);

// The "score" and "flags" of a stored score fact (a search result's); null when unreadable.
nlohmann::json ScoreSummary(std::string_view score_fact);

// What a request for a package still in flight (or failed) is told, with a 202.
nlohmann::json PendingBody(const store::PackageRecord& record, int retry_after_seconds);

// `text` with every http(s) URL replaced by "<upstream>": errors shown to clients name what
// failed, not the internal addresses of the upstreams.
std::string RedactUrls(std::string_view text);

// "pkg:npm/left-pad" for a key.
std::string PurlOf(const core::PackageKey& key);

}  // namespace pkgtrust::pipeline
