#include "sqlite.hpp"

#include <fmt/format.h>

#include <chrono>
#include <mutex>
#include <thread>

namespace pkgtrust::store {

core::Result<std::unique_ptr<Connection>> Connection::Open(const std::string& path, bool create,
                                                           int busy_timeout_ms, bool synchronous_full,
                                                           int cache_mb) {
  // SQLite's memory statistics take a global mutex on every allocation; we never read them.
  static std::once_flag configured;
  std::call_once(configured, [] { sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0); });
  sqlite3* db = nullptr;
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (create ? SQLITE_OPEN_CREATE : 0);
  int rc = sqlite3_open_v2(path.c_str(), &db, flags, nullptr);
  if (rc != SQLITE_OK) {
    std::string message = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    sqlite3_close(db);
    return core::Status::Unavailable(fmt::format("cannot open database '{}': {}", path, message));
  }
  std::unique_ptr<Connection> conn(new Connection(db));
  sqlite3_busy_timeout(db, busy_timeout_ms);
  if (auto s = conn->EnableWal(busy_timeout_ms); !s.ok())
    return core::Status::Unavailable(fmt::format("database '{}': {}", path, s.message()));
  const std::string cache_pragma = fmt::format("PRAGMA cache_size=-{}", std::max(1, cache_mb) * 1024);
  for (const char* pragma : {"PRAGMA foreign_keys=ON", "PRAGMA temp_store=MEMORY", cache_pragma.c_str()}) {
    if (auto s = conn->Exec(pragma); !s.ok())
      return core::Status::Unavailable(fmt::format("database '{}': {}", path, s.message()));
  }
  if (auto s = conn->Exec(synchronous_full ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL");
      !s.ok())
    return s;
  return conn;
}

core::Status Connection::EnableWal(int busy_timeout_ms) {
  // WAL is a property of the file; switching to it takes an exclusive lock, and SQLite
  // answers SQLITE_BUSY at once (without the busy handler) while another connection holds
  // one, e.g. when several processes open a new database together. So retry for a while.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(busy_timeout_ms);
  while (true) {
    sqlite3_stmt* stmt = nullptr;
    int rc = sqlite3_prepare_v2(db_, "PRAGMA journal_mode=WAL", -1, &stmt, nullptr);
    std::string mode;
    if (rc == SQLITE_OK && (rc = sqlite3_step(stmt)) == SQLITE_ROW)
      mode = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
    sqlite3_finalize(stmt);
    if (mode == "wal") return core::Status::Ok();
    if (rc != SQLITE_BUSY && rc != SQLITE_LOCKED && rc != SQLITE_ROW)
      return core::Status::Unavailable(fmt::format("sqlite: cannot enable WAL: {}", sqlite3_errmsg(db_)));
    if (std::chrono::steady_clock::now() > deadline)
      return core::Status::Unavailable("sqlite: cannot enable WAL: database is locked");
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

Connection::~Connection() {
  cache_.clear();
  sqlite3_close(db_);
}

core::Status Connection::Exec(std::string_view sql) {
  char* error = nullptr;
  std::string text(sql);
  int rc = sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &error);
  if (rc != SQLITE_OK) {
    std::string message = error ? error : sqlite3_errstr(rc);
    sqlite3_free(error);
    return core::Status::Unavailable("sqlite: " + message);
  }
  return core::Status::Ok();
}

core::Result<StatementLease> Connection::Prepare(const char* sql) {
  auto it = cache_.find(sql);
  if (it != cache_.end()) return StatementLease(&it->second->Reset());
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
  if (rc != SQLITE_OK) return core::Status::Internal(fmt::format("sqlite prepare: {}", sqlite3_errmsg(db_)));
  auto owned = std::make_unique<Statement>(db_, stmt);
  Statement* raw = owned.get();
  cache_.emplace(sql, std::move(owned));
  return StatementLease(raw);
}

}  // namespace pkgtrust::store
