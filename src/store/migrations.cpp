#include "migrations.hpp"

#include <fmt/format.h>

namespace pkgtrust::store {
namespace {

struct Migration {
  int version;
  const char* description;
  const char* sql;
};

// Times are milliseconds since the Unix epoch. `state_since` is when the row entered its
// current state (for complete rows: when the run finished), which is what the reconciler
// compares with its "stuck after" and "refresh after" limits.
constexpr Migration kMigrations[] = {
    {1, "packages state machine and facts", R"sql(
CREATE TABLE packages (
  id                INTEGER PRIMARY KEY,
  ecosystem         TEXT    NOT NULL,
  name              TEXT    NOT NULL,
  state             TEXT    NOT NULL,
  generation        INTEGER NOT NULL,
  priority          INTEGER NOT NULL,
  attempts          INTEGER NOT NULL DEFAULT 0,
  state_since       INTEGER NOT NULL,
  last_error        TEXT,
  next_attempt_at   INTEGER,
  requested_version TEXT,
  created_at        INTEGER NOT NULL,
  UNIQUE (ecosystem, name)
);
CREATE INDEX packages_by_state ON packages (state, state_since);
CREATE TABLE package_facts (
  package_id INTEGER NOT NULL REFERENCES packages (id),
  kind       TEXT    NOT NULL,
  generation INTEGER NOT NULL,
  data       TEXT    NOT NULL,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (package_id, kind)
) WITHOUT ROWID;
)sql"},
    {2, "advisories of malicious packages (OSV)", R"sql(
CREATE TABLE advisories (
  ecosystem TEXT NOT NULL,
  name      TEXT NOT NULL,
  id        TEXT NOT NULL,
  summary   TEXT NOT NULL,
  versions  TEXT NOT NULL,
  modified  TEXT NOT NULL,
  PRIMARY KEY (ecosystem, name, id)
) WITHOUT ROWID;
)sql"},
    // Facts are kilobytes of JSON: in a WITHOUT ROWID table every row past ~1 KB spills into
    // an overflow page of its own, which doubled the file. A rowid table keeps rows up to
    // ~4 KB in its leaves.
    {3, "package facts in a rowid table", R"sql(
CREATE TABLE package_facts_v3 (
  id         INTEGER PRIMARY KEY,
  package_id INTEGER NOT NULL REFERENCES packages (id),
  kind       TEXT    NOT NULL,
  generation INTEGER NOT NULL,
  data       TEXT    NOT NULL,
  updated_at INTEGER NOT NULL,
  UNIQUE (package_id, kind)
);
INSERT INTO package_facts_v3 (package_id, kind, generation, data, updated_at)
  SELECT package_id, kind, generation, data, updated_at FROM package_facts;
DROP TABLE package_facts;
ALTER TABLE package_facts_v3 RENAME TO package_facts;
)sql"},
    // The change stream's log: one row per committed change of a package's report (state to
    // complete or not_found, a new score), in the transaction of the change itself. The
    // offset is the row id; AUTOINCREMENT never hands out an offset twice, even after the
    // log is compacted down to nothing. packages.change_offset, report_state,
    // report_generation, score and flags are the package's last change, kept while a new
    // run is in flight, so the compacted state (what a new subscriber receives first) is
    // read from one table.
    {4, "change log", R"sql(
ALTER TABLE packages ADD COLUMN change_offset INTEGER NOT NULL DEFAULT 0;
ALTER TABLE packages ADD COLUMN report_state TEXT;
ALTER TABLE packages ADD COLUMN report_generation INTEGER;
ALTER TABLE packages ADD COLUMN score REAL;
ALTER TABLE packages ADD COLUMN flags TEXT;
UPDATE packages SET report_state = state, report_generation = generation WHERE state IN ('complete', 'not_found');
UPDATE packages SET
  score = (SELECT json_extract(data, '$.score') FROM package_facts WHERE package_id = packages.id AND kind = 'score'),
  flags = (SELECT json_extract(data, '$.flags') FROM package_facts WHERE package_id = packages.id AND kind = 'score')
  WHERE state = 'complete';
CREATE TABLE package_changes (
  id           INTEGER PRIMARY KEY AUTOINCREMENT,
  package_id   INTEGER NOT NULL,
  ecosystem    TEXT    NOT NULL,
  name         TEXT    NOT NULL,
  state        TEXT    NOT NULL,
  generation   INTEGER NOT NULL,
  score        REAL,
  flags        TEXT,
  committed_at INTEGER NOT NULL
);
CREATE INDEX package_changes_by_time ON package_changes (committed_at);
)sql"},
    // OSV records keep their ranges and whether (and when) they were withdrawn; a record is
    // found by its id to replace all of its rows with a newer copy.
    {5, "advisories: ranges, withdrawn, published", R"sql(
ALTER TABLE advisories ADD COLUMN ranges TEXT NOT NULL DEFAULT '[]';
ALTER TABLE advisories ADD COLUMN withdrawn TEXT NOT NULL DEFAULT '';
ALTER TABLE advisories ADD COLUMN published TEXT NOT NULL DEFAULT '';
CREATE INDEX advisories_by_id ON advisories (id);
)sql"},
    // Repository facts are read once per repository and shared by every package that
    // declares it (a monorepo's hundred packages cost one read). `key` is
    // "host/owner/name" in lower case (GitHub's names are case-insensitive); `facts` is the
    // repository's JSON without any package's manifest; `outcome` is found, not_found or
    // unavailable; `read_at` decides freshness (github.repository_ttl_hours).
    {6, "repositories shared by packages", R"sql(
CREATE TABLE repositories (
  key     TEXT PRIMARY KEY,
  facts   TEXT NOT NULL,
  outcome TEXT NOT NULL,
  read_at INTEGER NOT NULL
);
)sql"},
    // One read of a repository at a time across the processes that share this database: a
    // process claims the read (owner, until) before asking GitHub and lets go when the facts
    // are stored; the others postpone their packages until the facts are there or the claim
    // has expired (a process that died while reading holds nobody for long).
    {7, "repository reads claimed across processes", R"sql(
CREATE TABLE repository_reads (
  key   TEXT PRIMARY KEY,
  owner TEXT NOT NULL,
  until INTEGER NOT NULL
);
)sql"},  // Adoption (src/adoption/, docs/privacy.md): the gateway's request log (an origin key,
    // never an address), its processing cursor, the aggregates that outlive the log, the
    // origins counted per day, and the exposure alerts, which also travel on the change log
    // (package_changes.alert: the alert's JSON; such a row is not a report).
    {8, "adoption: request log, aggregates, alerts", R"sql(
ALTER TABLE package_changes ADD COLUMN alert TEXT;
CREATE TABLE request_log (
  id          INTEGER PRIMARY KEY AUTOINCREMENT,
  at          INTEGER NOT NULL,
  ecosystem   TEXT NOT NULL,
  method      TEXT NOT NULL,
  path        TEXT NOT NULL,
  status      INTEGER NOT NULL,
  bytes       INTEGER NOT NULL,
  duration_us INTEGER NOT NULL,
  origin      INTEGER NOT NULL,
  tool        TEXT NOT NULL,
  tool_version TEXT NOT NULL,
  runtime     TEXT NOT NULL,
  os          TEXT NOT NULL,
  ci          INTEGER NOT NULL,
  source      TEXT NOT NULL
);
CREATE INDEX request_log_by_time ON request_log (at);
CREATE TABLE adoption_cursors (
  only_row BOOLEAN PRIMARY KEY DEFAULT true CHECK (only_row),
  log      INTEGER NOT NULL,
  alerts   INTEGER NOT NULL
);
INSERT INTO adoption_cursors (only_row, log, alerts) VALUES (true, 0, 0);
CREATE TABLE adoption_packages (
  ecosystem     TEXT NOT NULL,
  name          TEXT NOT NULL,
  first_seen_at INTEGER NOT NULL,
  PRIMARY KEY (ecosystem, name)
);
CREATE TABLE adoption_daily (
  ecosystem TEXT NOT NULL,
  name      TEXT NOT NULL,
  day       INTEGER NOT NULL,
  version   TEXT NOT NULL,
  downloads INTEGER NOT NULL DEFAULT 0,
  origins   INTEGER NOT NULL DEFAULT 0,
  metadata  INTEGER NOT NULL DEFAULT 0,
  last_at   INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (ecosystem, name, day, version)
) WITHOUT ROWID;
CREATE INDEX adoption_daily_by_day ON adoption_daily (day) WHERE version = '';
CREATE TABLE adoption_origins (
  day     INTEGER NOT NULL,
  subject INTEGER NOT NULL,
  origin  INTEGER NOT NULL,
  PRIMARY KEY (day, subject, origin)
) WITHOUT ROWID;
CREATE TABLE adoption_alerts (
  id               INTEGER PRIMARY KEY AUTOINCREMENT,
  ecosystem        TEXT NOT NULL,
  name             TEXT NOT NULL,
  reason           TEXT NOT NULL,
  detail           TEXT NOT NULL,
  versions         TEXT NOT NULL,
  downloads        INTEGER NOT NULL,
  origins          INTEGER NOT NULL,
  last_download_at INTEGER NOT NULL,
  exposure_days    INTEGER NOT NULL,
  created_at       INTEGER NOT NULL,
  resolved_at      INTEGER,
  change_offset    INTEGER NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX adoption_alerts_open ON adoption_alerts (ecosystem, name, reason) WHERE resolved_at IS NULL;
)sql"},
};

}  // namespace

int CurrentSchemaVersion(Connection& conn) {
  auto stmt = conn.Prepare("SELECT COALESCE(MAX(version), 0) FROM schema_migrations");
  if (!stmt.ok()) return 0;
  core::Status status;
  return (*stmt)->Step(&status) ? static_cast<int>((*stmt)->Int(0)) : 0;
}

core::Status ApplyMigrations(Connection& conn) {
  if (auto s =
          conn.Exec("CREATE TABLE IF NOT EXISTS schema_migrations ("
                    " version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied_at TEXT NOT NULL)");
      !s.ok())
    return s;
  for (const Migration& m : kMigrations) {
    // Read the version under the write lock: another process may be migrating the same file.
    if (auto s = conn.Exec("BEGIN IMMEDIATE"); !s.ok()) return s;
    int current = CurrentSchemaVersion(conn);
    if (current > kLatestSchemaVersion) {
      (void)conn.Exec("ROLLBACK");
      return core::Status::FailedPrecondition(
          fmt::format("database schema version {} is newer than this pkgtrust knows ({}); upgrade pkgtrust",
                      current, kLatestSchemaVersion));
    }
    if (m.version <= current) {
      if (auto c = conn.Exec("COMMIT"); !c.ok()) return c;
      continue;
    }
    core::Status s = conn.Exec(m.sql);
    if (s.ok())
      s = conn.Exec(fmt::format("INSERT INTO schema_migrations VALUES ({}, '{}', datetime('now'))", m.version,
                                m.description));
    if (!s.ok()) {
      (void)conn.Exec("ROLLBACK");
      return core::Status::Internal(
          fmt::format("migration {} ({}): {}", m.version, m.description, s.message()));
    }
    if (auto c = conn.Exec("COMMIT"); !c.ok()) return c;
  }
  return core::Status::Ok();
}

}  // namespace pkgtrust::store
