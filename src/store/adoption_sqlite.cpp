// Adoption on the SQLite store: the request log, the aggregates and the exposure alerts
// (adoption_records.hpp). Writes go through the writer like every other write, so a
// processing step (aggregates and cursor) commits whole or not at all.
#include <fmt/format.h>

#include <unordered_map>
#include <utility>

#include "sqlite_store.hpp"

namespace pkgtrust::store {

namespace {

constexpr std::size_t kLogRowsPerInsert = 32;
constexpr const char* kInsertLog =
    "INSERT INTO request_log (at, ecosystem, method, path, status, bytes, duration_us, origin, tool, "
    "tool_version, "
    "runtime, os, ci, source) VALUES ";
constexpr const char* kLogValues = "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";

struct PairHash {
  std::size_t operator()(const std::pair<std::int64_t, std::int64_t>& p) const {
    return std::hash<std::uint64_t>()(static_cast<std::uint64_t>(p.first) * 31 +
                                      static_cast<std::uint64_t>(p.second));
  }
};

RequestLogRow ReadLogRow(const Statement& row) {
  RequestLogRow r;
  r.id = row.Int(0);
  r.at = row.Int(1);
  r.ecosystem = row.Text(2);
  r.method = row.Text(3);
  r.path = row.Text(4);
  r.status = static_cast<int>(row.Int(5));
  r.bytes = row.Int(6);
  r.duration_us = row.Int(7);
  r.origin = row.Int(8);
  r.tool = row.Text(9);
  r.tool_version = row.Text(10);
  r.runtime = row.Text(11);
  r.os = row.Text(12);
  r.ci = row.Int(13) != 0;
  r.source = row.Text(14);
  return r;
}

#define LOG_COLUMNS                                                                                        \
  "id, at, ecosystem, method, path, status, bytes, duration_us, origin, tool, tool_version, runtime, os, " \
  "ci, source"

ExposureAlert ReadAlert(const Statement& row) {
  ExposureAlert a;
  a.id = row.Int(0);
  a.key = {core::ParseEcosystem(row.TextView(1)).value_or(core::Ecosystem::kNpm), row.Text(2)};
  a.reason = row.Text(3);
  a.detail = row.Text(4);
  a.versions_json = row.Text(5);
  a.downloads = row.Int(6);
  a.origins = row.Int(7);
  a.last_download_at = row.Int(8);
  a.exposure_days = row.Int(9);
  a.created_at = row.Int(10);
  a.resolved_at = row.IsNull(11) ? 0 : row.Int(11);
  a.change_offset = row.Int(12);
  return a;
}

#define ALERT_COLUMNS                                                                                    \
  "id, ecosystem, name, reason, detail, versions, downloads, origins, last_download_at, exposure_days, " \
  "created_at, resolved_at, change_offset"

}  // namespace

Status SqliteStore::AppendRequestLogSync(std::vector<RequestLogRow> rows) {
  auto done = WaitFor<bool>([&](auto callback) {
    impl_->SubmitOp<bool>(
        [rows = std::move(rows)](Connection& c, Millis) -> Result<bool> {
          // kLogRowsPerInsert rows to a statement: one VDBE program run for many rows.
          static const std::string kManyRows = [] {
            std::string sql = std::string(kInsertLog) + kLogValues;
            for (std::size_t i = 1; i < kLogRowsPerInsert; ++i) sql += std::string(", ") + kLogValues;
            return sql;
          }();
          static const std::string kOneRow = std::string(kInsertLog) + kLogValues;
          std::size_t i = 0;
          while (i < rows.size()) {
            bool many = rows.size() - i >= kLogRowsPerInsert;
            auto stmt = c.Prepare(many ? kManyRows.c_str() : kOneRow.c_str());
            if (!stmt.ok()) return stmt.status();
            for (std::size_t n = many ? kLogRowsPerInsert : 1; n > 0; --n, ++i) {
              const RequestLogRow& r = rows[i];
              (*stmt)
                  ->Bind(r.at)
                  .Bind(r.ecosystem)
                  .Bind(r.method)
                  .Bind(r.path)
                  .Bind(r.status)
                  .Bind(r.bytes)
                  .Bind(r.duration_us)
                  .Bind(r.origin)
                  .Bind(r.tool)
                  .Bind(r.tool_version)
                  .Bind(r.runtime)
                  .Bind(r.os)
                  .Bind(r.ci ? 1 : 0)
                  .Bind(r.source);
            }
            if (Status s = (*stmt)->Run(); !s.ok()) return s;
          }
          return true;
        },
        std::move(callback));
  });
  return done.ok() ? Status::Ok() : done.status();
}

Result<std::vector<RequestLogRow>> SqliteStore::ReadRequestLog(std::int64_t after_id, std::size_t limit,
                                                               bool full) {
  Impl::Lease lease(*impl_);
  auto stmt =
      full ? (*lease).Prepare("SELECT " LOG_COLUMNS " FROM request_log WHERE id > ? ORDER BY id LIMIT ?")
           : (*lease).Prepare(
                 "SELECT id, at, ecosystem, method, path, status, origin FROM request_log WHERE id > ? "
                 "ORDER BY id LIMIT ?");
  if (!stmt.ok()) return stmt.status();
  (*stmt)->Bind(after_id).Bind(static_cast<std::int64_t>(limit));
  std::vector<RequestLogRow> out;
  out.reserve(std::min<std::size_t>(limit, 100'000));
  Status status;
  while ((*stmt)->Step(&status)) {
    if (full) {
      out.push_back(ReadLogRow(**stmt));
      continue;
    }
    const Statement& row = **stmt;
    RequestLogRow& r = out.emplace_back();
    r.id = row.Int(0);
    r.at = row.Int(1);
    r.ecosystem = row.TextView(2);
    r.method = row.TextView(3);
    r.path = row.TextView(4);
    r.status = static_cast<int>(row.Int(5));
    r.origin = row.Int(6);
  }
  if (!status.ok()) return status;
  return out;
}

Result<std::vector<RequestLogRow>> SqliteStore::ReadRequestLogBefore(std::int64_t up_to_id, Millis since,
                                                                     Millis until) {
  Impl::Lease lease(*impl_);
  auto stmt = (*lease).Prepare(
      "SELECT " LOG_COLUMNS
      " FROM request_log INDEXED BY request_log_by_time WHERE at BETWEEN ? AND ? AND id <= ? "
      "ORDER BY id");
  if (!stmt.ok()) return stmt.status();
  (*stmt)->Bind(since).Bind(until).Bind(up_to_id);
  std::vector<RequestLogRow> out;
  Status status;
  while ((*stmt)->Step(&status)) out.push_back(ReadLogRow(**stmt));
  if (!status.ok()) return status;
  return out;
}

Result<AdoptionCursors> SqliteStore::GetAdoptionCursors() {
  Impl::Lease lease(*impl_);
  auto stmt = (*lease).Prepare("SELECT log, alerts FROM adoption_cursors");
  if (!stmt.ok()) return stmt.status();
  Status status;
  if (!(*stmt)->Step(&status)) return status.ok() ? Status::Internal("adoption cursors: no row") : status;
  AdoptionCursors cursors{(*stmt)->Int(0), (*stmt)->Int(1)};
  (*stmt)->Finish();
  return cursors;
}

Result<AdoptionApplied> SqliteStore::ApplyAdoptionSync(AdoptionUpdate update) {
  return WaitFor<AdoptionApplied>([&](auto done) {
    impl_->SubmitOp<AdoptionApplied>(
        [u = std::move(update)](Connection& c, Millis) -> Result<AdoptionApplied> {
          AdoptionApplied applied;
          // The cursor moves only from where this step started: a step computed from rows
          // that another step already counted writes nothing.
          auto cursor = c.Prepare("UPDATE adoption_cursors SET log = ? WHERE log = ?");
          if (!cursor.ok()) return cursor.status();
          (*cursor)->Bind(u.to_cursor).Bind(u.from_cursor);
          if (Status s = (*cursor)->Run(); !s.ok()) return s;
          if (sqlite3_changes(c.raw()) == 0) return applied;
          applied.applied = true;
          for (const auto& [key, at] : u.seen) {
            auto seen = c.Prepare(
                "INSERT INTO adoption_packages (ecosystem, name, first_seen_at) VALUES (?, ?, ?) "
                "ON CONFLICT DO UPDATE SET first_seen_at = MIN(first_seen_at, excluded.first_seen_at)");
            if (!seen.ok()) return seen.status();
            auto exists = c.Prepare("SELECT 1 FROM adoption_packages WHERE ecosystem = ? AND name = ?");
            if (!exists.ok()) return exists.status();
            (*exists)->Bind(EcoText(key)).Bind(key.name);
            Status status;
            bool known = (*exists)->Step(&status);
            (*exists)->Finish();
            if (!status.ok()) return status;
            (*seen)->Bind(EcoText(key)).Bind(key.name).Bind(at);
            if (Status s = (*seen)->Run(); !s.ok()) return s;
            if (!known) applied.first_seen.push_back(key);
          }
          // Each origin once per (subject, day): a new one adds to that row's origins.
          std::unordered_map<std::pair<std::int64_t, std::int64_t>, std::int64_t, PairHash> new_origins;
          for (const AdoptionOrigin& o : u.origins) {
            auto insert =
                c.Prepare("INSERT OR IGNORE INTO adoption_origins (day, subject, origin) VALUES (?, ?, ?)");
            if (!insert.ok()) return insert.status();
            (*insert)->Bind(o.day).Bind(o.subject).Bind(o.origin);
            if (Status s = (*insert)->Run(); !s.ok()) return s;
            if (sqlite3_changes(c.raw()) > 0) new_origins[{o.subject, o.day}]++;
          }
          for (const AdoptionCount& n : u.counts) {
            auto upsert = c.Prepare(
                "INSERT INTO adoption_daily (ecosystem, name, day, version, downloads, origins, metadata, "
                "last_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO UPDATE SET "
                "downloads = downloads + excluded.downloads, origins = origins + excluded.origins, "
                "metadata = metadata + excluded.metadata, last_at = MAX(last_at, excluded.last_at)");
            if (!upsert.ok()) return upsert.status();
            // A subject's new origins go with its first count of the day (then they are used).
            std::int64_t origins = 0;
            if (auto found = new_origins.find({AdoptionSubject(n.key, n.version), n.day});
                found != new_origins.end())
              origins = std::exchange(found->second, 0);
            (*upsert)
                ->Bind(EcoText(n.key))
                .Bind(n.key.name)
                .Bind(n.day)
                .Bind(n.version)
                .Bind(n.downloads)
                .Bind(origins)
                .Bind(n.metadata)
                .Bind(n.last_at);
            if (Status s = (*upsert)->Run(); !s.ok()) return s;
          }
          return applied;
        },
        std::move(done));
  });
}

Status SqliteStore::SetAlertCursorSync(std::int64_t offset) {
  auto done = WaitFor<bool>([&](auto callback) {
    impl_->SubmitOp<bool>(
        [offset](Connection& c, Millis) -> Result<bool> {
          auto stmt = c.Prepare("UPDATE adoption_cursors SET alerts = MAX(alerts, ?)");
          if (!stmt.ok()) return stmt.status();
          (*stmt)->Bind(offset);
          if (Status s = (*stmt)->Run(); !s.ok()) return s;
          return true;
        },
        std::move(callback), Impl::Writes::kOne);
  });
  return done.ok() ? Status::Ok() : done.status();
}

Result<PackageAdoption> SqliteStore::ReadAdoption(const core::PackageKey& key, std::int64_t from_day,
                                                  std::int64_t to_day) {
  Impl::Lease lease(*impl_);
  PackageAdoption out;
  out.key = key;
  auto first =
      (*lease).Prepare("SELECT first_seen_at FROM adoption_packages WHERE ecosystem = ? AND name = ?");
  if (!first.ok()) return first.status();
  (*first)->Bind(EcoText(key)).Bind(key.name);
  Status status;
  if ((*first)->Step(&status)) out.first_seen_at = (*first)->Int(0);
  (*first)->Finish();
  if (!status.ok()) return status;
  auto stmt = (*lease).Prepare(
      "SELECT version, day, downloads, origins, metadata, last_at FROM adoption_daily "
      "WHERE ecosystem = ? AND name = ? AND day BETWEEN ? AND ? ORDER BY day, version");
  if (!stmt.ok()) return stmt.status();
  (*stmt)->Bind(EcoText(key)).Bind(key.name).Bind(from_day).Bind(to_day);
  while ((*stmt)->Step(&status)) {
    const Statement& row = **stmt;
    out.rows.push_back({row.Text(0), row.Int(1), row.Int(2), row.Int(3), row.Int(4), row.Int(5)});
  }
  if (!status.ok()) return status;
  return out;
}

Result<std::vector<AdoptionTopRow>> SqliteStore::ReadAdoptionTop(std::int64_t from_day, std::int64_t to_day,
                                                                 const std::string& ecosystem,
                                                                 std::size_t limit) {
  Impl::Lease lease(*impl_);
  auto stmt = (*lease).Prepare(
      "SELECT ecosystem, name, SUM(downloads) AS d, SUM(origins), SUM(metadata) FROM adoption_daily "
      "WHERE version = '' AND day BETWEEN ? AND ? AND (? = '' OR ecosystem = ?) "
      "GROUP BY ecosystem, name ORDER BY d DESC, ecosystem, name LIMIT ?");
  if (!stmt.ok()) return stmt.status();
  (*stmt)->Bind(from_day).Bind(to_day).Bind(ecosystem).Bind(ecosystem).Bind(static_cast<std::int64_t>(limit));
  std::vector<AdoptionTopRow> out;
  Status status;
  while ((*stmt)->Step(&status)) {
    const Statement& row = **stmt;
    auto eco = core::ParseEcosystem(row.TextView(0));
    if (!eco) continue;
    out.push_back({{*eco, row.Text(1)}, row.Int(2), row.Int(3), row.Int(4)});
  }
  if (!status.ok()) return status;
  return out;
}

Result<ExposureAlert> SqliteStore::RaiseAlertSync(ExposureAlert alert) {
  Impl* impl = impl_.get();
  return WaitFor<ExposureAlert>([&](auto done) {
    impl_->SubmitOp<ExposureAlert>(
        [impl, a = std::move(alert)](Connection& c, Millis now) mutable -> Result<ExposureAlert> {
          if (a.created_at == 0) a.created_at = now;
          // The partial unique index lets one alert per package and reason be open.
          auto insert = c.Prepare(
              "INSERT OR IGNORE INTO adoption_alerts (ecosystem, name, reason, detail, versions, downloads, "
              "origins, last_download_at, exposure_days, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
          if (!insert.ok()) return insert.status();
          (*insert)
              ->Bind(EcoText(a.key))
              .Bind(a.key.name)
              .Bind(a.reason)
              .Bind(a.detail)
              .Bind(a.versions_json)
              .Bind(a.downloads)
              .Bind(a.origins)
              .Bind(a.last_download_at)
              .Bind(a.exposure_days)
              .Bind(a.created_at);
          if (Status s = (*insert)->Run(); !s.ok()) return s;
          if (sqlite3_changes(c.raw()) == 0) {
            a.id = 0;
            return a;
          }
          a.id = sqlite3_last_insert_rowid(c.raw());
          auto offset = impl->AppendAlertChange(c, a.key, AlertJson(a), now);
          if (!offset.ok()) return offset.status();
          a.change_offset = *offset;
          auto mark = c.Prepare("UPDATE adoption_alerts SET change_offset = ? WHERE id = ?");
          if (!mark.ok()) return mark.status();
          (*mark)->Bind(a.change_offset).Bind(a.id);
          if (Status s = (*mark)->Run(); !s.ok()) return s;
          return a;
        },
        std::move(done));
  });
}

Result<std::int64_t> SqliteStore::ResolveAlertsSync(const core::PackageKey& key,
                                                    std::vector<std::string> still_flagged, Millis now) {
  return WaitFor<std::int64_t>([&](auto done) {
    impl_->SubmitOp<std::int64_t>(
        [key, reasons = std::move(still_flagged), now](Connection& c, Millis) -> Result<std::int64_t> {
          auto open = c.Prepare(
              "SELECT id, reason FROM adoption_alerts WHERE ecosystem = ? AND name = ? AND resolved_at IS "
              "NULL");
          if (!open.ok()) return open.status();
          (*open)->Bind(EcoText(key)).Bind(key.name);
          std::vector<std::int64_t> ids;
          Status status;
          while ((*open)->Step(&status))
            if (std::find(reasons.begin(), reasons.end(), (*open)->TextView(1)) == reasons.end())
              ids.push_back((*open)->Int(0));
          if (!status.ok()) return status;
          for (std::int64_t id : ids) {
            auto resolve = c.Prepare("UPDATE adoption_alerts SET resolved_at = ? WHERE id = ?");
            if (!resolve.ok()) return resolve.status();
            (*resolve)->Bind(now).Bind(id);
            if (Status s = (*resolve)->Run(); !s.ok()) return s;
          }
          return static_cast<std::int64_t>(ids.size());
        },
        std::move(done));
  });
}

Result<std::vector<ExposureAlert>> SqliteStore::ListAlerts(bool open_only, std::int64_t before_id,
                                                           std::size_t limit) {
  Impl::Lease lease(*impl_);
  auto stmt = (*lease).Prepare("SELECT " ALERT_COLUMNS
                               " FROM adoption_alerts WHERE (? = 0 OR resolved_at IS NULL) "
                               "AND (? = 0 OR id < ?) ORDER BY id DESC LIMIT ?");
  if (!stmt.ok()) return stmt.status();
  (*stmt)->Bind(open_only ? 1 : 0).Bind(before_id).Bind(before_id).Bind(static_cast<std::int64_t>(limit));
  std::vector<ExposureAlert> out;
  Status status;
  while ((*stmt)->Step(&status)) out.push_back(ReadAlert(**stmt));
  if (!status.ok()) return status;
  return out;
}

Result<std::int64_t> SqliteStore::ExpireAdoptionSync(Millis log_before, std::int64_t origins_before_day) {
  return WaitFor<std::int64_t>([&](auto done) {
    impl_->SubmitOp<std::int64_t>(
        [log_before, origins_before_day](Connection& c, Millis) -> Result<std::int64_t> {
          // Only rows already processed: an unprocessed row is counted first, however old.
          auto log =
              c.Prepare("DELETE FROM request_log WHERE at < ? AND id <= (SELECT log FROM adoption_cursors)");
          if (!log.ok()) return log.status();
          (*log)->Bind(log_before);
          if (Status s = (*log)->Run(); !s.ok()) return s;
          std::int64_t deleted = sqlite3_changes(c.raw());
          auto origins = c.Prepare("DELETE FROM adoption_origins WHERE day < ?");
          if (!origins.ok()) return origins.status();
          (*origins)->Bind(origins_before_day);
          if (Status s = (*origins)->Run(); !s.ok()) return s;
          return deleted;
        },
        std::move(done));
  });
}

Result<std::int64_t> SqliteStore::DeleteAdoptionSync(const core::PackageKey& key) {
  return WaitFor<std::int64_t>([&](auto done) {
    impl_->SubmitOp<std::int64_t>(
        [key](Connection& c, Millis) -> Result<std::int64_t> {
          std::int64_t deleted = 0;
          // The origins are kept by subject: those of the package and of each version it has.
          auto versions =
              c.Prepare("SELECT DISTINCT version FROM adoption_daily WHERE ecosystem = ? AND name = ?");
          if (!versions.ok()) return versions.status();
          (*versions)->Bind(EcoText(key)).Bind(key.name);
          std::vector<std::int64_t> subjects;
          Status status;
          while ((*versions)->Step(&status))
            subjects.push_back(AdoptionSubject(key, (*versions)->TextView(0)));
          if (!status.ok()) return status;
          for (std::int64_t subject : subjects) {
            auto origins = c.Prepare("DELETE FROM adoption_origins WHERE subject = ?");
            if (!origins.ok()) return origins.status();
            (*origins)->Bind(subject);
            if (Status s = (*origins)->Run(); !s.ok()) return s;
            deleted += sqlite3_changes(c.raw());
          }
          for (const char* sql : {"DELETE FROM adoption_daily WHERE ecosystem = ? AND name = ?",
                                  "DELETE FROM adoption_alerts WHERE ecosystem = ? AND name = ?",
                                  "DELETE FROM adoption_packages WHERE ecosystem = ? AND name = ?"}) {
            auto stmt = c.Prepare(sql);
            if (!stmt.ok()) return stmt.status();
            (*stmt)->Bind(EcoText(key)).Bind(key.name);
            if (Status s = (*stmt)->Run(); !s.ok()) return s;
            deleted += sqlite3_changes(c.raw());
          }
          return deleted;
        },
        std::move(done));
  });
}

}  // namespace pkgtrust::store
