// The package report of DESIGN.md ("identity, status, score, flags, package facts,
// repository facts, provenance facts, timestamps"), assembled from the stored row and
// facts. Pure: the caller reads the store.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "pkgtrust/store/package_store.hpp"

namespace pkgtrust::api {

// The report of a package that has a score fact; an error when it has none or a stored
// fact is unreadable.
core::Result<nlohmann::json> BuildReport(const store::PackageRecord& record,
                                         const std::vector<store::Fact>& facts);

// What a request for a package still in flight (or failed) is told, with a 202.
nlohmann::json PendingBody(const store::PackageRecord& record, int retry_after_seconds);

// "pkg:npm/left-pad" for a key.
std::string PurlOf(const core::PackageKey& key);

}  // namespace pkgtrust::api
