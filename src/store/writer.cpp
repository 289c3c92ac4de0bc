// The store's writer: the batching writer thread and the package state machine's
// operations (enqueue, transition, failure, touch), run inside the batch transaction.
#include <fmt/format.h>

#include <algorithm>

#include "migrations.hpp"
#include "pkgtrust/core/log.hpp"
#include "sqlite_store.hpp"
#include "valid_utf8.hpp"

namespace pkgtrust::store {

Result<PackageRecord> ReadRecord(const Statement& row) {
  PackageRecord r;
  r.id = row.Int(0);
  auto eco = core::ParseEcosystem(row.TextView(1));
  auto state = core::ParsePackageState(row.TextView(3));
  if (!eco || !state) return Status::Internal(fmt::format("corrupt package row {}", r.id));
  r.key = {*eco, row.Text(2)};
  r.state = *state;
  r.generation = row.Int(4);
  r.priority = row.Int(5) == 1 ? core::Priority::kPriority : core::Priority::kRegular;
  r.attempts = static_cast<int>(row.Int(6));
  r.state_since = row.Int(7);
  r.last_error = row.Text(8);
  r.next_attempt_at = row.Int(9);
  r.requested_version = row.Text(10);
  r.created_at = row.Int(11);
  return r;
}

std::string_view StateText(PackageState s) { return core::PackageStateName(s); }
std::string_view EcoText(const core::PackageKey& key) { return core::EcosystemName(key.ecosystem); }

Status RunCached(Connection& conn, const char* sql) {
  auto stmt = conn.Prepare(sql);
  return stmt.ok() ? (*stmt)->Run() : stmt.status();
}

Status SqliteStore::Impl::Open() {
  auto writer = Connection::Open(config_.path, /*create=*/true, config_.busy_timeout_ms,
                                 config_.synchronous_full, config_.cache_mb_per_connection);
  if (!writer.ok()) return writer.status();
  writer_ = std::move(writer).value();
  if (auto s = ApplyMigrations(*writer_); !s.ok())
    return Status(Status::FailedPrecondition(fmt::format("database '{}': {}", config_.path, s.message())));
  for (int i = 0; i < std::max(1, config_.read_connections); ++i) {
    auto reader = Connection::Open(config_.path, false, config_.busy_timeout_ms, config_.synchronous_full,
                                   config_.cache_mb_per_connection);
    if (!reader.ok()) return reader.status();
    (void)(*reader)->Exec("PRAGMA query_only=1");
    readers_.push_back(std::move(reader).value());
  }
  writer_thread_ = std::thread([this] { WriterLoop(); });
  return Status::Ok();
}

void SqliteStore::Impl::Close() {
  {
    std::lock_guard lock(mu_);
    if (closed_) return;
    closed_ = true;
  }
  cv_.notify_all();
  if (writer_thread_.joinable()) writer_thread_.join();
}

void SqliteStore::Impl::Submit(std::unique_ptr<Op> op) {
  {
    std::lock_guard lock(mu_);
    if (!closed_) {
      queue_.push_back(std::move(op));
      cv_.notify_one();
      return;
    }
  }
  op->Fail(Status::Unavailable("the package store is closed"));
}

Result<std::optional<PackageRecord>> SqliteStore::Impl::SelectByKey(Connection& conn,
                                                                    const core::PackageKey& key) {
  auto stmt = conn.Prepare("SELECT " PACKAGE_COLUMNS " FROM packages WHERE ecosystem = ? AND name = ?");
  if (!stmt.ok()) return stmt.status();
  Statement& s = **stmt;
  s.Bind(EcoText(key)).Bind(key.name);
  Status status;
  if (!s.Step(&status)) {
    if (!status.ok()) return status;
    return std::optional<PackageRecord>();
  }
  auto record = ReadRecord(s);
  if (!record.ok()) return record.status();
  return std::optional<PackageRecord>(std::move(record).value());
}

Result<std::optional<PackageRecord>> SqliteStore::Impl::Returning(Statement& s) {
  Status status;
  if (!s.Step(&status)) {
    if (!status.ok()) return status;
    return std::optional<PackageRecord>();
  }
  auto record = ReadRecord(s);
  (void)s.Run();
  if (!record.ok()) return record.status();
  return std::optional<PackageRecord>(std::move(record).value());
}

Result<EnqueueResult> SqliteStore::Impl::DoEnqueue(Connection& conn, const EnqueueRequest& req, Millis now) {
  auto existing = SelectByKey(conn, req.key);
  if (!existing.ok()) return existing.status();
  int priority = static_cast<int>(req.priority);
  if (!existing->has_value()) {
    auto stmt = conn.Prepare(
        "INSERT INTO packages (ecosystem, name, state, generation, priority, attempts, state_since, "
        "requested_version, created_at) VALUES (?, ?, 'pending_registry', 1, ?, 0, ?, ?, ?) "
        "RETURNING " PACKAGE_COLUMNS);
    if (!stmt.ok()) return stmt.status();
    (*stmt)
        ->Bind(EcoText(req.key))
        .Bind(req.key.name)
        .Bind(priority)
        .Bind(now)
        .BindOptional(req.version)
        .Bind(now);
    auto row = Returning(**stmt);
    if (!row.ok()) return row.status();
    if (!row->has_value()) return Status::Internal("insert returned no row");
    return EnqueueResult{EnqueueOutcome::kStarted, std::move(**row)};
  }
  PackageRecord current = std::move(**existing);
  if (core::IsInFlight(current.state)) {
    if (req.priority == core::Priority::kPriority && current.priority == core::Priority::kRegular) {
      auto stmt = conn.Prepare("UPDATE packages SET priority = 1 WHERE id = ?");
      if (!stmt.ok()) return stmt.status();
      if (auto s = (*stmt)->Bind(current.id).Run(); !s.ok()) return s;
      current.priority = core::Priority::kPriority;
      return EnqueueResult{EnqueueOutcome::kRaised, std::move(current)};
    }
    return EnqueueResult{EnqueueOutcome::kAlreadyInFlight, std::move(current)};
  }
  if (!req.restart_finished || (req.restart_generation && *req.restart_generation != current.generation))
    return EnqueueResult{EnqueueOutcome::kUnchanged, std::move(current)};
  // A new run. Failed packages keep their attempt count so retry backoff keeps growing.
  auto stmt = conn.Prepare(
      "UPDATE packages SET state = 'pending_registry', generation = generation + 1, priority = ?, "
      "state_since = ?, attempts = CASE WHEN state = 'failed' THEN attempts ELSE 0 END, "
      "next_attempt_at = NULL, requested_version = COALESCE(?, requested_version) "
      "WHERE id = ? AND generation = ? RETURNING " PACKAGE_COLUMNS);
  if (!stmt.ok()) return stmt.status();
  (*stmt)->Bind(priority).Bind(now).BindOptional(req.version).Bind(current.id).Bind(current.generation);
  auto row = Returning(**stmt);
  if (!row.ok()) return row.status();
  if (!row->has_value()) return Status::Internal("restart updated no row");
  return EnqueueResult{EnqueueOutcome::kStarted, std::move(**row)};
}

Result<TransitionResult> SqliteStore::Impl::DoTransition(Connection& conn, const TransitionRequest& req,
                                                         Millis now) {
  if (!core::IsStageTransition(req.from, req.to) || req.to == PackageState::kFailed)
    return Status::InvalidArgument(
        fmt::format("no transition from {} to {}", StateText(req.from), StateText(req.to)));
  bool finished = req.to == PackageState::kComplete || req.to == PackageState::kNotFound;
  auto stmt = conn.Prepare(
      "UPDATE packages SET state = ?, state_since = ?, "
      "attempts = CASE WHEN ? THEN 0 ELSE attempts END, last_error = CASE WHEN ? THEN NULL ELSE last_error "
      "END "
      "WHERE ecosystem = ? AND name = ? AND state = ? AND generation = ? RETURNING " PACKAGE_COLUMNS);
  if (!stmt.ok()) return stmt.status();
  (*stmt)->Bind(StateText(req.to)).Bind(now).Bind(finished ? 1 : 0).Bind(finished ? 1 : 0);
  (*stmt)->Bind(EcoText(req.key)).Bind(req.key.name).Bind(StateText(req.from)).Bind(req.generation);
  auto row = Returning(**stmt);
  if (!row.ok()) return row.status();
  if (!row->has_value()) {
    stale_++;
    return TransitionResult{TransitionOutcome::kStale, {}};
  }
  if (!req.facts.empty()) {
    auto fact_stmt = conn.Prepare(
        "INSERT INTO package_facts (package_id, kind, generation, data, updated_at) VALUES (?, ?, ?, ?, ?) "
        "ON CONFLICT (package_id, kind) DO UPDATE SET generation = excluded.generation, data = "
        "excluded.data, "
        "updated_at = excluded.updated_at");
    if (!fact_stmt.ok()) return fact_stmt.status();
    for (const Fact& fact : req.facts) {
      (*fact_stmt)->Reset().Bind((*row)->id).Bind(fact.kind).Bind(req.generation).Bind(fact.json).Bind(now);
      if (auto s = (*fact_stmt)->Run(); !s.ok()) return s;
    }
  }
  if (finished)
    if (Status s = this->AppendChange(conn, (*row)->id, now); !s.ok()) return s;
  return TransitionResult{TransitionOutcome::kApplied, std::move(**row)};
}

Result<TransitionResult> SqliteStore::Impl::DoFailure(Connection& conn, const FailureRequest& req,
                                                      Millis now) {
  auto stmt = conn.Prepare(
      "UPDATE packages SET attempts = attempts + 1, last_error = ?, state = ?, "
      "state_since = COALESCE(?, state_since), next_attempt_at = CASE WHEN ? THEN "
      "? + MIN(?, ? * (1 << MIN(attempts, 20))) ELSE next_attempt_at END WHERE ecosystem = ? AND name = ? "
      "AND state = ? AND generation = ? RETURNING " PACKAGE_COLUMNS);
  if (!stmt.ok()) return stmt.status();
  Statement& s = **stmt;
  s.Bind(ValidUtf8(req.error, 2000)).Bind(StateText(req.give_up ? PackageState::kFailed : req.from));
  if (req.give_up)
    s.Bind(now);
  else
    s.BindNull();
  s.Bind(req.give_up ? 1 : 0).Bind(now).Bind(req.retry_max_ms).Bind(req.retry_base_ms);
  s.Bind(EcoText(req.key)).Bind(req.key.name).Bind(StateText(req.from)).Bind(req.generation);
  auto row = Returning(s);
  if (!row.ok()) return row.status();
  if (!row->has_value()) {
    stale_++;
    return TransitionResult{TransitionOutcome::kStale, {}};
  }
  return TransitionResult{TransitionOutcome::kApplied, std::move(**row)};
}

Result<bool> SqliteStore::Impl::DoTouch(Connection& conn, const core::PackageKey& key, PackageState state,
                                        std::int64_t generation, Millis now) {
  auto stmt = conn.Prepare(
      "UPDATE packages SET state_since = ? WHERE ecosystem = ? AND name = ? AND state = ? AND generation = "
      "?");
  if (!stmt.ok()) return stmt.status();
  (*stmt)->Bind(now).Bind(EcoText(key)).Bind(key.name).Bind(StateText(state)).Bind(generation);
  if (auto s = (*stmt)->Run(); !s.ok()) return s;
  return sqlite3_changes(conn.raw()) > 0;
}

Result<std::vector<PackageRecord>> SqliteStore::Impl::SelectPackages(
    const char* sql, const std::function<void(Statement&)>& bind) {
  Lease lease(*this);
  auto stmt = (*lease).Prepare(sql);
  if (!stmt.ok()) return stmt.status();
  bind(**stmt);
  std::vector<PackageRecord> out;
  Status status;
  while ((*stmt)->Step(&status)) {
    auto record = ReadRecord(**stmt);
    if (!record.ok()) return record.status();
    out.push_back(std::move(record).value());
  }
  if (!status.ok()) return status;
  return out;
}

void SqliteStore::Impl::WriterLoop() {
  std::vector<std::unique_ptr<Op>> batch;
  while (true) {
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return !queue_.empty() || closed_; });
      if (queue_.empty()) return;
      while (!queue_.empty() && batch.size() < config_.max_batch) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    RunBatch(batch);
    batch.clear();
  }
}

void SqliteStore::Impl::RunBatch(std::vector<std::unique_ptr<Op>>& batch) {
  Status status;
  for (int attempt = 0; attempt < 3; ++attempt) {
    status = writer_->Exec("BEGIN IMMEDIATE");
    if (!status.ok()) continue;
    batch_appended_change_ = false;
    Millis now = clock_.NowMillis();
    for (auto& op : batch) op->Run(*writer_, now);
    status = writer_->Exec("COMMIT");
    if (status.ok()) break;
    (void)writer_->Exec("ROLLBACK");
  }
  requests_ += static_cast<std::int64_t>(batch.size());
  if (status.ok()) {
    transactions_++;
    for (auto& op : batch) op->Complete();
    if (batch_appended_change_) {
      std::lock_guard lock(listener_mu_);
      if (change_listener_) change_listener_();
    }
  } else {
    core::Log(core::LogLevel::kError, "store", "write batch of {} failed: {}", batch.size(),
              status.message());
    for (auto& op : batch) op->Fail(status);
  }
}

}  // namespace pkgtrust::store
