// Private to the store (src/store/): the rules of an advisory import, the same on every
// store. The rows of one record (id) go together; a stored record is replaced, rows and
// all, only by a copy with a newer `modified` (compared as times when both parse, else as
// text); an equal or older copy changes nothing.
#pragma once

#include <algorithm>
#include <string>
#include <unordered_set>
#include <vector>

#include "pkgtrust/core/time.hpp"
#include "pkgtrust/store/store.hpp"

namespace pkgtrust::store {

// What the store holds of a record: the packages its rows name (empty: not stored) and
// the newest `modified` among them.
struct StoredAdvisoryRecord {
  std::vector<core::PackageKey> packages;
  std::string modified;
};

// Puts the rows of each record together, keeping their order.
inline void SortAdvisoriesById(std::vector<Advisory>& advisories) {
  std::stable_sort(advisories.begin(), advisories.end(),
                   [](const Advisory& a, const Advisory& b) { return a.id < b.id; });
}

// Imports `sorted` (SortAdvisoriesById) with the store's three steps, all in the caller's
// transaction: read(id) -> Result<StoredAdvisoryRecord>, remove(id) -> Status (every row of
// the id), insert(const Advisory&) -> Status (one row, replacing one of the same key).
template <typename Read, typename Remove, typename Insert>
core::Result<AdvisoryImport> ImportAdvisoryRecords(const std::vector<Advisory>& sorted, Read&& read,
                                                   Remove&& remove, Insert&& insert) {
  AdvisoryImport result;
  std::unordered_set<core::PackageKey, core::PackageKeyHash> changed;
  for (std::size_t begin = 0, end = 0; begin < sorted.size(); begin = end) {
    const std::string& id = sorted[begin].id;
    end = begin;
    while (end < sorted.size() && sorted[end].id == id) ++end;
    core::Result<StoredAdvisoryRecord> stored = read(id);
    if (!stored.ok()) return stored.status();
    if (!stored->packages.empty()) {
      auto old_time = core::ParseTimestamp(stored->modified);
      auto new_time = core::ParseTimestamp(sorted[begin].modified);
      bool newer = old_time && new_time ? *new_time > *old_time : sorted[begin].modified > stored->modified;
      if (!newer) {
        result.records_unchanged++;
        continue;
      }
      if (core::Status s = remove(id); !s.ok()) return s;
      for (const core::PackageKey& key : stored->packages) changed.insert(key);
      result.records_updated++;
    } else {
      result.records_new++;
    }
    for (std::size_t i = begin; i < end; ++i) {
      if (core::Status s = insert(sorted[i]); !s.ok()) return s;
      changed.insert(sorted[i].key);
    }
  }
  result.changed_packages.assign(changed.begin(), changed.end());
  std::sort(result.changed_packages.begin(), result.changed_packages.end(),
            [](const core::PackageKey& a, const core::PackageKey& b) { return a.ToString() < b.ToString(); });
  return result;
}

}  // namespace pkgtrust::store
