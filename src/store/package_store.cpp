#include "pkgtrust/store/package_store.hpp"

#include <fmt/format.h>

#include <condition_variable>
#include <deque>
#include <future>
#include <mutex>
#include <thread>
#include <unordered_set>

#include "migrations.hpp"
#include "pkgtrust/core/log.hpp"
#include "pkgtrust/core/time.hpp"
#include "sqlite.hpp"

namespace pkgtrust::store {

using core::Millis;
using core::PackageState;
using core::Result;
using core::Status;

namespace {

// The package columns every query returns, in ReadRecord's order. A macro so that each
// statement is one string literal (prepared statements are cached by the literal's address).
#define PACKAGE_COLUMNS                                                                                    \
  "id, ecosystem, name, state, generation, priority, attempts, state_since, last_error, next_attempt_at, " \
  "requested_version, created_at"

// Appends the package's report as it is now to the change log (same transaction).
Status AppendChange(Connection& conn, std::int64_t package_id, Millis now) {
  auto insert = conn.Prepare(
      "INSERT INTO package_changes (package_id, ecosystem, name, state, generation, score, flags, committed_at) "
      "SELECT p.id, p.ecosystem, p.name, p.state, p.generation, json_extract(f.data, '$.score'), "
      "json_extract(f.data, '$.flags'), ? FROM packages p LEFT JOIN package_facts f "
      "ON f.package_id = p.id AND f.kind = 'score' AND p.state = 'complete' WHERE p.id = ?");
  if (!insert.ok()) return insert.status();
  (*insert)->Bind(now).Bind(package_id);
  if (Status s = (*insert)->Run(); !s.ok()) return s;
  auto mark = conn.Prepare(
      "UPDATE packages SET (change_offset, report_state, report_generation, score, flags) = "
      "(SELECT id, state, generation, score, flags FROM package_changes WHERE id = last_insert_rowid()) "
      "WHERE id = ?");
  if (!mark.ok()) return mark.status();
  (*mark)->Bind(package_id);
  return (*mark)->Run();
}


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

}  // namespace

// Runs a statement without parameters from the connection's cache of prepared statements.
Status RunCached(Connection& conn, const char* sql) {
  auto stmt = conn.Prepare(sql);
  return stmt.ok() ? (*stmt)->Run() : stmt.status();
}

class PackageStore::Impl {
 public:
  // A queued write: Run executes it inside the batch transaction, then Complete (after
  // the commit) or Fail (the batch could not be committed) reports to its caller.
  struct Op {
    virtual ~Op() = default;
    virtual void Run(Connection& conn, Millis now) = 0;
    virtual void Complete() = 0;
    virtual void Fail(Status status) = 0;
  };

  // How many statements an op writes. One statement is atomic by itself in SQLite; an op
  // that writes several runs inside a savepoint of the batch transaction, so that failing
  // half-way leaves nothing behind while the others in the batch still commit.
  enum class Writes { kOne, kSeveral };

  template <typename T, typename Body>
  struct TypedOp final : Op {
    TypedOp(Body b, Callback<T> d, Writes w) : body(std::move(b)), done(std::move(d)), writes(w) {}
    void Run(Connection& conn, Millis now) override {
      if (writes == Writes::kOne) {
        result.emplace(body(conn, now));
        return;
      }
      if (auto s = RunCached(conn, "SAVEPOINT op"); !s.ok()) {
        result.emplace(s);
        return;
      }
      result.emplace(body(conn, now));
      if (!result->ok()) (void)RunCached(conn, "ROLLBACK TO op");
      (void)RunCached(conn, "RELEASE op");
    }
    void Complete() override {
      if (done) done(std::move(*result));
    }
    void Fail(Status status) override {
      if (done) done(std::move(status));
    }
    Body body;
    Callback<T> done;
    Writes writes;
    std::optional<Result<T>> result;
  };

  Impl(StoreConfig config, const core::Clock& clock) : config_(std::move(config)), clock_(clock) {}

  Status Open() {
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

  ~Impl() { Close(); }

  void Close() {
    {
      std::lock_guard lock(mu_);
      if (closed_) return;
      closed_ = true;
    }
    cv_.notify_all();
    if (writer_thread_.joinable()) writer_thread_.join();
  }

  void Submit(std::unique_ptr<Op> op) {
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

  // ---- operations run on the writer connection, inside the batch transaction ----------

  Result<std::optional<PackageRecord>> SelectByKey(Connection& conn, const core::PackageKey& key) {
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

  // Runs an UPDATE/INSERT ... RETURNING <columns>; nullopt when no row was affected.
  Result<std::optional<PackageRecord>> Returning(Statement& s) {
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

  Result<EnqueueResult> DoEnqueue(Connection& conn, const EnqueueRequest& req, Millis now) {
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

  Result<TransitionResult> DoTransition(Connection& conn, const TransitionRequest& req, Millis now) {
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
      if (Status s = AppendChange(conn, (*row)->id, now); !s.ok()) return s;
    return TransitionResult{TransitionOutcome::kApplied, std::move(**row)};
  }

  Result<TransitionResult> DoFailure(Connection& conn, const FailureRequest& req, Millis now) {
    auto stmt = conn.Prepare(
        "UPDATE packages SET attempts = attempts + 1, last_error = ?, state = ?, "
        "state_since = COALESCE(?, state_since), next_attempt_at = CASE WHEN ? THEN "
        "? + MIN(?, ? * (1 << MIN(attempts, 20))) ELSE next_attempt_at END WHERE ecosystem = ? AND name = ? "
        "AND state = ? AND generation = ? RETURNING " PACKAGE_COLUMNS);
    if (!stmt.ok()) return stmt.status();
    Statement& s = **stmt;
    s.Bind(req.error.substr(0, 2000)).Bind(StateText(req.give_up ? PackageState::kFailed : req.from));
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

  Result<bool> DoTouch(Connection& conn, const core::PackageKey& key, PackageState state,
                       std::int64_t generation, Millis now) {
    auto stmt = conn.Prepare(
        "UPDATE packages SET state_since = ? WHERE ecosystem = ? AND name = ? AND state = ? AND generation = "
        "?");
    if (!stmt.ok()) return stmt.status();
    (*stmt)->Bind(now).Bind(EcoText(key)).Bind(key.name).Bind(StateText(state)).Bind(generation);
    if (auto s = (*stmt)->Run(); !s.ok()) return s;
    return sqlite3_changes(conn.raw()) > 0;
  }

  // Queues `body` (Connection&, Millis) -> Result<T>; `done` gets its result after the commit.
  template <typename T, typename F>
  void SubmitOp(F&& body, Callback<T> done, Writes writes = Writes::kSeveral) {
    Submit(std::make_unique<TypedOp<T, std::decay_t<F>>>(std::forward<F>(body), std::move(done), writes));
  }

  // ---- reads ----------------------------------------------------------------------------

  class Lease {
   public:
    Lease(Impl& impl) : impl_(impl) {
      std::unique_lock lock(impl_.read_mu_);
      impl_.read_cv_.wait(lock, [&] { return !impl_.readers_.empty(); });
      conn_ = std::move(impl_.readers_.back());
      impl_.readers_.pop_back();
    }
    ~Lease() {
      std::lock_guard lock(impl_.read_mu_);
      impl_.readers_.push_back(std::move(conn_));
      impl_.read_cv_.notify_one();
    }
    Connection& operator*() { return *conn_; }

   private:
    Impl& impl_;
    std::unique_ptr<Connection> conn_;
  };

  // Rows of `sql` (which selects PACKAGE_COLUMNS) with its parameters bound by `bind`.
  Result<std::vector<PackageRecord>> SelectPackages(const char* sql,
                                                    const std::function<void(Statement&)>& bind) {
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

  StoreConfig config_;
  const core::Clock& clock_;
  std::unique_ptr<Connection> writer_;
  std::mutex read_mu_;
  std::condition_variable read_cv_;
  std::vector<std::unique_ptr<Connection>> readers_;
  std::atomic<std::int64_t> requests_{0}, transactions_{0}, stale_{0};

 private:
  void WriterLoop() {
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

  void RunBatch(std::vector<std::unique_ptr<Op>>& batch) {
    Status status;
    for (int attempt = 0; attempt < 3; ++attempt) {
      status = writer_->Exec("BEGIN IMMEDIATE");
      if (!status.ok()) continue;
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
    } else {
      core::Log(core::LogLevel::kError, "store", "write batch of {} failed: {}", batch.size(),
                status.message());
      for (auto& op : batch) op->Fail(status);
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::unique_ptr<Op>> queue_;
  bool closed_ = false;
  std::thread writer_thread_;
};

PackageStore::PackageStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
PackageStore::~PackageStore() = default;

Result<std::unique_ptr<PackageStore>> PackageStore::Open(StoreConfig config, const core::Clock& clock) {
  auto impl = std::make_unique<Impl>(std::move(config), clock);
  if (auto s = impl->Open(); !s.ok()) return s;
  return std::unique_ptr<PackageStore>(new PackageStore(std::move(impl)));
}

void PackageStore::Close() { impl_->Close(); }

void PackageStore::Enqueue(EnqueueRequest request, Callback<EnqueueResult> done) {
  impl_->SubmitOp<EnqueueResult>([impl = impl_.get(), req = std::move(request)](
                                     Connection& c, Millis now) { return impl->DoEnqueue(c, req, now); },
                                 std::move(done), Impl::Writes::kOne);
}

void PackageStore::EnqueueMany(std::vector<EnqueueRequest> requests,
                               Callback<std::vector<EnqueueResult>> done) {
  impl_->SubmitOp<std::vector<EnqueueResult>>(
      [impl = impl_.get(), reqs = std::move(requests)](Connection& c,
                                                       Millis now) -> Result<std::vector<EnqueueResult>> {
        std::vector<EnqueueResult> out;
        out.reserve(reqs.size());
        for (const EnqueueRequest& req : reqs) {
          auto r = impl->DoEnqueue(c, req, now);
          if (!r.ok()) return r.status();
          out.push_back(std::move(r).value());
        }
        return out;
      },
      std::move(done));
}

void PackageStore::Transition(TransitionRequest request, Callback<TransitionResult> done) {
  auto writes = request.facts.empty() ? Impl::Writes::kOne : Impl::Writes::kSeveral;
  impl_->SubmitOp<TransitionResult>(
      [impl = impl_.get(), req = std::move(request)](Connection& c, Millis now) {
        return impl->DoTransition(c, req, now);
      },
      std::move(done), writes);
}

void PackageStore::RecordFailure(FailureRequest request, Callback<TransitionResult> done) {
  impl_->SubmitOp<TransitionResult>([impl = impl_.get(), req = std::move(request)](
                                        Connection& c, Millis now) { return impl->DoFailure(c, req, now); },
                                    std::move(done), Impl::Writes::kOne);
}

void PackageStore::Touch(core::PackageKey key, PackageState state, std::int64_t generation,
                         Callback<bool> done) {
  impl_->SubmitOp<bool>(
      [impl = impl_.get(), key = std::move(key), state, generation](Connection& c, Millis now) {
        return impl->DoTouch(c, key, state, generation, now);
      },
      std::move(done), Impl::Writes::kOne);
}

namespace {
template <typename T, typename Submit>
Result<T> Wait(Submit&& submit) {
  std::promise<Result<T>> promise;
  auto future = promise.get_future();
  submit([&promise](Result<T> result) { promise.set_value(std::move(result)); });
  return future.get();
}
}  // namespace

Result<EnqueueResult> PackageStore::EnqueueSync(EnqueueRequest request) {
  return Wait<EnqueueResult>([&](auto done) { Enqueue(std::move(request), std::move(done)); });
}

Result<TransitionResult> PackageStore::TransitionSync(TransitionRequest request) {
  return Wait<TransitionResult>([&](auto done) { Transition(std::move(request), std::move(done)); });
}

Result<std::vector<EnqueueResult>> PackageStore::EnqueueManySync(std::vector<EnqueueRequest> requests) {
  return Wait<std::vector<EnqueueResult>>(
      [&](auto done) { EnqueueMany(std::move(requests), std::move(done)); });
}

Result<std::optional<PackageRecord>> PackageStore::Get(const core::PackageKey& key) {
  Impl::Lease lease(*impl_);
  return impl_->SelectByKey(*lease, key);
}

Result<std::vector<Fact>> PackageStore::GetFacts(const core::PackageKey& key) {
  Impl::Lease lease(*impl_);
  auto stmt = (*lease).Prepare(
      "SELECT f.kind, f.data FROM package_facts f JOIN packages p ON p.id = f.package_id "
      "WHERE p.ecosystem = ? AND p.name = ? ORDER BY f.kind");
  if (!stmt.ok()) return stmt.status();
  (*stmt)->Bind(EcoText(key)).Bind(key.name);
  std::vector<Fact> facts;
  Status status;
  while ((*stmt)->Step(&status)) facts.push_back({(*stmt)->Text(0), (*stmt)->Text(1)});
  if (!status.ok()) return status;
  return facts;
}

Result<std::optional<std::string>> PackageStore::GetFact(const core::PackageKey& key, std::string_view kind) {
  Impl::Lease lease(*impl_);
  auto stmt = (*lease).Prepare(
      "SELECT f.data FROM package_facts f JOIN packages p ON p.id = f.package_id "
      "WHERE p.ecosystem = ? AND p.name = ? AND f.kind = ?");
  if (!stmt.ok()) return stmt.status();
  (*stmt)->Bind(EcoText(key)).Bind(key.name).Bind(kind);
  Status status;
  std::optional<std::string> data;
  if ((*stmt)->Step(&status)) data = (*stmt)->Text(0);
  if (!status.ok()) return status;
  return data;
}

Result<std::optional<StoredRepository>> PackageStore::GetRepository(const std::string& key) {
  Impl::Lease lease(*impl_);
  auto stmt = (*lease).Prepare("SELECT facts, outcome, read_at FROM repositories WHERE key = ?");
  if (!stmt.ok()) return stmt.status();
  (*stmt)->Bind(key);
  Status status;
  std::optional<StoredRepository> found;
  if ((*stmt)->Step(&status))
    found = StoredRepository{key, (*stmt)->Text(0), (*stmt)->Text(1), (*stmt)->Int(2)};
  if (!status.ok()) return status;
  return found;
}

Status PackageStore::PutRepositorySync(StoredRepository repository) {
  auto stored = Wait<bool>([&](auto done) {
    impl_->SubmitOp<bool>(
        [r = std::move(repository)](Connection& c, Millis) -> Result<bool> {
          auto stmt = c.Prepare(
              "INSERT OR REPLACE INTO repositories (key, facts, outcome, read_at) VALUES (?, ?, ?, ?)");
          if (!stmt.ok()) return stmt.status();
          (*stmt)->Bind(r.key).Bind(r.facts_json).Bind(r.outcome).Bind(r.read_at);
          if (Status s = (*stmt)->Run(); !s.ok()) return s;
          return true;
        },
        std::move(done));
  });
  return stored.ok() ? Status::Ok() : stored.status();
}

Result<std::vector<Millis>> PackageStore::ClaimRepositoryReadsSync(std::vector<std::string> keys,
                                                                   std::string owner, Millis until,
                                                                   Millis now) {
  return Wait<std::vector<Millis>>([&](auto done) {
    impl_->SubmitOp<std::vector<Millis>>(
        [keys = std::move(keys), owner = std::move(owner), until, now](
            Connection& c, Millis) -> Result<std::vector<Millis>> {
          // The upsert changes a row only when the claim may pass; otherwise the holder's
          // `until` says how long to wait.
          auto claim = c.Prepare(
              "INSERT INTO repository_reads (key, owner, until) VALUES (?, ?, ?) "
              "ON CONFLICT (key) DO UPDATE SET owner = excluded.owner, until = excluded.until "
              "WHERE repository_reads.until < ? OR repository_reads.owner = excluded.owner");
          if (!claim.ok()) return claim.status();
          auto holder = c.Prepare("SELECT until FROM repository_reads WHERE key = ?");
          if (!holder.ok()) return holder.status();
          std::vector<Millis> result;
          for (const std::string& key : keys) {
            (*claim)->Reset();
            (*claim)->Bind(key).Bind(owner).Bind(until).Bind(now);
            if (Status s = (*claim)->Run(); !s.ok()) return s;
            if (sqlite3_changes(c.raw()) > 0) {
              result.push_back(0);
              continue;
            }
            (*holder)->Reset();
            (*holder)->Bind(key);
            Status status;
            Millis held = (*holder)->Step(&status) ? (*holder)->Int(0) : now;
            (*holder)->Finish();
            if (!status.ok()) return status;
            result.push_back(std::max<Millis>(held, 1));
          }
          return result;
        },
        std::move(done));
  });
}

Status PackageStore::EndRepositoryReadsSync(std::vector<std::string> keys, std::string owner) {
  auto ended = Wait<bool>([&](auto done) {
    impl_->SubmitOp<bool>(
        [keys = std::move(keys), owner = std::move(owner)](Connection& c, Millis) -> Result<bool> {
          auto stmt = c.Prepare("DELETE FROM repository_reads WHERE key = ? AND owner = ?");
          if (!stmt.ok()) return stmt.status();
          for (const std::string& key : keys) {
            (*stmt)->Reset();
            (*stmt)->Bind(key).Bind(owner);
            if (Status s = (*stmt)->Run(); !s.ok()) return s;
          }
          return true;
        },
        std::move(done));
  });
  return ended.ok() ? Status::Ok() : ended.status();
}

Result<std::vector<PackageRecord>> PackageStore::ListStuck(Millis since, std::size_t limit) {
  return impl_->SelectPackages("SELECT " PACKAGE_COLUMNS
                               " FROM packages WHERE state IN ('pending_registry', "
                               "'pending_repository', 'pending_score') AND state_since < ? "
                               "ORDER BY state_since LIMIT ?",
                               [&](Statement& s) { s.Bind(since).Bind(static_cast<std::int64_t>(limit)); });
}

Result<std::vector<PackageRecord>> PackageStore::ListRetryable(Millis now, std::size_t limit) {
  return impl_->SelectPackages("SELECT " PACKAGE_COLUMNS
                               " FROM packages WHERE state = 'failed' AND next_attempt_at <= ? "
                               "ORDER BY next_attempt_at LIMIT ?",
                               [&](Statement& s) { s.Bind(now).Bind(static_cast<std::int64_t>(limit)); });
}

Result<std::vector<PackageRecord>> PackageStore::ListStale(Millis before, std::size_t limit) {
  return impl_->SelectPackages("SELECT " PACKAGE_COLUMNS
                               " FROM packages WHERE state = 'complete' AND state_since < ? "
                               "ORDER BY state_since LIMIT ?",
                               [&](Statement& s) { s.Bind(before).Bind(static_cast<std::int64_t>(limit)); });
}

Result<std::map<PackageState, std::int64_t>> PackageStore::CountByState() {
  Impl::Lease lease(*impl_);
  auto stmt = (*lease).Prepare("SELECT state, COUNT(*) FROM packages GROUP BY state");
  if (!stmt.ok()) return stmt.status();
  std::map<PackageState, std::int64_t> counts;
  for (PackageState s : core::kAllPackageStates) counts[s] = 0;
  Status status;
  while ((*stmt)->Step(&status))
    if (auto state = core::ParsePackageState((*stmt)->TextView(0))) counts[*state] = (*stmt)->Int(1);
  if (!status.ok()) return status;
  return counts;
}

Result<std::vector<PackageChange>> PackageStore::ReadChanges(std::int64_t after_offset, std::size_t limit) {
  Impl::Lease lease(*impl_);
  auto stmt = (*lease).Prepare(
      "SELECT id, ecosystem, name, state, generation, score, flags, committed_at FROM package_changes "
      "WHERE id > ? ORDER BY id LIMIT ?");
  if (!stmt.ok()) return stmt.status();
  (*stmt)->Bind(after_offset).Bind(static_cast<std::int64_t>(limit));
  std::vector<PackageChange> changes;
  Status status;
  while ((*stmt)->Step(&status)) {
    const Statement& row = **stmt;
    auto eco = core::ParseEcosystem(row.TextView(1));
    auto state = core::ParsePackageState(row.TextView(3));
    if (!eco || !state) return Status::Internal(fmt::format("change {}: unreadable row", row.Int(0)));
    PackageChange change;
    change.offset = row.Int(0);
    change.key = {*eco, std::string(row.TextView(2))};
    change.state = *state;
    change.generation = row.Int(4);
    if (!row.IsNull(5)) change.score = row.Double(5);
    change.flags_json = std::string(row.TextView(6));
    change.committed_at = row.Int(7);
    changes.push_back(std::move(change));
  }
  if (!status.ok()) return status;
  return changes;
}

Result<StatePage> PackageStore::ReadState(std::int64_t after_id, std::size_t limit) {
  Impl::Lease lease(*impl_);
  auto stmt = (*lease).Prepare(
      "SELECT id, ecosystem, name, report_state, report_generation, score, flags, state_since, change_offset "
      "FROM packages WHERE id > ? AND report_state IS NOT NULL ORDER BY id LIMIT ?");
  if (!stmt.ok()) return stmt.status();
  (*stmt)->Bind(after_id).Bind(static_cast<std::int64_t>(limit));
  StatePage page;
  page.next_after_id = after_id;
  std::size_t rows = 0;
  Status status;
  while ((*stmt)->Step(&status)) {
    const Statement& row = **stmt;
    rows++;
    page.next_after_id = row.Int(0);
    auto eco = core::ParseEcosystem(row.TextView(1));
    auto state = core::ParsePackageState(row.TextView(3));
    if (!eco || !state) continue;  // not a state this build knows: skipped
    PackageChange entry;
    entry.key = {*eco, std::string(row.TextView(2))};
    entry.state = *state;
    entry.generation = row.Int(4);
    if (!row.IsNull(5)) entry.score = row.Double(5);
    entry.flags_json = std::string(row.TextView(6));
    entry.committed_at = row.Int(7);
    entry.offset = row.Int(8);
    page.packages.push_back(std::move(entry));
  }
  if (!status.ok()) return status;
  page.done = rows < limit;
  return page;
}

Result<ChangeLogBounds> PackageStore::GetChangeLogBounds() {
  Impl::Lease lease(*impl_);
  auto stmt = (*lease).Prepare(
      "SELECT (SELECT MIN(id) FROM package_changes), "
      "COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'package_changes'), 0)");
  if (!stmt.ok()) return stmt.status();
  Status status;
  if (!(*stmt)->Step(&status)) return status.ok() ? Status::Internal("change log bounds: no row") : status;
  ChangeLogBounds bounds;
  bounds.last = (*stmt)->Int(1);
  bounds.first = (*stmt)->IsNull(0) ? bounds.last + 1 : (*stmt)->Int(0);
  (void)(*stmt)->Run();
  return bounds;
}

Result<std::int64_t> PackageStore::CompactChangesSync(std::int64_t keep_count, Millis keep_since) {
  return Wait<std::int64_t>([&](auto done) {
    impl_->SubmitOp<std::int64_t>(
        [keep_count, keep_since](Connection& c, Millis) -> Result<std::int64_t> {
          // The cut is one offset: everything below it goes, so the log stays gap-free.
          auto stmt = c.Prepare(
              "DELETE FROM package_changes WHERE id < MAX("
              "COALESCE((SELECT MAX(id) FROM package_changes), 0) - ? + 1, "
              "COALESCE((SELECT MIN(id) FROM package_changes WHERE committed_at >= ?), "
              "(SELECT COALESCE(MAX(id), 0) + 1 FROM package_changes)))");
          if (!stmt.ok()) return stmt.status();
          (*stmt)->Bind(std::max<std::int64_t>(keep_count, 0)).Bind(keep_since);
          if (Status s = (*stmt)->Run(); !s.ok()) return s;
          return static_cast<std::int64_t>(sqlite3_changes(c.raw()));
        },
        std::move(done));
  });
}

Result<AdvisoryImport> PackageStore::ImportAdvisoriesSync(std::vector<Advisory> advisories) {
  // The rows of one record (id) together, in the order given.
  std::stable_sort(advisories.begin(), advisories.end(),
                   [](const Advisory& a, const Advisory& b) { return a.id < b.id; });
  return Wait<AdvisoryImport>([&](auto done) {
    impl_->SubmitOp<AdvisoryImport>(
        [list = std::move(advisories)](Connection& c, Millis) -> Result<AdvisoryImport> {
          auto stored = c.Prepare("SELECT ecosystem, name, modified FROM advisories WHERE id = ?");
          auto remove = c.Prepare("DELETE FROM advisories WHERE id = ?");
          auto insert = c.Prepare(
              "INSERT OR REPLACE INTO advisories (ecosystem, name, id, summary, versions, modified, ranges, "
              "withdrawn, published) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)");
          for (auto* stmt : {&stored, &remove, &insert})
            if (!stmt->ok()) return stmt->status();
          AdvisoryImport result;
          std::unordered_set<core::PackageKey, core::PackageKeyHash> changed;
          for (std::size_t begin = 0, end = 0; begin < list.size(); begin = end) {
            const std::string& id = list[begin].id;
            end = begin;
            while (end < list.size() && list[end].id == id) ++end;
            // The stored copy: its packages, and its modified time.
            std::vector<core::PackageKey> before;
            std::string stored_modified;
            (*stored)->Reset().Bind(id);
            Status status;
            while ((*stored)->Step(&status)) {
              if (auto eco = core::ParseEcosystem((*stored)->TextView(0))) before.push_back({*eco, (*stored)->Text(1)});
              stored_modified = std::max(stored_modified, (*stored)->Text(2));
            }
            if (!status.ok()) return status;
            if (!before.empty()) {
              auto old_time = core::ParseTimestamp(stored_modified);
              auto new_time = core::ParseTimestamp(list[begin].modified);
              bool newer = old_time && new_time ? *new_time > *old_time : list[begin].modified > stored_modified;
              if (!newer) {
                result.records_unchanged++;
                continue;
              }
              if (Status s = (*remove)->Reset().Bind(id).Run(); !s.ok()) return s;
              for (const core::PackageKey& key : before) changed.insert(key);
              result.records_updated++;
            } else {
              result.records_new++;
            }
            for (std::size_t i = begin; i < end; ++i) {
              const Advisory& a = list[i];
              (*insert)
                  ->Reset()
                  .Bind(EcoText(a.key))
                  .Bind(a.key.name)
                  .Bind(a.id)
                  .Bind(a.summary)
                  .Bind(a.versions)
                  .Bind(a.modified)
                  .Bind(a.ranges)
                  .Bind(a.withdrawn)
                  .Bind(a.published);
              if (auto s = (*insert)->Run(); !s.ok()) return s;
              changed.insert(a.key);
            }
          }
          result.changed_packages.assign(changed.begin(), changed.end());
          std::sort(result.changed_packages.begin(), result.changed_packages.end(),
                    [](const core::PackageKey& a, const core::PackageKey& b) { return a.ToString() < b.ToString(); });
          return result;
        },
        std::move(done));
  });
}

Result<std::vector<PackageRecord>> PackageStore::ListByState(PackageState state, std::int64_t after_id,
                                                             std::size_t limit) {
  return impl_->SelectPackages(
      "SELECT " PACKAGE_COLUMNS " FROM packages WHERE state = ? AND id > ? ORDER BY id LIMIT ?",
      [&](Statement& s) { s.Bind(StateText(state)).Bind(after_id).Bind(static_cast<std::int64_t>(limit)); });
}

Result<std::vector<PackageRecord>> PackageStore::ListByPrefix(core::Ecosystem ecosystem,
                                                              const std::string& prefix,
                                                              const std::string& after, std::size_t limit) {
  // 0xFF never occurs in UTF-8, so prefix + "\xff" bounds the range on the (ecosystem, name) index.
  std::string upper = prefix + '\xff';
  const std::string& lower = after > prefix ? after : prefix;
  return impl_->SelectPackages("SELECT " PACKAGE_COLUMNS
                               " FROM packages WHERE ecosystem = ? AND name >= ? AND name < ? AND name != ? "
                               "ORDER BY name LIMIT ?",
                               [&](Statement& s) {
                                 s.Bind(core::EcosystemName(ecosystem))
                                     .Bind(lower)
                                     .Bind(upper)
                                     .Bind(after)
                                     .Bind(static_cast<std::int64_t>(limit));
                               });
}

Result<bool> PackageStore::PutCompleteFactSync(const core::PackageKey& key, std::int64_t generation,
                                               Fact fact) {
  return Wait<bool>([&](auto done) {
    impl_->SubmitOp<bool>(
        [key, generation, fact = std::move(fact)](Connection& c, Millis now) -> Result<bool> {
          // A new score or new flags are a change of the report: the change log gets it.
          bool report_changes = false;
          std::int64_t package_id = 0;
          if (fact.kind == "score") {
            auto old = c.Prepare(
                "SELECT p.id, f.data IS NULL OR json_extract(f.data, '$.score') IS NOT json_extract(?, '$.score') "
                "OR json_extract(f.data, '$.flags') IS NOT json_extract(?, '$.flags') "
                "FROM packages p LEFT JOIN package_facts f ON f.package_id = p.id AND f.kind = 'score' "
                "WHERE p.ecosystem = ? AND p.name = ? AND p.generation = ? AND p.state = 'complete'");
            if (!old.ok()) return old.status();
            (*old)->Bind(fact.json).Bind(fact.json).Bind(EcoText(key)).Bind(key.name).Bind(generation);
            Status step;
            if ((*old)->Step(&step)) {
              package_id = (*old)->Int(0);
              report_changes = (*old)->Int(1) != 0;
            }
            (void)(*old)->Run();
            if (!step.ok()) return step;
          }
          auto stmt = c.Prepare(
              "INSERT OR REPLACE INTO package_facts (package_id, kind, generation, data, updated_at) "
              "SELECT id, ?, generation, ?, ? FROM packages "
              "WHERE ecosystem = ? AND name = ? AND generation = ? AND state = 'complete'");
          if (!stmt.ok()) return stmt.status();
          (*stmt)
              ->Bind(fact.kind)
              .Bind(fact.json)
              .Bind(now)
              .Bind(EcoText(key))
              .Bind(key.name)
              .Bind(generation);
          if (auto s = (*stmt)->Run(); !s.ok()) return s;
          bool stored = sqlite3_changes(c.raw()) > 0;
          if (stored && report_changes)
            if (Status s = AppendChange(c, package_id, now); !s.ok()) return s;
          return stored;
        },
        std::move(done));
  });
}

Result<std::vector<Advisory>> PackageStore::FindAdvisories(const core::PackageKey& key) {
  Impl::Lease lease(*impl_);
  auto stmt = (*lease).Prepare(
      "SELECT id, summary, versions, modified, ranges, withdrawn, published FROM advisories "
      "WHERE ecosystem = ? AND name = ? ORDER BY id");
  if (!stmt.ok()) return stmt.status();
  (*stmt)->Bind(EcoText(key)).Bind(key.name);
  std::vector<Advisory> out;
  Status status;
  while ((*stmt)->Step(&status)) {
    const Statement& row = **stmt;
    out.push_back({key, row.Text(0), row.Text(1), row.Text(2), row.Text(3), row.Text(4), row.Text(5), row.Text(6)});
  }
  if (!status.ok()) return status;
  return out;
}

int PackageStore::SchemaVersion() {
  Impl::Lease lease(*impl_);
  return CurrentSchemaVersion(*lease);
}

PackageStore::WriterStats PackageStore::GetWriterStats() const {
  return {impl_->requests_.load(), impl_->transactions_.load(), impl_->stale_.load()};
}

}  // namespace pkgtrust::store
