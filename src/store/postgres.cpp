#include "postgres.hpp"

#include <fmt/format.h>

#include <charconv>

namespace pkgtrust::store {

using core::Result;
using core::Status;

PgParams& PgParams::Add(std::int64_t value) {
  values_.push_back(std::to_string(value));
  nulls_.push_back(false);
  return *this;
}

PgParams& PgParams::Add(std::string_view value) {
  values_.emplace_back(value);
  nulls_.push_back(false);
  return *this;
}

PgParams& PgParams::AddNull() {
  values_.emplace_back();
  nulls_.push_back(true);
  return *this;
}

PgParams& PgParams::AddTextArray(const std::vector<std::string_view>& values) {
  std::string literal = "{";
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i) literal += ',';
    literal += '"';
    for (char c : values[i]) {
      if (c == '"' || c == '\\') literal += '\\';
      literal += c;
    }
    literal += '"';
  }
  literal += '}';
  values_.push_back(std::move(literal));
  nulls_.push_back(false);
  return *this;
}

std::vector<const char*> PgParams::Pointers() const {
  std::vector<const char*> out(values_.size());
  for (std::size_t i = 0; i < values_.size(); ++i) out[i] = nulls_[i] ? nullptr : values_[i].c_str();
  return out;
}

Status PgResult::status() const {
  if (!result_) return Status::Unavailable("postgres: no result (connection lost)");
  switch (PQresultStatus(result_.get())) {
    case PGRES_COMMAND_OK:
    case PGRES_TUPLES_OK:
    case PGRES_PIPELINE_SYNC:
      return Status::Ok();
    case PGRES_PIPELINE_ABORTED:
      return Status::Unavailable("postgres: statement skipped, an earlier one in its pipeline failed");
    default: {
      std::string message = PQresultErrorMessage(result_.get());
      while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) message.pop_back();
      return Status::Unavailable(fmt::format("postgres: {}", message));
    }
  }
}

std::string PgResult::sqlstate() const {
  if (!result_) return "08006";  // connection failure
  const char* code = PQresultErrorField(result_.get(), PG_DIAG_SQLSTATE);
  return code ? code : "";
}

std::int64_t PgResult::Int(int row, int col) const {
  std::string_view text = TextView(row, col);
  std::int64_t value = 0;
  std::from_chars(text.data(), text.data() + text.size(), value);
  return value;
}

double PgResult::Double(int row, int col) const {
  std::string_view text = TextView(row, col);
  double value = 0;
  std::from_chars(text.data(), text.data() + text.size(), value);
  return value;
}

std::int64_t PgResult::AffectedRows() const {
  if (!result_) return 0;
  std::string_view text = PQcmdTuples(result_.get());
  std::int64_t value = 0;
  std::from_chars(text.data(), text.data() + text.size(), value);
  return value;
}

bool IsRetryable(const PgResult& result) {
  std::string code = result.sqlstate();
  // 08: connection exceptions; 40001 serialization failure; 40P01 deadlock; 57P01-57P03:
  // the server shutting down, crashed or not yet accepting connections.
  return code.starts_with("08") || code == "40001" || code == "40P01" || code.starts_with("57P");
}

Result<std::unique_ptr<PgConnection>> PgConnection::Open(
    const std::string& url, std::vector<std::pair<std::string, std::string>> prepared) {
  // Defaults first, then the operator's string (expanded from "dbname"), whose settings
  // win: a connection whose peer has vanished (a host gone, a network cut) is noticed by
  // keepalives and the TCP user timeout instead of blocking the writer for hours.
  const char* keywords[] = {"connect_timeout",  "keepalives",       "keepalives_idle", "keepalives_interval",
                            "keepalives_count", "tcp_user_timeout", "dbname",          nullptr};
  const char* values[] = {"10", "1", "30", "10", "3", "60000", url.c_str(), nullptr};
  PGconn* conn = PQconnectdbParams(keywords, values, /*expand_dbname=*/1);
  if (!conn) return Status::Unavailable("postgres: out of memory connecting");
  std::unique_ptr<PgConnection> connection(new PgConnection(conn, url, std::move(prepared)));
  if (PQstatus(conn) != CONNECTION_OK)
    return Status::Unavailable(fmt::format("postgres: cannot connect: {}", connection->ErrorMessage()));
  // Server notices ("relation already exists, skipping") are not errors: not printed.
  PQsetNoticeProcessor(
      conn, [](void*, const char*) {}, nullptr);
  if (PQserverVersion(conn) < 140000)
    return Status::FailedPrecondition(fmt::format(
        "postgres: server version {} is too old; pkgtrust needs PostgreSQL 14 or newer (pipeline mode)",
        PQserverVersion(conn)));
  if (auto s = connection->Prepare(); !s.ok()) return s;
  return connection;
}

PgConnection::~PgConnection() { PQfinish(conn_); }

std::string PgConnection::ErrorMessage() const {
  std::string message = PQerrorMessage(conn_);
  while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) message.pop_back();
  return message;
}

Status PgConnection::Prepare() {
  for (const auto& [name, sql] : prepared_) {
    PgResult result(PQprepare(conn_, name.c_str(), sql.c_str(), 0, nullptr));
    if (auto s = result.status(); !s.ok())
      return Status::Internal(fmt::format("preparing {}: {}", name, s.message()));
  }
  return Status::Ok();
}

Status PgConnection::Reconnect() {
  PQreset(conn_);
  if (PQstatus(conn_) != CONNECTION_OK)
    return Status::Unavailable(fmt::format("postgres: cannot reconnect: {}", ErrorMessage()));
  return Prepare();
}

Result<PgResult> PgConnection::Exec(const std::string& sql, const PgParams& params) {
  auto pointers = params.Pointers();
  PgResult result(
      PQexecParams(conn_, sql.c_str(), params.size(), nullptr, pointers.data(), nullptr, nullptr, 0));
  if (auto s = result.status(); !s.ok()) return s;
  return result;
}

Result<PgResult> PgConnection::ExecPrepared(const std::string& name, const PgParams& params) {
  auto pointers = params.Pointers();
  PgResult result(PQexecPrepared(conn_, name.c_str(), params.size(), pointers.data(), nullptr, nullptr, 0));
  if (auto s = result.status(); !s.ok()) return s;
  return result;
}

Status PgConnection::ExecScript(const std::string& sql) {
  PgResult result(PQexec(conn_, sql.c_str()));
  return result.status();
}

Status PgConnection::EnterPipeline() {
  if (PQenterPipelineMode(conn_) != 1) return Status::Unavailable("postgres: " + ErrorMessage());
  return Status::Ok();
}

Status PgConnection::ExitPipeline() {
  if (PQpipelineStatus(conn_) != PQ_PIPELINE_OFF && PQexitPipelineMode(conn_) != 1)
    return Status::Unavailable("postgres: " + ErrorMessage());
  // A statement that failed inside BEGIN ... COMMIT leaves the transaction aborted (the
  // COMMIT behind it was skipped): end it, or the next batch would find it still open.
  if (PQtransactionStatus(conn_) != PQTRANS_IDLE && !Broken()) return ExecScript("ROLLBACK");
  return Status::Ok();
}

Status PgConnection::Send(const std::string& sql, const PgParams& params) {
  auto pointers = params.Pointers();
  if (PQsendQueryParams(conn_, sql.c_str(), params.size(), nullptr, pointers.data(), nullptr, nullptr, 0) !=
      1)
    return Status::Unavailable("postgres: " + ErrorMessage());
  return Status::Ok();
}

Status PgConnection::SendPrepared(const std::string& name, const PgParams& params) {
  auto pointers = params.Pointers();
  if (PQsendQueryPrepared(conn_, name.c_str(), params.size(), pointers.data(), nullptr, nullptr, 0) != 1)
    return Status::Unavailable("postgres: " + ErrorMessage());
  return Status::Ok();
}

Status PgConnection::Sync() {
  if (PQpipelineSync(conn_) != 1) return Status::Unavailable("postgres: " + ErrorMessage());
  return Status::Ok();
}

Result<PgResult> PgConnection::Next() {
  PGresult* raw = PQgetResult(conn_);
  if (!raw) return Status::Unavailable(fmt::format("postgres: connection lost: {}", ErrorMessage()));
  PgResult result(raw);
  // A statement's result is followed by a null that ends it; the sync point has none.
  if (PQresultStatus(raw) != PGRES_PIPELINE_SYNC) {
    while (PGresult* extra = PQgetResult(conn_)) PQclear(extra);
  }
  return result;
}

Status PgConnection::DrainToSync() {
  while (true) {
    if (Broken()) return Status::Unavailable("postgres: connection lost");
    PGresult* raw = PQgetResult(conn_);
    if (!raw) {
      if (Broken()) return Status::Unavailable("postgres: connection lost");
      continue;
    }
    bool sync = PQresultStatus(raw) == PGRES_PIPELINE_SYNC;
    PQclear(raw);
    if (sync) return Status::Ok();
  }
}

}  // namespace pkgtrust::store
