// Thin RAII wrapper over libpq for the store module only (libpq-fe.h stays private). Values
// travel as text both ways, which keeps the wrapper small: integers and doubles are
// formatted and parsed here, JSON stays the text the stages wrote. A PgConnection is used
// by one thread at a time.
#pragma once

#include <libpq-fe.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "pkgtrust/core/status.hpp"

namespace pkgtrust::store {

// Parameters of one statement ($1, $2, ...), as text or NULL.
class PgParams {
 public:
  PgParams& Add(std::int64_t value);
  PgParams& Add(int value) { return Add(static_cast<std::int64_t>(value)); }
  PgParams& Add(bool value) { return Add(std::string_view(value ? "true" : "false")); }
  PgParams& Add(std::string_view value);
  PgParams& Add(const char* value) { return Add(std::string_view(value)); }
  PgParams& Add(const std::string& value) { return Add(std::string_view(value)); }
  PgParams& AddNull();
  PgParams& AddOptional(std::string_view value) { return value.empty() ? AddNull() : Add(value); }
  PgParams& AddOptional(std::optional<std::int64_t> value) { return value ? Add(*value) : AddNull(); }
  // A text[] in PostgreSQL's array literal form: {"a","b\"c"}.
  PgParams& AddTextArray(const std::vector<std::string_view>& values);

  int size() const { return static_cast<int>(values_.size()); }
  // Pointers into this object, valid while it lives and is not changed.
  std::vector<const char*> Pointers() const;

 private:
  std::vector<std::string> values_;
  std::vector<bool> nulls_;
};

// One result of a statement. Errors carry PostgreSQL's SQLSTATE.
class PgResult {
 public:
  PgResult() = default;
  explicit PgResult(PGresult* result) : result_(result, &PQclear) {}

  // Ok for a command or rows; an error names the server's message.
  core::Status status() const;
  std::string sqlstate() const;  // "40P01" for a deadlock; empty without an error
  bool aborted() const { return result_ && PQresultStatus(result_.get()) == PGRES_PIPELINE_ABORTED; }

  int rows() const { return result_ ? PQntuples(result_.get()) : 0; }
  bool IsNull(int row, int col) const { return PQgetisnull(result_.get(), row, col) != 0; }
  std::string_view TextView(int row, int col) const {
    return {PQgetvalue(result_.get(), row, col),
            static_cast<std::size_t>(PQgetlength(result_.get(), row, col))};
  }
  std::string Text(int row, int col) const { return std::string(TextView(row, col)); }
  std::int64_t Int(int row, int col) const;
  double Double(int row, int col) const;
  bool Bool(int row, int col) const { return TextView(row, col) == "t"; }
  // Rows changed by INSERT/UPDATE/DELETE.
  std::int64_t AffectedRows() const;

 private:
  std::shared_ptr<PGresult> result_;
};

class PgConnection {
 public:
  // Connects; `prepared` (name, SQL) are prepared on the new connection, so that the
  // writer's statements are parsed and planned once per connection, not once per call.
  static core::Result<std::unique_ptr<PgConnection>> Open(
      const std::string& url, std::vector<std::pair<std::string, std::string>> prepared = {});
  ~PgConnection();
  PgConnection(const PgConnection&) = delete;
  PgConnection& operator=(const PgConnection&) = delete;

  bool Broken() const { return PQstatus(conn_) != CONNECTION_OK; }
  // Connects again with the same string and prepares the same statements.
  core::Status Reconnect();

  // One statement, one round trip (not in pipeline mode).
  core::Result<PgResult> Exec(const std::string& sql, const PgParams& params = {});
  core::Result<PgResult> ExecPrepared(const std::string& name, const PgParams& params);
  // Several statements without parameters (migrations).
  core::Status ExecScript(const std::string& sql);

  // Pipeline mode (PostgreSQL 14+): statements are sent without waiting; their results
  // come back in order after Sync, so a batch of N statements costs one round trip.
  core::Status EnterPipeline();
  // Leaves pipeline mode, rolling back a transaction that a failed statement left open.
  core::Status ExitPipeline();
  core::Status Send(const std::string& sql, const PgParams& params);
  core::Status SendPrepared(const std::string& name, const PgParams& params);
  core::Status Sync();
  // The next statement's result; an error when the connection is lost.
  core::Result<PgResult> Next();
  // Reads up to and including the pipeline's sync point (after a failure: drains the rest).
  core::Status DrainToSync();

  PGconn* raw() { return conn_; }
  std::string ErrorMessage() const;

 private:
  PgConnection(PGconn* conn, std::string url, std::vector<std::pair<std::string, std::string>> prepared)
      : conn_(conn), url_(std::move(url)), prepared_(std::move(prepared)) {}
  core::Status Prepare();

  PGconn* conn_;
  std::string url_;
  std::vector<std::pair<std::string, std::string>> prepared_;
};

// True for errors worth running the whole transaction again: a lost connection, a deadlock,
// a serialization failure, the server shutting down or starting.
bool IsRetryable(const PgResult& result);

}  // namespace pkgtrust::store
