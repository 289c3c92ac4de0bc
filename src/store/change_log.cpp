// The change log: every finished run and every changed report appends a row in the same
// transaction (AppendChange); subscribers read it by offset, new ones start from the
// compacted state (the packages' last change), and compaction cuts it at one offset.
#include <fmt/format.h>

#include "sqlite_store.hpp"

namespace pkgtrust::store {

// Appends the package's report as it is now to the change log (same transaction).
Status SqliteStore::Impl::AppendChange(Connection& conn, std::int64_t package_id, Millis now) {
  batch_appended_change_ = true;
  auto insert = conn.Prepare(
      "INSERT INTO package_changes (package_id, ecosystem, name, state, generation, score, flags, "
      "committed_at) "
      "SELECT p.id, p.ecosystem, p.name, p.state, p.generation, json_extract(f.data, '$.score'), "
      "json_extract(f.data, '$.flags'), ? FROM packages p LEFT JOIN package_facts f "
      "ON f.package_id = p.id AND f.kind = 'score' AND p.state = 'complete' WHERE p.id = ?");
  if (!insert.ok()) return insert.status();
  (*insert)->Bind(now).Bind(package_id);
  if (Status s = (*insert)->Run(); !s.ok()) return s;
  auto mark = conn.Prepare(
      "UPDATE packages SET (change_offset, report_state, report_generation, score, flags) = "
      "(SELECT id, state, generation, score, flags FROM package_changes WHERE id = last_insert_rowid()) "
      "WHERE id = ?");
  if (!mark.ok()) return mark.status();
  (*mark)->Bind(package_id);
  return (*mark)->Run();
}

// An alert's row carries the package's state as it is (or pending_registry, generation 0, for
// a package the state machine does not hold) and leaves the package's report alone.
Result<std::int64_t> SqliteStore::Impl::AppendAlertChange(Connection& conn, const core::PackageKey& key,
                                                          const std::string& alert_json, Millis now) {
  batch_appended_change_ = true;
  auto insert = conn.Prepare(
      "INSERT INTO package_changes (package_id, ecosystem, name, state, generation, score, flags, "
      "committed_at, alert) "
      "SELECT COALESCE(p.id, 0), ?, ?, COALESCE(p.state, 'pending_registry'), COALESCE(p.generation, 0), "
      "p.score, p.flags, ?, ? FROM (SELECT 1) LEFT JOIN packages p ON p.ecosystem = ? AND p.name = ?");
  if (!insert.ok()) return insert.status();
  (*insert)->Bind(EcoText(key)).Bind(key.name).Bind(now).Bind(alert_json).Bind(EcoText(key)).Bind(key.name);
  if (Status s = (*insert)->Run(); !s.ok()) return s;
  return static_cast<std::int64_t>(sqlite3_last_insert_rowid(conn.raw()));
}

Result<std::vector<PackageChange>> SqliteStore::ReadChanges(std::int64_t after_offset, std::size_t limit) {
  Impl::Lease lease(*impl_);
  auto stmt = (*lease).Prepare(
      "SELECT id, ecosystem, name, state, generation, score, flags, committed_at, alert FROM package_changes "
      "WHERE id > ? ORDER BY id LIMIT ?");
  if (!stmt.ok()) return stmt.status();
  (*stmt)->Bind(after_offset).Bind(static_cast<std::int64_t>(limit));
  std::vector<PackageChange> changes;
  Status status;
  while ((*stmt)->Step(&status)) {
    const Statement& row = **stmt;
    auto eco = core::ParseEcosystem(row.TextView(1));
    auto state = core::ParsePackageState(row.TextView(3));
    if (!eco || !state) return Status::Internal(fmt::format("change {}: unreadable row", row.Int(0)));
    PackageChange change;
    change.offset = row.Int(0);
    change.key = {*eco, std::string(row.TextView(2))};
    change.state = *state;
    change.generation = row.Int(4);
    if (!row.IsNull(5)) change.score = row.Double(5);
    change.flags_json = std::string(row.TextView(6));
    change.committed_at = row.Int(7);
    change.alert_json = std::string(row.TextView(8));
    changes.push_back(std::move(change));
  }
  if (!status.ok()) return status;
  return changes;
}

Result<StatePage> SqliteStore::ReadState(std::int64_t after_id, std::size_t limit) {
  Impl::Lease lease(*impl_);
  auto stmt = (*lease).Prepare(
      "SELECT id, ecosystem, name, report_state, report_generation, score, flags, state_since, change_offset "
      "FROM packages WHERE id > ? AND report_state IS NOT NULL ORDER BY id LIMIT ?");
  if (!stmt.ok()) return stmt.status();
  (*stmt)->Bind(after_id).Bind(static_cast<std::int64_t>(limit));
  StatePage page;
  page.next_after_id = after_id;
  std::size_t rows = 0;
  Status status;
  while ((*stmt)->Step(&status)) {
    const Statement& row = **stmt;
    rows++;
    page.next_after_id = row.Int(0);
    auto eco = core::ParseEcosystem(row.TextView(1));
    auto state = core::ParsePackageState(row.TextView(3));
    if (!eco || !state) continue;  // not a state this build knows: skipped
    PackageChange entry;
    entry.key = {*eco, std::string(row.TextView(2))};
    entry.state = *state;
    entry.generation = row.Int(4);
    if (!row.IsNull(5)) entry.score = row.Double(5);
    entry.flags_json = std::string(row.TextView(6));
    entry.committed_at = row.Int(7);
    entry.offset = row.Int(8);
    page.packages.push_back(std::move(entry));
  }
  if (!status.ok()) return status;
  page.done = rows < limit;
  return page;
}

Result<ChangeLogBounds> SqliteStore::GetChangeLogBounds() {
  Impl::Lease lease(*impl_);
  auto stmt = (*lease).Prepare(
      "SELECT (SELECT MIN(id) FROM package_changes), "
      "COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'package_changes'), 0)");
  if (!stmt.ok()) return stmt.status();
  Status status;
  if (!(*stmt)->Step(&status)) return status.ok() ? Status::Internal("change log bounds: no row") : status;
  ChangeLogBounds bounds;
  bounds.last = (*stmt)->Int(1);
  bounds.first = (*stmt)->IsNull(0) ? bounds.last + 1 : (*stmt)->Int(0);
  (void)(*stmt)->Run();
  return bounds;
}

Result<std::int64_t> SqliteStore::CompactChangesSync(std::int64_t keep_count, Millis keep_since) {
  return WaitFor<std::int64_t>([&](auto done) {
    impl_->SubmitOp<std::int64_t>(
        [keep_count, keep_since](Connection& c, Millis) -> Result<std::int64_t> {
          // The cut is one offset: everything below it goes, so the log stays gap-free.
          auto stmt = c.Prepare(
              "DELETE FROM package_changes WHERE id < MAX("
              "COALESCE((SELECT MAX(id) FROM package_changes), 0) - ? + 1, "
              "COALESCE((SELECT MIN(id) FROM package_changes WHERE committed_at >= ?), "
              "(SELECT COALESCE(MAX(id), 0) + 1 FROM package_changes)))");
          if (!stmt.ok()) return stmt.status();
          (*stmt)->Bind(std::max<std::int64_t>(keep_count, 0)).Bind(keep_since);
          if (Status s = (*stmt)->Run(); !s.ok()) return s;
          return static_cast<std::int64_t>(sqlite3_changes(c.raw()));
        },
        std::move(done));
  });
}

}  // namespace pkgtrust::store
