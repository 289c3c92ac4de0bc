#include "sqlite.hpp"

#include <fmt/format.h>

#include <mutex>

namespace pkgtrust::store {

core::Result<std::unique_ptr<Connection>> Connection::Open(const std::string& path, bool create,
                                                           int busy_timeout_ms, bool synchronous_full) {
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
  for (const char* pragma : {"PRAGMA journal_mode=WAL", "PRAGMA foreign_keys=ON", "PRAGMA temp_store=MEMORY",
                             "PRAGMA cache_size=-32768"}) {
    if (auto s = conn->Exec(pragma); !s.ok())
      return core::Status::Unavailable(fmt::format("database '{}': {}", path, s.message()));
  }
  if (auto s = conn->Exec(synchronous_full ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL");
      !s.ok())
    return s;
  return conn;
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

core::Result<Statement*> Connection::Prepare(const char* sql) {
  auto it = cache_.find(sql);
  if (it != cache_.end()) return &it->second->Reset();
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
  if (rc != SQLITE_OK) return core::Status::Internal(fmt::format("sqlite prepare: {}", sqlite3_errmsg(db_)));
  auto owned = std::make_unique<Statement>(db_, stmt);
  Statement* raw = owned.get();
  cache_.emplace(sql, std::move(owned));
  return raw;
}

}  // namespace pkgtrust::store
