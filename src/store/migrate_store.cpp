// `pkgtrust migrate-store`: SQLite to PostgreSQL. Each table is read in key order, a chunk
// at a time (keyset paging), and each chunk is written in one pipelined transaction with
// INSERT ... ON CONFLICT DO NOTHING. A run that was interrupted starts each table after the
// last key PostgreSQL already holds, and a row copied twice is written once.
#include "pkgtrust/store/migrate_store.hpp"

#include <fmt/format.h>

#include "migrations.hpp"
#include "postgres.hpp"
#include "postgres_migrations.hpp"
#include "sqlite.hpp"

namespace pkgtrust::store {
namespace {

using core::Result;
using core::Status;

// Writes the rows of one chunk in one transaction, sent in pipeline mode.
Status WriteChunk(PgConnection& pg, const std::string& insert, const std::vector<PgParams>& rows) {
  if (Status s = pg.EnterPipeline(); !s.ok()) return s;
  bool sent = pg.Send("BEGIN", {}).ok();
  for (const PgParams& row : rows)
    if (sent) sent = pg.Send(insert, row).ok();
  sent = sent && pg.Send("COMMIT", {}).ok() && pg.Sync().ok();
  Status error = sent ? Status::Ok() : Status::Unavailable("postgres: " + pg.ErrorMessage());
  for (std::size_t i = 0; sent && i < rows.size() + 2; ++i) {
    auto result = pg.Next();
    if (!result.ok()) {
      error = result.status();
      break;
    }
    if (error.ok() && !result->status().ok()) error = result->status();
  }
  if (sent && !pg.Broken()) (void)pg.DrainToSync();
  (void)pg.ExitPipeline();
  return error;
}

void AddColumn(PgParams& params, const Statement& row, int col) {
  if (row.IsNull(col))
    params.AddNull();
  else if (row.IsFloat(col))  // SQLite's text of a REAL has 15 digits; this one reads back the same
    params.Add(fmt::format("{}", row.Double(col)));
  else
    params.Add(row.TextView(col));
}

Result<std::int64_t> CountSqlite(Connection& db, const char* sql) {
  auto stmt = db.Prepare(sql);
  if (!stmt.ok()) return stmt.status();
  Status status;
  std::int64_t n = (*stmt)->Step(&status) ? (*stmt)->Int(0) : 0;
  if (!status.ok()) return status;
  return n;
}

Result<std::int64_t> CountPostgres(PgConnection& pg, const std::string& table) {
  auto rows = pg.Exec("SELECT COUNT(*) FROM " + table);
  if (!rows.ok()) return rows.status();
  return rows->Int(0, 0);
}

// One table: `select` reads the next chunk after the keyset position that `bind` binds;
// `advance` moves the position to a row; `to_params` makes a row's insert parameters.
struct TableCopy {
  std::string name;
  const char* count_sql;
  const char* select_sql;
  std::string insert_sql;
  int columns;
  std::function<void(Statement&)> bind_position;
  std::function<void(const Statement&)> advance;
};

Status CopyTable(Connection& db, PgConnection& pg, TableCopy& table, std::size_t chunk_rows,
                 const CopyProgress& progress, CopiedTable* out) {
  auto total = CountSqlite(db, table.count_sql);
  if (!total.ok()) return total.status();
  out->name = table.name;
  out->source_rows = *total;
  while (true) {
    auto stmt = db.Prepare(table.select_sql);
    if (!stmt.ok()) return stmt.status();
    table.bind_position(**stmt);
    (*stmt)->Bind(static_cast<std::int64_t>(chunk_rows));
    std::vector<PgParams> rows;
    Status status;
    while ((*stmt)->Step(&status)) {
      PgParams params;
      for (int c = 0; c < table.columns; ++c) AddColumn(params, **stmt, c);
      rows.push_back(std::move(params));
      table.advance(**stmt);
    }
    if (!status.ok()) return status;
    if (rows.empty()) break;
    if (Status s = WriteChunk(pg, table.insert_sql, rows); !s.ok())
      return Status(Status::Unavailable(fmt::format("copying {}: {}", table.name, s.message())));
    out->copied += static_cast<std::int64_t>(rows.size());
    if (progress) progress(table.name, out->copied, out->source_rows);
    if (rows.size() < chunk_rows) break;
  }
  auto target = CountPostgres(pg, table.name);
  if (!target.ok()) return target.status();
  out->target_rows = *target;
  return Status::Ok();
}

}  // namespace

Result<std::vector<CopiedTable>> CopySqliteToPostgres(const std::string& sqlite_path,
                                                      const std::string& postgres_url,
                                                      const CopyProgress& progress, std::size_t chunk_rows) {
  auto db = Connection::Open(sqlite_path, /*create=*/false, 5000, false);
  if (!db.ok()) return db.status();
  if (auto s = ApplyMigrations(**db); !s.ok())
    return Status::FailedPrecondition(fmt::format("database '{}': {}", sqlite_path, s.message()));
  auto pg = PgConnection::Open(postgres_url);
  if (!pg.ok()) return pg.status();
  if (auto s = ApplyPgMigrations(**pg); !s.ok()) return s;
  Connection& src = **db;
  PgConnection& dst = **pg;

  // Where an earlier run stopped: the last key PostgreSQL holds, per table.
  auto last_key = [&](const std::string& sql) -> Result<PgResult> { return dst.Exec(sql); };
  std::int64_t package_after = 0, change_after = 0, fact_package = 0;
  std::string fact_kind, repository_after, advisory_eco, advisory_name, advisory_id;
  {
    auto p = last_key("SELECT COALESCE(MAX(id), 0) FROM packages");
    auto c = last_key("SELECT COALESCE(MAX(change_offset), 0) FROM package_changes");
    auto f =
        last_key("SELECT package_id, kind FROM package_facts ORDER BY package_id DESC, kind DESC LIMIT 1");
    auto r = last_key("SELECT MAX(key COLLATE \"C\") FROM repositories");
    auto a = last_key(
        "SELECT ecosystem, name, id FROM advisories ORDER BY ecosystem DESC, name DESC, id DESC LIMIT 1");
    for (auto* q : {&p, &c, &f, &r, &a})
      if (!q->ok()) return q->status();
    package_after = p->Int(0, 0);
    change_after = c->Int(0, 0);
    if (f->rows() == 1) {
      fact_package = f->Int(0, 0);
      fact_kind = f->Text(0, 1);
    }
    if (r->rows() == 1 && !r->IsNull(0, 0)) repository_after = r->Text(0, 0);
    if (a->rows() == 1) {
      advisory_eco = a->Text(0, 0);
      advisory_name = a->Text(0, 1);
      advisory_id = a->Text(0, 2);
    }
  }

  std::vector<TableCopy> tables;
  tables.push_back({"packages", "SELECT COUNT(*) FROM packages",
                    "SELECT id, ecosystem, name, state, generation, priority, attempts, state_since, "
                    "last_error, next_attempt_at, "
                    "requested_version, created_at, change_offset, report_state, report_generation, score, "
                    "flags FROM packages "
                    "WHERE id > ? ORDER BY id LIMIT ?",
                    "INSERT INTO packages (id, ecosystem, name, state, generation, priority, attempts, "
                    "state_since, last_error, "
                    "next_attempt_at, requested_version, created_at, change_offset, report_state, "
                    "report_generation, score, flags) "
                    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17) ON "
                    "CONFLICT DO NOTHING",
                    17, [&](Statement& s) { s.Bind(package_after); },
                    [&](const Statement& row) { package_after = row.Int(0); }});
  tables.push_back({"package_facts", "SELECT COUNT(*) FROM package_facts",
                    "SELECT package_id, kind, generation, data, updated_at FROM package_facts "
                    "WHERE package_id > ? OR (package_id = ? AND kind > ?) ORDER BY package_id, kind LIMIT ?",
                    "INSERT INTO package_facts (package_id, kind, generation, data, updated_at) VALUES ($1, "
                    "$2, $3, $4, $5) "
                    "ON CONFLICT DO NOTHING",
                    5, [&](Statement& s) { s.Bind(fact_package).Bind(fact_package).Bind(fact_kind); },
                    [&](const Statement& row) {
                      fact_package = row.Int(0);
                      fact_kind = row.Text(1);
                    }});
  tables.push_back({"advisories", "SELECT COUNT(*) FROM advisories",
                    "SELECT ecosystem, name, id, summary, versions, modified, ranges, withdrawn, published "
                    "FROM advisories "
                    "WHERE (ecosystem, name, id) > (?, ?, ?) ORDER BY ecosystem, name, id LIMIT ?",
                    "INSERT INTO advisories (ecosystem, name, id, summary, versions, modified, ranges, "
                    "withdrawn, published) "
                    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING",
                    9, [&](Statement& s) { s.Bind(advisory_eco).Bind(advisory_name).Bind(advisory_id); },
                    [&](const Statement& row) {
                      advisory_eco = row.Text(0);
                      advisory_name = row.Text(1);
                      advisory_id = row.Text(2);
                    }});
  tables.push_back(
      {"repositories", "SELECT COUNT(*) FROM repositories",
       "SELECT key, facts, outcome, read_at FROM repositories WHERE key > ? ORDER BY key LIMIT ?",
       "INSERT INTO repositories (key, facts, outcome, read_at) VALUES ($1, $2, $3, $4) "
       "ON CONFLICT DO NOTHING",
       4, [&](Statement& s) { s.Bind(repository_after); },
       [&](const Statement& row) { repository_after = row.Text(0); }});
  // The change log keeps its offsets (SQLite's row id is the offset).
  tables.push_back(
      {"package_changes", "SELECT COUNT(*) FROM package_changes",
       "SELECT id, package_id, ecosystem, name, state, generation, score, flags, committed_at, "
       "alert FROM package_changes "
       "WHERE id > ? ORDER BY id LIMIT ?",
       "INSERT INTO package_changes (change_offset, package_id, ecosystem, name, state, "
       "generation, score, flags, "
       "committed_at, alert) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT DO NOTHING",
       10, [&](Statement& s) { s.Bind(change_after); },
       [&](const Statement& row) { change_after = row.Int(0); }});

  std::vector<CopiedTable> report;
  for (TableCopy& table : tables) {
    CopiedTable copied;
    if (Status s = CopyTable(src, dst, table, chunk_rows, progress, &copied); !s.ok()) return s;
    report.push_back(copied);
  }

  // New packages get ids after the copied ones; new changes offsets after the log's last
  // (compaction may have emptied the log: SQLite's sequence remembers the last offset).
  auto last_offset = CountSqlite(
      src, "SELECT COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'package_changes'), 0)");
  if (!last_offset.ok()) return last_offset.status();
  PgParams offset;
  offset.Add(*last_offset);
  if (auto r = dst.Exec("SELECT setval(pg_get_serial_sequence('packages', 'id'), "
                        "GREATEST((SELECT MAX(id) FROM packages), 1))");
      !r.ok())
    return r.status();
  if (auto r = dst.Exec("UPDATE change_log_sequence SET last = GREATEST(last, $1::bigint, "
                        "(SELECT COALESCE(MAX(change_offset), 0) FROM package_changes))",
                        offset);
      !r.ok())
    return r.status();

  for (const CopiedTable& table : report)
    if (table.source_rows != table.target_rows)
      return Status::FailedPrecondition(fmt::format(
          "after the copy, {} has {} rows in '{}' and {} in PostgreSQL; was the PostgreSQL database "
          "empty, and the SQLite file not being written?",
          table.name, table.source_rows, sqlite_path, table.target_rows));
  return report;
}

}  // namespace pkgtrust::store
