// Malicious-package advisories (OSV records): imported in one transaction, read per package.
#include <algorithm>
#include <unordered_set>

#include "pkgtrust/core/time.hpp"
#include "store_impl.hpp"

namespace pkgtrust::store {

Result<AdvisoryImport> PackageStore::ImportAdvisoriesSync(std::vector<Advisory> advisories) {
  // The rows of one record (id) together, in the order given.
  std::stable_sort(advisories.begin(), advisories.end(),
                   [](const Advisory& a, const Advisory& b) { return a.id < b.id; });
  return Wait<AdvisoryImport>([&](auto done) {
    impl_->SubmitOp<AdvisoryImport>(
        [list = std::move(advisories)](Connection& c, Millis) -> Result<AdvisoryImport> {
          auto stored = c.Prepare("SELECT ecosystem, name, modified FROM advisories WHERE id = ?");
          auto remove = c.Prepare("DELETE FROM advisories WHERE id = ?");
          auto insert = c.Prepare(
              "INSERT OR REPLACE INTO advisories (ecosystem, name, id, summary, versions, modified, ranges, "
              "withdrawn, published) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)");
          for (auto* stmt : {&stored, &remove, &insert})
            if (!stmt->ok()) return stmt->status();
          AdvisoryImport result;
          std::unordered_set<core::PackageKey, core::PackageKeyHash> changed;
          for (std::size_t begin = 0, end = 0; begin < list.size(); begin = end) {
            const std::string& id = list[begin].id;
            end = begin;
            while (end < list.size() && list[end].id == id) ++end;
            // The stored copy: its packages, and its modified time.
            std::vector<core::PackageKey> before;
            std::string stored_modified;
            (*stored)->Reset().Bind(id);
            Status status;
            while ((*stored)->Step(&status)) {
              if (auto eco = core::ParseEcosystem((*stored)->TextView(0)))
                before.push_back({*eco, (*stored)->Text(1)});
              stored_modified = std::max(stored_modified, (*stored)->Text(2));
            }
            if (!status.ok()) return status;
            if (!before.empty()) {
              auto old_time = core::ParseTimestamp(stored_modified);
              auto new_time = core::ParseTimestamp(list[begin].modified);
              bool newer =
                  old_time && new_time ? *new_time > *old_time : list[begin].modified > stored_modified;
              if (!newer) {
                result.records_unchanged++;
                continue;
              }
              if (Status s = (*remove)->Reset().Bind(id).Run(); !s.ok()) return s;
              for (const core::PackageKey& key : before) changed.insert(key);
              result.records_updated++;
            } else {
              result.records_new++;
            }
            for (std::size_t i = begin; i < end; ++i) {
              const Advisory& a = list[i];
              (*insert)
                  ->Reset()
                  .Bind(EcoText(a.key))
                  .Bind(a.key.name)
                  .Bind(a.id)
                  .Bind(a.summary)
                  .Bind(a.versions)
                  .Bind(a.modified)
                  .Bind(a.ranges)
                  .Bind(a.withdrawn)
                  .Bind(a.published);
              if (auto s = (*insert)->Run(); !s.ok()) return s;
              changed.insert(a.key);
            }
          }
          result.changed_packages.assign(changed.begin(), changed.end());
          std::sort(result.changed_packages.begin(), result.changed_packages.end(),
                    [](const core::PackageKey& a, const core::PackageKey& b) {
                      return a.ToString() < b.ToString();
                    });
          return result;
        },
        std::move(done));
  });
}

Result<std::vector<Advisory>> PackageStore::FindAdvisories(const core::PackageKey& key) {
  Impl::Lease lease(*impl_);
  auto stmt = (*lease).Prepare(
      "SELECT id, summary, versions, modified, ranges, withdrawn, published FROM advisories "
      "WHERE ecosystem = ? AND name = ? ORDER BY id");
  if (!stmt.ok()) return stmt.status();
  (*stmt)->Bind(EcoText(key)).Bind(key.name);
  std::vector<Advisory> out;
  Status status;
  while ((*stmt)->Step(&status)) {
    const Statement& row = **stmt;
    out.push_back(
        {key, row.Text(0), row.Text(1), row.Text(2), row.Text(3), row.Text(4), row.Text(5), row.Text(6)});
  }
  if (!status.ok()) return status;
  return out;
}

}  // namespace pkgtrust::store
