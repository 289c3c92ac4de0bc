// Thin RAII wrapper over sqlite3 for the store module only (sqlite3.h stays private).
// A Connection is used by one thread at a time; it caches prepared statements by SQL.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

#include "pkgtrust/core/status.hpp"

namespace pkgtrust::store {

class Statement {
 public:
  Statement(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  ~Statement() { sqlite3_finalize(stmt_); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  // Ends the current execution (releasing its read snapshot) but keeps it prepared.
  void Finish() { sqlite3_reset(stmt_); }
  Statement& Reset() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
    next_bind_ = 1;
    return *this;
  }
  Statement& Bind(std::int64_t value) {
    sqlite3_bind_int64(stmt_, next_bind_++, value);
    return *this;
  }
  Statement& Bind(int value) { return Bind(static_cast<std::int64_t>(value)); }
  Statement& Bind(std::string_view value) {
    sqlite3_bind_text(stmt_, next_bind_++, value.data(), static_cast<int>(value.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Statement& Bind(const char* value) { return Bind(std::string_view(value)); }
  Statement& Bind(const std::string& value) { return Bind(std::string_view(value)); }
  Statement& BindNull() {
    sqlite3_bind_null(stmt_, next_bind_++);
    return *this;
  }
  Statement& BindOptional(std::string_view value) { return value.empty() ? BindNull() : Bind(value); }

  // Steps once. Returns true when a row is available; errors become a Status in *status.
  bool Step(core::Status* status) {
    int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc != SQLITE_DONE && status)
      *status = core::Status::Unavailable(std::string("sqlite: ") + sqlite3_errmsg(db_));
    return false;
  }
  core::Status Run() {
    core::Status status;
    while (Step(&status)) {
    }
    return status;
  }

  std::int64_t Int(int col) const { return sqlite3_column_int64(stmt_, col); }
  double Double(int col) const { return sqlite3_column_double(stmt_, col); }
  bool IsNull(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }
  bool IsFloat(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_FLOAT; }
  std::string Text(int col) const {
    const unsigned char* text = sqlite3_column_text(stmt_, col);
    return text ? std::string(reinterpret_cast<const char*>(text), sqlite3_column_bytes(stmt_, col))
                : std::string();
  }
  std::string_view TextView(int col) const {
    const unsigned char* text = sqlite3_column_text(stmt_, col);
    return text ? std::string_view(reinterpret_cast<const char*>(text), sqlite3_column_bytes(stmt_, col))
                : std::string_view();
  }

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_;
  int next_bind_ = 1;
};

// A prepared statement in use. Resetting it when the lease ends matters: a statement
// left mid-result keeps its connection's read transaction open, and every later read on
// that connection would see the database as it was then (an old WAL snapshot).
class StatementLease {
 public:
  explicit StatementLease(Statement* statement) : statement_(statement) {}
  StatementLease(StatementLease&& other) noexcept : statement_(std::exchange(other.statement_, nullptr)) {}
  StatementLease& operator=(StatementLease&&) = delete;
  ~StatementLease() {
    if (statement_) statement_->Finish();
  }
  Statement* operator->() const { return statement_; }
  Statement& operator*() const { return *statement_; }

 private:
  Statement* statement_;
};

class Connection {
 public:
  // Opens (creating if asked) and applies the pragmas every connection needs.
  // `cache_mb`: this connection's page cache (SQLite's own; the OS caches the file too).
  static core::Result<std::unique_ptr<Connection>> Open(const std::string& path, bool create,
                                                        int busy_timeout_ms, bool synchronous_full,
                                                        int cache_mb = 8);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  core::Status Exec(std::string_view sql);
  core::Status EnableWal(int busy_timeout_ms);
  // Cached prepared statement, reset and ready to bind. The cache is keyed by the SQL
  // text's address: pass strings that live as long as the program (literals or statics).
  core::Result<StatementLease> Prepare(const std::string& sql) { return Prepare(sql.c_str()); }
  core::Result<StatementLease> Prepare(const char* sql);
  sqlite3* raw() { return db_; }

 private:
  explicit Connection(sqlite3* db) : db_(db) {}
  sqlite3* db_;
  std::unordered_map<const char*, std::unique_ptr<Statement>> cache_;
};

}  // namespace pkgtrust::store
