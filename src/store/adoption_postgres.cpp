// Adoption on the PostgreSQL store (adoption_records.hpp). Rows travel as arrays, one per
// column, and are spread with unnest(): a step of thousands of rows is a handful of
// statements, not one round trip per row. A processing step runs in one transaction with
// its cursor check, so a step that another process already applied writes nothing.
#include <fmt/format.h>

#include <map>
#include <tuple>

#include "postgres_store.hpp"

namespace pkgtrust::store {

namespace {

using AggregateKey =
    std::tuple<std::string, std::string, std::int64_t, std::string>;  // eco, name, day, version

std::string_view Eco(const core::PackageKey& key) { return core::EcosystemName(key.ecosystem); }

// A bigint[] (or boolean[]) literal: {1,2,3}.
template <typename T>
std::string ArrayLiteral(const std::vector<T>& values) {
  std::string out = "{";
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i) out += ',';
    if constexpr (std::is_same_v<T, bool>)
      out += values[i] ? "true" : "false";
    else
      out += std::to_string(values[i]);
  }
  return out + "}";
}

// Columns of text gathered for AddTextArray (which takes views).
struct TextColumn {
  std::vector<std::string> values;
  std::vector<std::string_view> Views() const { return {values.begin(), values.end()}; }
};

constexpr const char* kLogColumns =
    "id, at, ecosystem, method, path, status, bytes, duration_us, origin, tool, tool_version, runtime, os, "
    "ci, "
    "source";

std::vector<RequestLogRow> LogRows(const PgResult& rows) {
  std::vector<RequestLogRow> out;
  out.reserve(rows.rows());
  for (int i = 0; i < rows.rows(); ++i) {
    RequestLogRow r;
    r.id = rows.Int(i, 0);
    r.at = rows.Int(i, 1);
    r.ecosystem = rows.Text(i, 2);
    r.method = rows.Text(i, 3);
    r.path = rows.Text(i, 4);
    r.status = static_cast<int>(rows.Int(i, 5));
    r.bytes = rows.Int(i, 6);
    r.duration_us = rows.Int(i, 7);
    r.origin = rows.Int(i, 8);
    r.tool = rows.Text(i, 9);
    r.tool_version = rows.Text(i, 10);
    r.runtime = rows.Text(i, 11);
    r.os = rows.Text(i, 12);
    r.ci = rows.Bool(i, 13);
    r.source = rows.Text(i, 14);
    out.push_back(std::move(r));
  }
  return out;
}

constexpr const char* kAlertColumns =
    "id, ecosystem, name, reason, detail, versions, downloads, origins, last_download_at, exposure_days, "
    "created_at, resolved_at, change_offset";

std::vector<ExposureAlert> Alerts(const PgResult& rows) {
  std::vector<ExposureAlert> out;
  for (int i = 0; i < rows.rows(); ++i) {
    ExposureAlert a;
    a.id = rows.Int(i, 0);
    a.key = {core::ParseEcosystem(rows.TextView(i, 1)).value_or(core::Ecosystem::kNpm), rows.Text(i, 2)};
    a.reason = rows.Text(i, 3);
    a.detail = rows.Text(i, 4);
    a.versions_json = rows.Text(i, 5);
    a.downloads = rows.Int(i, 6);
    a.origins = rows.Int(i, 7);
    a.last_download_at = rows.Int(i, 8);
    a.exposure_days = rows.Int(i, 9);
    a.created_at = rows.Int(i, 10);
    a.resolved_at = rows.IsNull(i, 11) ? 0 : rows.Int(i, 11);
    a.change_offset = rows.Int(i, 12);
    out.push_back(std::move(a));
  }
  return out;
}

}  // namespace

Status PostgresStore::AppendRequestLogSync(std::vector<RequestLogRow> rows) {
  if (rows.empty()) return Status::Ok();
  TextColumn eco, method, path, tool, tool_version, runtime, os, source;
  std::vector<std::int64_t> at, status, bytes, duration, origin;
  std::vector<bool> ci;
  for (RequestLogRow& r : rows) {
    at.push_back(r.at);
    eco.values.push_back(std::move(r.ecosystem));
    method.values.push_back(std::move(r.method));
    path.values.push_back(std::move(r.path));
    status.push_back(r.status);
    bytes.push_back(r.bytes);
    duration.push_back(r.duration_us);
    origin.push_back(r.origin);
    tool.values.push_back(std::move(r.tool));
    tool_version.values.push_back(std::move(r.tool_version));
    runtime.values.push_back(std::move(r.runtime));
    os.values.push_back(std::move(r.os));
    ci.push_back(r.ci);
    source.values.push_back(std::move(r.source));
  }
  PgParams p;
  p.Add(ArrayLiteral(at))
      .AddTextArray(eco.Views())
      .AddTextArray(method.Views())
      .AddTextArray(path.Views())
      .Add(ArrayLiteral(status))
      .Add(ArrayLiteral(bytes))
      .Add(ArrayLiteral(duration))
      .Add(ArrayLiteral(origin))
      .AddTextArray(tool.Views())
      .AddTextArray(tool_version.Views())
      .AddTextArray(runtime.Views())
      .AddTextArray(os.Views());
  p.Add(ArrayLiteral(ci)).AddTextArray(source.Views());
  return WriteSync([&p](PgConnection& c, Millis) {
    auto inserted = c.Exec(
        "INSERT INTO request_log (at, ecosystem, method, path, status, bytes, duration_us, origin, tool, "
        "tool_version, runtime, os, ci, source) SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], "
        "$4::text[], $5::bigint[], $6::bigint[], $7::bigint[], $8::bigint[], $9::text[], $10::text[], "
        "$11::text[], "
        "$12::text[], $13::boolean[], $14::text[])",
        p);
    return inserted.ok() ? Status::Ok() : inserted.status();
  });
}

Result<std::vector<RequestLogRow>> PostgresStore::ReadRequestLog(std::int64_t after_id, std::size_t limit,
                                                                 bool full) {
  PgParams p;
  p.Add(after_id).Add(static_cast<std::int64_t>(limit));
  if (full) {
    auto rows = ReadSync(
        fmt::format("SELECT {} FROM request_log WHERE id > $1 ORDER BY id LIMIT $2", kLogColumns), p);
    if (!rows.ok()) return rows.status();
    return LogRows(*rows);
  }
  auto rows = ReadSync(
      "SELECT id, at, ecosystem, method, path, status, origin FROM request_log WHERE id > $1 ORDER BY id "
      "LIMIT $2",
      p);
  if (!rows.ok()) return rows.status();
  std::vector<RequestLogRow> out(static_cast<std::size_t>(rows->rows()));
  for (int i = 0; i < rows->rows(); ++i) {
    RequestLogRow& r = out[static_cast<std::size_t>(i)];
    r.id = rows->Int(i, 0);
    r.at = rows->Int(i, 1);
    r.ecosystem = rows->TextView(i, 2);
    r.method = rows->TextView(i, 3);
    r.path = rows->TextView(i, 4);
    r.status = static_cast<int>(rows->Int(i, 5));
    r.origin = rows->Int(i, 6);
  }
  return out;
}

Result<std::vector<RequestLogRow>> PostgresStore::ReadRequestLogBefore(std::int64_t up_to_id, Millis since,
                                                                       Millis until) {
  PgParams p;
  p.Add(since).Add(up_to_id).Add(until);
  auto rows =
      ReadSync(fmt::format("SELECT {} FROM request_log WHERE at BETWEEN $1 AND $3 AND id <= $2 ORDER BY id",
                           kLogColumns),
               p);
  if (!rows.ok()) return rows.status();
  return LogRows(*rows);
}

Result<AdoptionCursors> PostgresStore::GetAdoptionCursors() {
  auto rows = ReadSync("SELECT log, alerts FROM adoption_cursors", {});
  if (!rows.ok()) return rows.status();
  if (rows->rows() != 1) return Status::Internal("adoption cursors: no row");
  return AdoptionCursors{rows->Int(0, 0), rows->Int(0, 1)};
}

Result<AdoptionApplied> PostgresStore::ApplyAdoptionSync(AdoptionUpdate u) {
  // Inputs as arrays, keys made unique (an upsert may not touch one row twice).
  std::map<std::pair<std::string, std::string>, Millis> seen;
  for (const auto& [key, at] : u.seen) {
    auto [it, inserted] = seen.try_emplace({std::string(Eco(key)), key.name}, at);
    if (!inserted) it->second = std::min(it->second, at);
  }
  std::map<AggregateKey, AdoptionCount> counts;
  for (const AdoptionCount& n : u.counts) {
    auto [it, fresh] = counts.try_emplace({std::string(Eco(n.key)), n.key.name, n.day, n.version},
                                          AdoptionCount{n.key, n.version, n.day});
    AdoptionCount& sum = it->second;
    sum.downloads += n.downloads;
    sum.metadata += n.metadata;
    sum.last_at = std::max(sum.last_at, n.last_at);
  }
  PgParams seen_params, origin_params;
  {
    TextColumn eco, name;
    std::vector<std::int64_t> at;
    for (const auto& [key, first] : seen) {
      eco.values.push_back(key.first);
      name.values.push_back(key.second);
      at.push_back(first);
    }
    seen_params.AddTextArray(eco.Views()).AddTextArray(name.Views()).Add(ArrayLiteral(at));
  }
  {
    std::vector<std::int64_t> day, subject, origin;
    for (const AdoptionOrigin& o : u.origins) {
      day.push_back(o.day);
      subject.push_back(o.subject);
      origin.push_back(o.origin);
    }
    origin_params.Add(ArrayLiteral(day)).Add(ArrayLiteral(subject)).Add(ArrayLiteral(origin));
  }
  AdoptionApplied applied;
  Status written = WriteSync([&](PgConnection& c, Millis) -> Status {
    applied = AdoptionApplied{};
    PgParams cursor;
    cursor.Add(u.to_cursor).Add(u.from_cursor);
    auto moved = c.Exec("UPDATE adoption_cursors SET log = $1 WHERE log = $2", cursor);
    if (!moved.ok()) return moved.status();
    if (moved->AffectedRows() == 0) return Status::Ok();
    applied.applied = true;
    // xmax = 0 on a row RETURNING gives back: the row was inserted, not updated.
    auto first = c.Exec(
        "WITH ins AS (INSERT INTO adoption_packages (ecosystem, name, first_seen_at) "
        "SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[]) "
        "ON CONFLICT (ecosystem, name) DO UPDATE SET first_seen_at = "
        "LEAST(adoption_packages.first_seen_at, excluded.first_seen_at) "
        "RETURNING ecosystem, name, (xmax = 0) AS inserted) SELECT ecosystem, name FROM ins WHERE inserted",
        seen_params);
    if (!first.ok()) return first.status();
    for (int i = 0; i < first->rows(); ++i)
      if (auto eco = core::ParseEcosystem(first->TextView(i, 0)))
        applied.first_seen.push_back({*eco, first->Text(i, 1)});
    // Each origin once per (subject, day): the new ones, counted per subject and day.
    auto fresh = c.Exec(
        "WITH ins AS (INSERT INTO adoption_origins (day, subject, origin) "
        "SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bigint[]) "
        "ON CONFLICT DO NOTHING RETURNING day, subject) "
        "SELECT subject, day, count(*) FROM ins GROUP BY 1, 2",
        origin_params);
    if (!fresh.ok()) return fresh.status();
    std::map<std::pair<std::int64_t, std::int64_t>, std::int64_t> new_origins;
    for (int i = 0; i < fresh->rows(); ++i)
      new_origins[{fresh->Int(i, 0), fresh->Int(i, 1)}] = fresh->Int(i, 2);
    TextColumn eco, name, version;
    std::vector<std::int64_t> day, downloads, origins, metadata, last_at;
    for (const auto& [key, n] : counts) {
      eco.values.push_back(std::get<0>(key));
      name.values.push_back(std::get<1>(key));
      day.push_back(std::get<2>(key));
      version.values.push_back(std::get<3>(key));
      downloads.push_back(n.downloads);
      auto found = new_origins.find({AdoptionSubject(n.key, n.version), n.day});
      origins.push_back(found == new_origins.end() ? 0 : found->second);
      metadata.push_back(n.metadata);
      last_at.push_back(n.last_at);
    }
    PgParams p;
    p.AddTextArray(eco.Views())
        .AddTextArray(name.Views())
        .Add(ArrayLiteral(day))
        .AddTextArray(version.Views())
        .Add(ArrayLiteral(downloads))
        .Add(ArrayLiteral(origins))
        .Add(ArrayLiteral(metadata))
        .Add(ArrayLiteral(last_at));
    auto upserted = c.Exec(
        "INSERT INTO adoption_daily (ecosystem, name, day, version, downloads, origins, metadata, last_at) "
        "SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::bigint[], $6::bigint[], "
        "$7::bigint[], $8::bigint[]) ON CONFLICT (ecosystem, name, day, version) DO UPDATE SET "
        "downloads = adoption_daily.downloads + excluded.downloads, "
        "origins = adoption_daily.origins + excluded.origins, "
        "metadata = adoption_daily.metadata + excluded.metadata, "
        "last_at = GREATEST(adoption_daily.last_at, excluded.last_at)",
        p);
    return upserted.ok() ? Status::Ok() : upserted.status();
  });
  if (!written.ok()) return written;
  return applied;
}

Status PostgresStore::SetAlertCursorSync(std::int64_t offset) {
  PgParams p;
  p.Add(offset);
  return WriteSync([&p](PgConnection& c, Millis) {
    auto moved = c.Exec("UPDATE adoption_cursors SET alerts = GREATEST(alerts, $1)", p);
    return moved.ok() ? Status::Ok() : moved.status();
  });
}

Result<PackageAdoption> PostgresStore::ReadAdoption(const core::PackageKey& key, std::int64_t from_day,
                                                    std::int64_t to_day) {
  PackageAdoption out;
  out.key = key;
  PgParams p;
  p.Add(Eco(key)).Add(key.name);
  auto first = ReadSync("SELECT first_seen_at FROM adoption_packages WHERE ecosystem = $1 AND name = $2", p);
  if (!first.ok()) return first.status();
  if (first->rows() == 1) out.first_seen_at = first->Int(0, 0);
  p.Add(from_day).Add(to_day);
  auto rows = ReadSync(
      "SELECT version, day, downloads, origins, metadata, last_at FROM adoption_daily "
      "WHERE ecosystem = $1 AND name = $2 AND day BETWEEN $3 AND $4 ORDER BY day, version",
      p);
  if (!rows.ok()) return rows.status();
  for (int i = 0; i < rows->rows(); ++i)
    out.rows.push_back({rows->Text(i, 0), rows->Int(i, 1), rows->Int(i, 2), rows->Int(i, 3), rows->Int(i, 4),
                        rows->Int(i, 5)});
  return out;
}

Result<std::vector<AdoptionTopRow>> PostgresStore::ReadAdoptionTop(std::int64_t from_day, std::int64_t to_day,
                                                                   const std::string& ecosystem,
                                                                   std::size_t limit) {
  PgParams p;
  p.Add(from_day).Add(to_day).Add(ecosystem).Add(static_cast<std::int64_t>(limit));
  auto rows = ReadSync(
      "SELECT ecosystem, name, SUM(downloads) AS d, SUM(origins), SUM(metadata) FROM adoption_daily "
      "WHERE version = '' AND day BETWEEN $1 AND $2 AND ($3 = '' OR ecosystem = $3) "
      "GROUP BY ecosystem, name ORDER BY d DESC, ecosystem, name LIMIT $4",
      p);
  if (!rows.ok()) return rows.status();
  std::vector<AdoptionTopRow> out;
  for (int i = 0; i < rows->rows(); ++i)
    if (auto eco = core::ParseEcosystem(rows->TextView(i, 0)))
      out.push_back({{*eco, rows->Text(i, 1)}, rows->Int(i, 2), rows->Int(i, 3), rows->Int(i, 4)});
  return out;
}

Result<ExposureAlert> PostgresStore::RaiseAlertSync(ExposureAlert alert) {
  ExposureAlert stored;
  Status written = WriteSync([&](PgConnection& c, Millis now) -> Status {
    stored = alert;
    if (stored.created_at == 0) stored.created_at = now;
    PgParams p;
    p.Add(Eco(stored.key))
        .Add(stored.key.name)
        .Add(stored.reason)
        .Add(stored.detail)
        .Add(stored.versions_json)
        .Add(stored.downloads)
        .Add(stored.origins)
        .Add(stored.last_download_at)
        .Add(stored.exposure_days)
        .Add(stored.created_at);
    // The partial unique index lets one alert per package and reason be open.
    auto inserted = c.Exec(
        "INSERT INTO adoption_alerts (ecosystem, name, reason, detail, versions, downloads, origins, "
        "last_download_at, exposure_days, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) "
        "ON CONFLICT DO NOTHING RETURNING id",
        p);
    if (!inserted.ok()) return inserted.status();
    if (inserted->rows() == 0) {
      stored.id = 0;
      return Status::Ok();
    }
    stored.id = inserted->Int(0, 0);
    // Its change log row gets its offset from pkgtrust_sequence_changes at the commit, which
    // also writes the offset back onto the alert.
    PgParams change;
    change.Add(Eco(stored.key)).Add(stored.key.name).Add(now).Add(AlertJson(stored));
    auto appended = c.Exec(
        "INSERT INTO package_changes (package_id, ecosystem, name, state, generation, score, flags, "
        "committed_at, alert) SELECT COALESCE(p.id, 0), $1, $2, COALESCE(p.state, 'pending_registry'), "
        "COALESCE(p.generation, 0), p.score, p.flags, $3, $4 FROM (SELECT 1) one "
        "LEFT JOIN packages p ON p.ecosystem = $1 AND p.name = $2",
        change);
    return appended.ok() ? Status::Ok() : appended.status();
  });
  if (!written.ok()) return written;
  return stored;
}

Result<std::int64_t> PostgresStore::ResolveAlertsSync(const core::PackageKey& key,
                                                      std::vector<std::string> still_flagged, Millis now) {
  std::vector<std::string_view> views(still_flagged.begin(), still_flagged.end());
  PgParams p;
  p.Add(now).Add(Eco(key)).Add(key.name).AddTextArray(views);
  std::int64_t resolved = 0;
  Status written = WriteSync([&](PgConnection& c, Millis) {
    auto updated = c.Exec(
        "UPDATE adoption_alerts SET resolved_at = $1 WHERE ecosystem = $2 AND name = $3 AND resolved_at IS "
        "NULL "
        "AND NOT (reason = ANY ($4::text[]))",
        p);
    if (!updated.ok()) return updated.status();
    resolved = updated->AffectedRows();
    return Status::Ok();
  });
  if (!written.ok()) return written;
  return resolved;
}

Result<std::vector<ExposureAlert>> PostgresStore::ListAlerts(bool open_only, std::int64_t before_id,
                                                             std::size_t limit) {
  PgParams p;
  p.Add(open_only).Add(before_id).Add(static_cast<std::int64_t>(limit));
  auto rows = ReadSync(fmt::format("SELECT {} FROM adoption_alerts WHERE (NOT $1 OR resolved_at IS NULL) "
                                   "AND ($2 = 0 OR id < $2) ORDER BY id DESC LIMIT $3",
                                   kAlertColumns),
                       p);
  if (!rows.ok()) return rows.status();
  return Alerts(*rows);
}

Result<std::int64_t> PostgresStore::ExpireAdoptionSync(Millis log_before, std::int64_t origins_before_day) {
  std::int64_t deleted = 0;
  Status written = WriteSync([&](PgConnection& c, Millis) {
    PgParams log;
    log.Add(log_before);
    // Only rows already processed: an unprocessed row is counted first, however old.
    auto rows =
        c.Exec("DELETE FROM request_log WHERE at < $1 AND id <= (SELECT log FROM adoption_cursors)", log);
    if (!rows.ok()) return rows.status();
    deleted = rows->AffectedRows();
    PgParams days;
    days.Add(origins_before_day);
    auto origins = c.Exec("DELETE FROM adoption_origins WHERE day < $1", days);
    return origins.ok() ? Status::Ok() : origins.status();
  });
  if (!written.ok()) return written;
  return deleted;
}

Result<std::int64_t> PostgresStore::DeleteAdoptionSync(const core::PackageKey& key) {
  std::int64_t deleted = 0;
  Status written = WriteSync([&](PgConnection& c, Millis) {
    deleted = 0;
    PgParams p;
    p.Add(Eco(key)).Add(key.name);
    // The origins are kept by subject: those of the package and of each version it has.
    auto versions =
        c.Exec("SELECT DISTINCT version FROM adoption_daily WHERE ecosystem = $1 AND name = $2", p);
    if (!versions.ok()) return versions.status();
    std::vector<std::int64_t> subjects;
    for (int i = 0; i < versions->rows(); ++i)
      subjects.push_back(AdoptionSubject(key, versions->TextView(i, 0)));
    PgParams by_subject;
    by_subject.Add(ArrayLiteral(subjects));
    auto origins = c.Exec("DELETE FROM adoption_origins WHERE subject = ANY ($1::bigint[])", by_subject);
    if (!origins.ok()) return origins.status();
    deleted += origins->AffectedRows();
    for (const char* table : {"adoption_daily", "adoption_alerts", "adoption_packages"}) {
      auto rows = c.Exec(fmt::format("DELETE FROM {} WHERE ecosystem = $1 AND name = $2", table), p);
      if (!rows.ok()) return rows.status();
      deleted += rows->AffectedRows();
    }
    return Status::Ok();
  });
  if (!written.ok()) return written;
  return deleted;
}

}  // namespace pkgtrust::store
