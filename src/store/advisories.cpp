// Malicious-package advisories (OSV records): imported in one transaction, read per package.
#include <algorithm>

#include "advisory_import.hpp"
#include "sqlite_store.hpp"

namespace pkgtrust::store {

Result<AdvisoryImport> SqliteStore::ImportAdvisoriesSync(std::vector<Advisory> advisories) {
  SortAdvisoriesById(advisories);
  return WaitFor<AdvisoryImport>([&](auto done) {
    impl_->SubmitOp<AdvisoryImport>(
        [list = std::move(advisories)](Connection& c, Millis) -> Result<AdvisoryImport> {
          auto stored = c.Prepare("SELECT ecosystem, name, modified FROM advisories WHERE id = ?");
          auto remove = c.Prepare("DELETE FROM advisories WHERE id = ?");
          auto insert = c.Prepare(
              "INSERT OR REPLACE INTO advisories (ecosystem, name, id, summary, versions, modified, ranges, "
              "withdrawn, published) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)");
          for (auto* stmt : {&stored, &remove, &insert})
            if (!stmt->ok()) return stmt->status();
          return ImportAdvisoryRecords(
              list,
              [&](const std::string& id) -> Result<StoredAdvisoryRecord> {
                StoredAdvisoryRecord record;
                (*stored)->Reset().Bind(id);
                Status status;
                while ((*stored)->Step(&status)) {
                  if (auto eco = core::ParseEcosystem((*stored)->TextView(0)))
                    record.packages.push_back({*eco, (*stored)->Text(1)});
                  record.modified = std::max(record.modified, (*stored)->Text(2));
                }
                if (!status.ok()) return status;
                return record;
              },
              [&](const std::string& id) { return (*remove)->Reset().Bind(id).Run(); },
              [&](const Advisory& a) {
                (*insert)->Reset().Bind(EcoText(a.key)).Bind(a.key.name).Bind(a.id).Bind(a.summary);
                (*insert)
                    ->Bind(a.versions)
                    .Bind(a.modified)
                    .Bind(a.ranges)
                    .Bind(a.withdrawn)
                    .Bind(a.published);
                return (*insert)->Run();
              });
        },
        std::move(done));
  });
}

Result<std::vector<Advisory>> SqliteStore::FindAdvisories(const core::PackageKey& key) {
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
