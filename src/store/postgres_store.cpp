// The PostgreSQL store. Its rules are SqliteStore's (the conformance suite runs the same
// tests on both); what differs is how several processes share one database:
//
//  - Writes are queued and committed in batches by one writer thread per process. A batch
//    is one transaction sent in libpq's pipeline mode: BEGIN, the batch's id, every
//    operation's statements, the change log's sequencing step and COMMIT go out together
//    and their results come back together, so a batch costs one round trip however many
//    operations it holds. Every operation is one or two statements whose conditions are
//    checked by the server (UPDATE ... WHERE state = $ AND generation = $, INSERT ... ON
//    CONFLICT, or a server-side function), so nothing in a batch waits for the client.
//  - A lost connection is re-established and the batch retried without double effects:
//    each batch writes its id into store_batches; after a connection lost during the
//    COMMIT, the writer looks the id up to learn whether the batch committed.
//  - Deadlocks and serialization failures between processes roll the batch back; it runs
//    again (its operations are conditional, so running again is safe).
//  - Change log offsets are given in commit order (pkgtrust_sequence_changes in
//    postgres_migrations.cpp explains how), and a NOTIFY wakes every process's change
//    stream (the listener thread below).
//  - The reconciler claims stuck packages with FOR UPDATE SKIP LOCKED (ClaimStuckSync).
#include "postgres_store.hpp"

#include <fmt/format.h>
#include <poll.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <random>
#include <thread>
#include <unordered_set>

#include "advisory_import.hpp"
#include "pkgtrust/core/log.hpp"
#include "postgres.hpp"
#include "postgres_migrations.hpp"
#include "valid_utf8.hpp"

namespace pkgtrust::store {

using core::Millis;
using core::PackageState;
using core::Result;
using core::Status;

namespace {

// The package columns every query returns, in ReadPgRecord's order.
#define PG_PACKAGE_COLUMNS                                                                                 \
  "id, ecosystem, name, state, generation, priority, attempts, state_since, last_error, next_attempt_at, " \
  "requested_version, created_at"

Result<PackageRecord> ReadPgRecord(const PgResult& rows, int row, int first_col = 0) {
  PackageRecord r;
  int c = first_col;
  r.id = rows.Int(row, c);
  auto eco = core::ParseEcosystem(rows.TextView(row, c + 1));
  auto state = core::ParsePackageState(rows.TextView(row, c + 3));
  if (!eco || !state) return Status::Internal(fmt::format("corrupt package row {}", r.id));
  r.key = {*eco, rows.Text(row, c + 2)};
  r.state = *state;
  r.generation = rows.Int(row, c + 4);
  r.priority = rows.Int(row, c + 5) == 1 ? core::Priority::kPriority : core::Priority::kRegular;
  r.attempts = static_cast<int>(rows.Int(row, c + 6));
  r.state_since = rows.Int(row, c + 7);
  r.last_error = rows.Text(row, c + 8);
  r.next_attempt_at = rows.IsNull(row, c + 9) ? 0 : rows.Int(row, c + 9);
  r.requested_version = rows.Text(row, c + 10);
  r.created_at = rows.Int(row, c + 11);
  return r;
}

Result<std::vector<PackageRecord>> ReadPgRecords(const PgResult& rows, int first_col = 0) {
  std::vector<PackageRecord> out;
  out.reserve(rows.rows());
  for (int i = 0; i < rows.rows(); ++i) {
    auto record = ReadPgRecord(rows, i, first_col);
    if (!record.ok()) return record.status();
    out.push_back(std::move(record).value());
  }
  return out;
}

std::string_view EcoName(const core::PackageKey& key) { return core::EcosystemName(key.ecosystem); }
std::string_view StateName(PackageState s) { return core::PackageStateName(s); }

// The writer's statements, prepared once on each (re)connection.
const char* const kEnqueueSql =
    "SELECT e.outcome, (e.pkg).id, (e.pkg).ecosystem, (e.pkg).name, (e.pkg).state, (e.pkg).generation, "
    "(e.pkg).priority, (e.pkg).attempts, (e.pkg).state_since, (e.pkg).last_error, (e.pkg).next_attempt_at, "
    "(e.pkg).requested_version, (e.pkg).created_at "
    "FROM pkgtrust_enqueue($1, $2, $3, $4, $5, $6, $7) e";

// A conditional transition with its facts and, for a finished run, its change-log row, in
// one statement: the UPDATE ... WHERE state = $from AND generation = $generation RETURNING
// finds no row when the message is stale or a duplicate, and then the facts and the change
// (which select FROM moved) write nothing either. The change's offset is given by the
// sequencing step at the end of the transaction.
const char* const kTransitionSql = R"sql(
WITH new_facts AS (SELECT * FROM unnest($9::text[], $10::text[]) AS f(kind, data)),
moved AS (
  UPDATE packages SET state = $1, state_since = $2,
      attempts = CASE WHEN $3 THEN 0 ELSE attempts END,
      last_error = CASE WHEN $3 THEN NULL ELSE last_error END
    WHERE ecosystem = $4 AND name = $5 AND state = $6 AND generation = $7
    RETURNING )sql" PG_PACKAGE_COLUMNS R"sql(),
stored AS (
  INSERT INTO package_facts (package_id, kind, generation, data, updated_at)
    SELECT moved.id, new_facts.kind, $7, new_facts.data, $2 FROM moved, new_facts
    ON CONFLICT (package_id, kind) DO UPDATE
      SET generation = excluded.generation, data = excluded.data, updated_at = excluded.updated_at),
score AS (
  SELECT COALESCE((SELECT data FROM new_facts WHERE kind = 'score'),
                  (SELECT f.data FROM package_facts f, moved WHERE f.package_id = moved.id AND f.kind = 'score'))
    AS data),
changed AS (
  INSERT INTO package_changes (package_id, ecosystem, name, state, generation, score, flags, committed_at)
    SELECT moved.id, moved.ecosystem, moved.name, moved.state, moved.generation,
           CASE WHEN moved.state = 'complete' AND json_typeof(score.data::json->'score') = 'number'
             THEN (score.data::json->>'score')::float8 END,
           CASE WHEN moved.state = 'complete' THEN (score.data::json->'flags')::text END, $2
    FROM moved, score WHERE $8)
SELECT )sql" PG_PACKAGE_COLUMNS " FROM moved";

// Steps within runs (transitions that do not finish a run: no change-log row; at most one
// fact each), the common case: the consecutive steps of a batch go as one set-based
// statement, each row of `input` one step, the same conditional UPDATE (a step whose
// package is not in its `from` state and generation matches nothing) joined on the
// unique key, and its fact written for the steps that applied. A batch puts a package at
// most once in such a group (writer: SendBatch), so the group means what the steps one
// after another would (pkgtrust_bench store: 51,000 steps/s against 30,000 with one
// statement per step).
const char* const kStepsSql = R"sql(
WITH input AS (
  SELECT * FROM unnest($2::text[], $3::text[], $4::text[], $5::bigint[], $6::text[], $7::text[], $8::text[])
    WITH ORDINALITY AS i(ecosystem, name, from_state, generation, to_state, kind, data, ord)),
moved AS (
  UPDATE packages p SET state = i.to_state, state_since = $1
    FROM input i
    WHERE p.ecosystem = i.ecosystem AND p.name = i.name AND p.state = i.from_state AND p.generation = i.generation
    RETURNING i.ord, i.kind, i.data, p.id, p.ecosystem, p.name, p.state, p.generation, p.priority, p.attempts,
      p.state_since, p.last_error, p.next_attempt_at, p.requested_version, p.created_at),
stored AS (
  INSERT INTO package_facts (package_id, kind, generation, data, updated_at)
    SELECT id, kind, generation, data, $1 FROM moved WHERE kind <> ''
    ON CONFLICT (package_id, kind) DO UPDATE
      SET generation = excluded.generation, data = excluded.data, updated_at = excluded.updated_at)
SELECT ord, )sql" PG_PACKAGE_COLUMNS " FROM moved";

const char* const kFailureSql =
    "UPDATE packages SET attempts = attempts + 1, last_error = $1, state = $2, "
    "state_since = COALESCE($3, state_since), next_attempt_at = CASE WHEN $4 THEN "
    "$5 + LEAST($6, $7 * (1::bigint << LEAST(attempts, 20))) ELSE next_attempt_at END "
    "WHERE ecosystem = $8 AND name = $9 AND state = $10 AND generation = $11 RETURNING " PG_PACKAGE_COLUMNS;

const char* const kTouchSql =
    "UPDATE packages SET state_since = $1 WHERE ecosystem = $2 AND name = $3 AND state = $4 AND generation = "
    "$5";

// Several reconcilers claim stuck packages at once: FOR UPDATE SKIP LOCKED passes over the
// rows another process's claim holds (instead of waiting for them), and once that claim
// commits those rows have state_since = now and no longer match. So each stuck package is
// claimed, and re-published, by one process.
const char* const kClaimStuckSql =
    "UPDATE packages SET state_since = $1 WHERE id IN (SELECT id FROM packages "
    "WHERE state IN ('pending_registry', 'pending_repository', 'pending_score') AND state_since < $2 "
    "ORDER BY state_since LIMIT $3 FOR UPDATE SKIP LOCKED) RETURNING " PG_PACKAGE_COLUMNS;

const char* const kPutFactSql = "SELECT pkgtrust_put_complete_fact($1, $2, $3, $4, $5, $6)";

const char* const kPutRepositorySql =
    "INSERT INTO repositories (key, facts, outcome, read_at) VALUES ($1, $2, $3, $4) "
    "ON CONFLICT (key) DO UPDATE SET facts = excluded.facts, outcome = excluded.outcome, "
    "read_at = excluded.read_at";

// The claim passes when nobody holds the key, the holder's claim expired, or the owner
// holds it already; otherwise the holder's `until` says how long to wait.
const char* const kClaimReadSql =
    "WITH claimed AS (INSERT INTO repository_reads (key, owner, until) VALUES ($1, $2, $3) "
    "ON CONFLICT (key) DO UPDATE SET owner = excluded.owner, until = excluded.until "
    "WHERE repository_reads.until < $4 OR repository_reads.owner = excluded.owner RETURNING 0::bigint AS "
    "until) "
    "SELECT until FROM claimed UNION ALL "
    "SELECT GREATEST(until, 1) FROM repository_reads WHERE key = $1 AND NOT EXISTS (SELECT 1 FROM claimed)";

const char* const kEndReadSql = "DELETE FROM repository_reads WHERE key = $1 AND owner = $2";

// The cut is one offset: everything below it goes, so the log stays gap-free.
const char* const kCompactSql =
    "DELETE FROM package_changes WHERE change_offset < GREATEST("
    "COALESCE((SELECT MAX(change_offset) FROM package_changes), 0) - $1 + 1, "
    "COALESCE((SELECT MIN(change_offset) FROM package_changes WHERE committed_at >= $2), "
    "(SELECT COALESCE(MAX(change_offset), 0) + 1 FROM package_changes)))";

const std::vector<std::pair<std::string, std::string>>& WriterStatements() {
  static const std::vector<std::pair<std::string, std::string>> statements = {
      {"enqueue", kEnqueueSql},      {"transition", kTransitionSql},
      {"steps", kStepsSql},          {"failure", kFailureSql},
      {"touch", kTouchSql},          {"claim_stuck", kClaimStuckSql},
      {"put_fact", kPutFactSql},     {"put_repository", kPutRepositorySql},
      {"claim_read", kClaimReadSql}, {"end_read", kEndReadSql},
      {"compact", kCompactSql},
  };
  return statements;
}

EnqueueOutcome ParseOutcome(std::string_view text) {
  if (text == "started") return EnqueueOutcome::kStarted;
  if (text == "raised") return EnqueueOutcome::kRaised;
  if (text == "in_flight") return EnqueueOutcome::kAlreadyInFlight;
  return EnqueueOutcome::kUnchanged;
}

PgParams EnqueueParams(const EnqueueRequest& req, Millis now) {
  PgParams p;
  p.Add(EcoName(req.key))
      .Add(req.key.name)
      .Add(static_cast<int>(req.priority))
      .Add(req.restart_finished)
      .AddOptional(req.version)
      .AddOptional(req.restart_generation)
      .Add(now);
  return p;
}

Result<EnqueueResult> ReadEnqueue(const PgResult& rows) {
  if (rows.rows() != 1) return Status::Internal("enqueue returned no row");
  auto record = ReadPgRecord(rows, 0, 1);
  if (!record.ok()) return record.status();
  return EnqueueResult{ParseOutcome(rows.TextView(0, 0)), std::move(record).value()};
}

std::string NewBatchId() {
  static thread_local std::mt19937_64 random{std::random_device{}()};
  return fmt::format("{:016x}{:016x}", random(), random());
}

}  // namespace

class PostgresStore::Impl {
 public:
  // A queued write. Pipelined ops send their statements (Send) and read exactly as many
  // results back (Receive); the others (Interactive) need a result before their next
  // statement and run alone in a transaction of their own (Run).
  struct Op {
    virtual ~Op() = default;
    virtual bool Interactive() const { return false; }
    // Whether it may append to the change log (then the batch ends with the sequencing
    // step; most batches have nothing to sequence and skip that statement).
    virtual bool AppendsChanges() const { return false; }
    // A step transition (StepOp), sent in a group with its neighbours; else nullptr.
    virtual const TransitionRequest* Step() const { return nullptr; }
    virtual Status Send(PgConnection& conn, Millis now) = 0;
    // Reads this op's results; false when the connection was lost.
    virtual bool Receive(PgConnection& conn) = 0;
    virtual Status Run(PgConnection&, Millis) { return Status::Internal("not an interactive op"); }
    // Whether Receive (or Run) stored a result, ok or not.
    virtual bool HasResult() const = 0;
    virtual bool Failed() const = 0;
    // Failed on a deadlock or a lost connection: worth running again.
    virtual bool Retryable() const { return false; }
    virtual void Reset() = 0;
    virtual void Complete() = 0;
    virtual void Fail(Status status) = 0;
  };

  // An op of `statements` pipelined statements; `read` turns their results into T.
  template <typename T>
  struct PipelinedOp final : Op {
    using SendFn = std::function<Status(PgConnection&, Millis)>;
    using ReadFn = std::function<Result<T>(const std::vector<PgResult>&)>;
    PipelinedOp(int n, SendFn s, ReadFn r, Callback<T> d, bool changes)
        : statements(n),
          send(std::move(s)),
          read(std::move(r)),
          done(std::move(d)),
          appends_changes(changes) {}
    bool AppendsChanges() const override { return appends_changes; }
    Status Send(PgConnection& conn, Millis now) override { return send(conn, now); }
    bool Receive(PgConnection& conn) override {
      std::vector<PgResult> results;
      Status error;
      for (int i = 0; i < statements; ++i) {
        auto next = conn.Next();
        if (!next.ok()) return false;
        if (error.ok() && !next->status().ok()) {
          error = next->status();
          retryable = retryable || IsRetryable(*next);
        }
        results.push_back(std::move(next).value());
      }
      if (!error.ok())
        result.emplace(error);
      else
        result.emplace(read(results));
      return true;
    }
    bool HasResult() const override { return result.has_value(); }
    bool Failed() const override { return result && !result->ok(); }
    bool Retryable() const override { return retryable; }
    void Reset() override {
      result.reset();
      retryable = false;
    }
    void Complete() override {
      if (done) done(std::move(*result));
    }
    void Fail(Status status) override {
      if (done) done(std::move(status));
    }
    int statements;
    SendFn send;
    ReadFn read;
    Callback<T> done;
    std::optional<Result<T>> result;
    bool retryable = false;
    bool appends_changes;
  };

  template <typename T>
  struct InteractiveOp final : Op {
    using RunFn = std::function<Result<T>(PgConnection&, Millis)>;
    InteractiveOp(RunFn r, Callback<T> d) : run(std::move(r)), done(std::move(d)) {}
    bool Interactive() const override { return true; }
    Status Send(PgConnection&, Millis) override { return Status::Internal("an interactive op is not sent"); }
    bool Receive(PgConnection&) override { return false; }
    Status Run(PgConnection& conn, Millis now) override {
      result.emplace(run(conn, now));
      return result->ok() ? Status::Ok() : result->status();
    }
    bool HasResult() const override { return result.has_value(); }
    bool Failed() const override { return result && !result->ok(); }
    void Reset() override { result.reset(); }
    void Complete() override {
      if (done) done(std::move(*result));
    }
    void Fail(Status status) override {
      if (done) done(std::move(status));
    }
    RunFn run;
    Callback<T> done;
    std::optional<Result<T>> result;
  };

  struct StepOp final : Op {
    StepOp(TransitionRequest r, Callback<TransitionResult> d) : req(std::move(r)), done(std::move(d)) {}
    const TransitionRequest* Step() const override { return &req; }
    Status Send(PgConnection&, Millis) override { return Status::Internal("steps are sent in groups"); }
    bool Receive(PgConnection&) override { return false; }
    bool HasResult() const override { return result.has_value(); }
    bool Failed() const override { return result && !result->ok(); }
    bool Retryable() const override { return retryable; }
    void Reset() override {
      result.reset();
      retryable = false;
    }
    void Complete() override {
      if (done) done(std::move(*result));
    }
    void Fail(Status status) override {
      if (done) done(std::move(status));
    }
    TransitionRequest req;
    Callback<TransitionResult> done;
    std::optional<Result<TransitionResult>> result;
    bool retryable = false;
  };

  Impl(StoreConfig config, const core::Clock& clock) : config_(std::move(config)), clock_(clock) {}
  ~Impl() { Close(); }

  Status Open() {
    if (config_.postgres_url.empty())
      return Status::InvalidArgument("postgres store: no connection string (database.postgres_url_env)");
    {
      auto admin = PgConnection::Open(config_.postgres_url);
      if (!admin.ok()) return admin.status();
      if (auto s = ApplyPgMigrations(**admin); !s.ok())
        return Status::FailedPrecondition(fmt::format("postgres database: {}", s.message()));
    }
    auto writer = PgConnection::Open(config_.postgres_url, WriterStatements());
    if (!writer.ok()) return writer.status();
    writer_ = std::move(writer).value();
    for (int i = 0; i < std::max(1, config_.read_connections); ++i) {
      auto reader = PgConnection::Open(config_.postgres_url);
      if (!reader.ok()) return reader.status();
      readers_.push_back(std::move(reader).value());
    }
    auto listener = PgConnection::Open(config_.postgres_url);
    if (!listener.ok()) return listener.status();
    listener_conn_ = std::move(listener).value();
    if (auto s = listener_conn_->ExecScript("LISTEN pkgtrust_changes"); !s.ok()) return s;
    writer_thread_ = std::thread([this] { WriterLoop(); });
    listener_thread_ = std::thread([this] { ListenLoop(); });
    return Status::Ok();
  }

  void Close() {
    {
      std::lock_guard lock(mu_);
      if (closed_) return;
      closed_ = true;
    }
    cv_.notify_all();
    if (writer_thread_.joinable()) writer_thread_.join();
    stop_listening_ = true;
    if (listener_thread_.joinable()) listener_thread_.join();
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

  template <typename T>
  void SubmitPipelined(int statements, typename PipelinedOp<T>::SendFn send,
                       typename PipelinedOp<T>::ReadFn read, Callback<T> done, bool appends_changes = false) {
    Submit(std::make_unique<PipelinedOp<T>>(statements, std::move(send), std::move(read), std::move(done),
                                            appends_changes));
  }

  template <typename T>
  void SubmitInteractive(typename InteractiveOp<T>::RunFn run, Callback<T> done) {
    Submit(std::make_unique<InteractiveOp<T>>(std::move(run), std::move(done)));
  }

  // ---- reads ----------------------------------------------------------------------------

  // A read on a pooled connection; a lost connection is re-established and the read run
  // once more (reads have no effects to double).
  Result<PgResult> Read(const std::string& sql, const PgParams& params) {
    std::unique_ptr<PgConnection> conn;
    {
      std::unique_lock lock(read_mu_);
      read_cv_.wait(lock, [&] { return !readers_.empty(); });
      conn = std::move(readers_.back());
      readers_.pop_back();
    }
    auto result = conn->Exec(sql, params);
    if (!result.ok() && conn->Broken() && conn->Reconnect().ok()) result = conn->Exec(sql, params);
    std::lock_guard lock(read_mu_);
    readers_.push_back(std::move(conn));
    read_cv_.notify_one();
    return result;
  }

  Result<std::vector<PackageRecord>> ReadPackages(const std::string& sql, const PgParams& params) {
    auto rows = Read(sql, params);
    if (!rows.ok()) return rows.status();
    return ReadPgRecords(*rows);
  }

  // A conditional write's answer: the row as written, or stale when none matched.
  Result<TransitionResult> TransitionOutcomeOf(const PgResult& rows) {
    if (rows.rows() == 0) {
      batch_stale_++;
      return TransitionResult{TransitionOutcome::kStale, {}};
    }
    auto record = ReadPgRecord(rows, 0);
    if (!record.ok()) return record.status();
    return TransitionResult{TransitionOutcome::kApplied, std::move(record).value()};
  }

  void SetListener(std::function<void()> listener) {
    std::lock_guard lock(listener_mu_);
    listener_ = std::move(listener);
  }

  StoreConfig config_;
  const core::Clock& clock_;
  std::atomic<std::int64_t> requests_{0}, transactions_{0}, stale_{0}, retried_{0};

 private:
  void WriterLoop() {
    std::vector<std::unique_ptr<Op>> batch;
    while (true) {
      std::unique_ptr<Op> interactive;
      {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [&] { return !queue_.empty() || closed_; });
        if (queue_.empty()) return;
        if (queue_.front()->Interactive()) {
          interactive = std::move(queue_.front());
          queue_.pop_front();
        } else {
          while (!queue_.empty() && !queue_.front()->Interactive() && batch.size() < config_.max_batch) {
            batch.push_back(std::move(queue_.front()));
            queue_.pop_front();
          }
        }
      }
      if (interactive) {
        RunInteractive(*interactive);
      } else {
        RunBatch(batch);
        batch.clear();
      }
    }
  }

  // Waits for the connection to come back (PostgreSQL restarting, a network break), up
  // to reconnect_timeout_ms.
  bool EnsureConnected() {
    if (!writer_->Broken()) return true;
    auto deadline =
        std::chrono::steady_clock::now() + std::chrono::milliseconds(config_.reconnect_timeout_ms);
    auto pause = std::chrono::milliseconds(50);
    while (true) {
      Status s = writer_->Reconnect();
      if (s.ok()) {
        core::Log(core::LogLevel::kInfo, "store", "postgres: writer reconnected");
        return true;
      }
      if (std::chrono::steady_clock::now() >= deadline) {
        core::Log(core::LogLevel::kError, "store", "postgres: writer gave up reconnecting: {}", s.message());
        return false;
      }
      std::this_thread::sleep_for(pause);
      pause = std::min(pause * 2, std::chrono::milliseconds(1000));
    }
  }

  // Did the batch with this id commit? nullopt when that cannot be learned.
  //
  // An INSERT of the same id answers, where a SELECT could not: the old connection's
  // transaction may still be open on the server (its backend has not noticed the break),
  // and a SELECT would not see its uncommitted row and answer "not committed" while it can
  // still commit. The INSERT waits for that transaction to end: a unique violation means it
  // committed; success means it did not, and now never can (the id is taken).
  std::optional<bool> BatchCommitted(const std::string& id) {
    if (!EnsureConnected()) return std::nullopt;
    PgParams params;
    params.Add(id).Add(clock_.NowMillis());
    PgResult taken(PQexecParams(writer_->raw(),
                                "INSERT INTO store_batches (id, committed_at) VALUES ($1, $2)", 2, nullptr,
                                params.Pointers().data(), nullptr, nullptr, 0));
    if (taken.status().ok()) return false;
    if (taken.sqlstate() == "23505") return true;  // unique_violation
    return std::nullopt;
  }

  enum class Outcome { kCommitted, kRolledBack, kRetry, kConnectionLost };

  // Sends the batch as one pipelined transaction and reads every result.
  Outcome SendBatch(std::vector<Op*>& ops, const std::string& batch_id, Status* error) {
    PgConnection& conn = *writer_;
    Millis now = clock_.NowMillis();
    batch_stale_ = 0;
    if (Status s = conn.EnterPipeline(); !s.ok()) {
      *error = s;
      return Outcome::kConnectionLost;
    }
    PgParams id_params;
    id_params.Add(batch_id).Add(now);
    bool sent = conn.Send("BEGIN", {}).ok() &&
                conn.Send("INSERT INTO store_batches (id, committed_at) VALUES ($1, $2)", id_params).ok();
    // Units: an op alone, or consecutive steps with each package once (one statement).
    std::vector<std::vector<Op*>> units;
    std::unordered_set<std::string> grouped;
    for (Op* op : ops) {
      const TransitionRequest* step = op->Step();
      bool joins = step && !units.empty() && units.back().front()->Step() &&
                   grouped.insert(step->key.ToString()).second;
      if (joins) {
        units.back().push_back(op);
        continue;
      }
      units.push_back({op});
      grouped.clear();
      if (step) grouped.insert(step->key.ToString());
    }
    for (const auto& unit : units)
      if (sent)
        sent = (unit.front()->Step() ? SendSteps(conn, unit, now) : unit.front()->Send(conn, now)).ok();
    // Now and then, forget the ids of batches committed more than a day ago.
    bool prune = ++batches_sent_ % 1000 == 0;
    if (sent && prune) {
      PgParams prune_params;
      prune_params.Add(now - 24 * 3600'000);
      sent = conn.Send("DELETE FROM store_batches WHERE committed_at < $1", prune_params).ok();
    }
    bool sequence = std::any_of(ops.begin(), ops.end(), [](Op* op) { return op->AppendsChanges(); });
    if (sent && sequence) sent = conn.Send("SELECT pkgtrust_sequence_changes()", {}).ok();
    sent = sent && conn.Send("COMMIT", {}).ok() && conn.Sync().ok();
    if (!sent) {
      *error = Status::Unavailable("postgres: sending the batch: " + conn.ErrorMessage());
      (void)conn.ExitPipeline();
      return Outcome::kConnectionLost;
    }
    // The results, in the order sent.
    bool retry = false;
    auto check = [&](Result<PgResult> r) {
      if (!r.ok()) return false;
      if (!r->status().ok() && error->ok()) {
        *error = r->status();
        retry = retry || IsRetryable(*r);
      }
      return true;
    };
    bool alive = check(conn.Next()) && check(conn.Next());
    for (const auto& unit : units) {
      if (!alive) break;
      alive = unit.front()->Step() ? ReceiveSteps(conn, unit) : unit.front()->Receive(conn);
      for (Op* op : unit)
        if (alive && op->Failed()) {
          if (error->ok()) *error = Status::Unavailable("an operation of the batch failed");
          retry = retry || op->Retryable();
        }
    }
    if (alive && prune) alive = check(conn.Next());
    if (sequence) alive = alive && check(conn.Next());  // the sequencing step
    alive = alive && check(conn.Next());  // COMMIT
    if (alive) alive = conn.DrainToSync().ok();
    (void)conn.ExitPipeline();
    if (!alive || conn.Broken()) return Outcome::kConnectionLost;
    if (error->ok()) return Outcome::kCommitted;
    return retry ? Outcome::kRetry : Outcome::kRolledBack;
  }

  static Status SendSteps(PgConnection& conn, const std::vector<Op*>& steps, Millis now) {
    std::vector<std::string> generations;
    std::vector<std::string_view> ecosystems, names, from, to, kinds, data;
    for (Op* op : steps) {
      const TransitionRequest& req = *op->Step();
      ecosystems.push_back(EcoName(req.key));
      names.push_back(req.key.name);
      from.push_back(StateName(req.from));
      generations.push_back(std::to_string(req.generation));
      to.push_back(StateName(req.to));
      kinds.push_back(req.facts.empty() ? std::string_view() : std::string_view(req.facts[0].kind));
      data.push_back(req.facts.empty() ? std::string_view() : std::string_view(req.facts[0].json));
    }
    PgParams p;
    p.Add(now).AddTextArray(ecosystems).AddTextArray(names).AddTextArray(from);
    p.AddTextArray({generations.begin(), generations.end()})
        .AddTextArray(to)
        .AddTextArray(kinds)
        .AddTextArray(data);
    return conn.SendPrepared("steps", p);
  }

  // The group's one result: the steps that applied are its rows (by ordinal), the others
  // are stale. False when the connection was lost.
  bool ReceiveSteps(PgConnection& conn, const std::vector<Op*>& steps) {
    auto rows = conn.Next();
    if (!rows.ok()) return false;
    if (Status s = rows->status(); !s.ok()) {
      for (Op* op : steps) {
        auto* step = static_cast<StepOp*>(op);
        step->result.emplace(s);
        step->retryable = IsRetryable(*rows);
      }
      return true;
    }
    std::vector<std::optional<Result<PackageRecord>>> applied(steps.size());
    for (int r = 0; r < rows->rows(); ++r) {
      std::int64_t ord = rows->Int(r, 0);
      if (ord >= 1 && ord <= static_cast<std::int64_t>(steps.size()))
        applied[ord - 1] = ReadPgRecord(*rows, r, 1);
    }
    for (std::size_t i = 0; i < steps.size(); ++i) {
      auto* step = static_cast<StepOp*>(steps[i]);
      if (!applied[i]) {
        batch_stale_++;
        step->result.emplace(TransitionResult{TransitionOutcome::kStale, {}});
      } else if (!applied[i]->ok()) {
        step->result.emplace(applied[i]->status());
      } else {
        step->result.emplace(TransitionResult{TransitionOutcome::kApplied, std::move(*applied[i]).value()});
      }
    }
    return true;
  }

  void RunBatch(std::vector<std::unique_ptr<Op>>& batch) {
    std::vector<Op*> ops;
    for (auto& op : batch) ops.push_back(op.get());
    requests_ += static_cast<std::int64_t>(ops.size());
    RunOps(ops);
  }

  void RunOps(std::vector<Op*>& ops) {
    Status error;
    for (int attempt = 0;; ++attempt) {
      if (!EnsureConnected()) {
        for (Op* op : ops)
          op->Fail(Status::Unavailable("postgres: connection lost: " + writer_->ErrorMessage()));
        return;
      }
      for (Op* op : ops) op->Reset();
      error = Status::Ok();
      std::string batch_id = NewBatchId();
      Outcome outcome = SendBatch(ops, batch_id, &error);
      if (outcome == Outcome::kConnectionLost) {
        core::Log(core::LogLevel::kWarn, "store", "postgres: connection lost during a batch of {}: {}",
                  ops.size(), writer_->ErrorMessage());
        std::optional<bool> committed = BatchCommitted(batch_id);
        if (committed && *committed) {
          // Committed; results that did not arrive cannot be known, and their messages
          // will be delivered again and find their packages moved on.
          transactions_++;
          stale_ += batch_stale_;
          for (Op* op : ops) {
            if (op->HasResult())
              op->Complete();
            else
              op->Fail(Status::Unavailable("postgres: connection lost after the commit; outcome unknown"));
          }
          NotifyLocal();
          return;
        }
        if (!committed || attempt >= 20) {
          for (Op* op : ops)
            op->Fail(Status::Unavailable("postgres: connection lost; the batch was not written"));
          return;
        }
        retried_++;
        continue;  // not committed: run it again on the new connection
      }
      if (outcome == Outcome::kCommitted) {
        transactions_++;
        stale_ += batch_stale_;
        for (Op* op : ops) op->Complete();
        // This process's change streams hear of its own changes here, not only through the
        // listener's connection.
        if (std::any_of(ops.begin(), ops.end(), [](Op* op) { return op->AppendsChanges(); })) NotifyLocal();
        return;
      }
      if (outcome == Outcome::kRetry && attempt < 20) {
        // A deadlock with another process's batch, or a serialization failure.
        retried_++;
        std::this_thread::sleep_for(std::chrono::milliseconds(1 + attempt * 5));
        continue;
      }
      break;
    }
    // An operation failed and rolled the batch back: run each on its own, so that only the
    // failing one fails.
    if (ops.size() > 1) {
      for (Op* op : ops) {
        std::vector<Op*> one = {op};
        RunOps(one);
      }
      return;
    }
    Op* op = ops.front();
    if (op->Failed())
      op->Complete();  // its own error
    else
      op->Fail(error);
  }

  void RunInteractive(Op& op) {
    requests_++;
    for (int attempt = 0;; ++attempt) {
      if (!EnsureConnected()) {
        op.Fail(Status::Unavailable("postgres: connection lost: " + writer_->ErrorMessage()));
        return;
      }
      op.Reset();
      Millis now = clock_.NowMillis();
      std::string batch_id = NewBatchId();
      PgParams id_params;
      id_params.Add(batch_id).Add(now);
      Status s = writer_->ExecScript("BEGIN");
      if (s.ok()) {
        auto marked =
            writer_->Exec("INSERT INTO store_batches (id, committed_at) VALUES ($1, $2)", id_params);
        if (!marked.ok()) s = marked.status();
      }
      if (s.ok()) s = op.Run(*writer_, now);
      bool commit_sent = false;
      if (s.ok()) {
        auto sequenced = writer_->Exec("SELECT pkgtrust_sequence_changes()");
        commit_sent = sequenced.ok();
        s = sequenced.ok() ? writer_->ExecScript("COMMIT") : sequenced.status();
      }
      if (s.ok()) {
        transactions_++;
        op.Complete();
        NotifyLocal();
        return;
      }
      // The connection broke with the COMMIT on its way: did it commit? Then the result
      // computed before it stands (running the import again would find every record
      // unchanged and name no package to re-score).
      if (commit_sent && writer_->Broken() && BatchCommitted(batch_id) == true) {
        transactions_++;
        op.Complete();
        NotifyLocal();
        return;
      }
      if (!writer_->Broken()) (void)writer_->ExecScript("ROLLBACK");
      if ((writer_->Broken() || s.message().find("deadlock") != std::string::npos) && attempt < 20) {
        retried_++;
        continue;
      }
      if (op.HasResult())
        op.Complete();
      else
        op.Fail(s);
      return;
    }
  }

  void NotifyLocal() {
    std::lock_guard lock(listener_mu_);
    if (listener_) listener_();
  }

  // LISTEN/NOTIFY: the sequencing step notifies 'pkgtrust_changes' in every transaction that
  // appends to the change log, and PostgreSQL delivers it at the commit to every session
  // that listens, on every host. Here one connection listens and wakes this process's change
  // stream, so a change committed by any process reaches its subscribers at once.
  void ListenLoop() {
    while (!stop_listening_) {
      if (listener_conn_->Broken()) {
        if (!listener_conn_->Reconnect().ok() ||
            !listener_conn_->ExecScript("LISTEN pkgtrust_changes").ok()) {
          std::this_thread::sleep_for(std::chrono::milliseconds(200));
          continue;
        }
        NotifyLocal();  // a notification may have been missed while disconnected
      }
      pollfd fd{PQsocket(listener_conn_->raw()), POLLIN, 0};
      if (fd.fd < 0) {
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        continue;
      }
      if (poll(&fd, 1, 200) <= 0) continue;
      if (PQconsumeInput(listener_conn_->raw()) != 1) continue;  // broken: reconnect above
      bool notified = false;
      while (PGnotify* notify = PQnotifies(listener_conn_->raw())) {
        notified = true;
        PQfreemem(notify);
      }
      if (notified) NotifyLocal();
    }
  }

  std::unique_ptr<PgConnection> writer_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::unique_ptr<Op>> queue_;
  bool closed_ = false;
  std::thread writer_thread_;
  std::uint64_t batches_sent_ = 0;  // writer thread only
  std::int64_t batch_stale_ = 0;    // stale answers of the batch being sent (writer thread)

  std::mutex read_mu_;
  std::condition_variable read_cv_;
  std::vector<std::unique_ptr<PgConnection>> readers_;

  std::unique_ptr<PgConnection> listener_conn_;
  std::thread listener_thread_;
  std::atomic<bool> stop_listening_{false};
  std::mutex listener_mu_;
  std::function<void()> listener_;
};

// ---- the store's calls ------------------------------------------------------------------

PostgresStore::PostgresStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
PostgresStore::~PostgresStore() = default;

Result<std::unique_ptr<Store>> PostgresStore::Open(StoreConfig config, const core::Clock& clock) {
  auto impl = std::make_unique<Impl>(std::move(config), clock);
  if (auto s = impl->Open(); !s.ok()) return s;
  return std::unique_ptr<Store>(new PostgresStore(std::move(impl)));
}

void PostgresStore::Close() { impl_->Close(); }

void PostgresStore::Enqueue(EnqueueRequest request, Callback<EnqueueResult> done) {
  impl_->SubmitPipelined<EnqueueResult>(
      1,
      [req = std::move(request)](PgConnection& c, Millis now) {
        return c.SendPrepared("enqueue", EnqueueParams(req, now));
      },
      [](const std::vector<PgResult>& r) { return ReadEnqueue(r[0]); }, std::move(done));
}

void PostgresStore::EnqueueMany(std::vector<EnqueueRequest> requests,
                                Callback<std::vector<EnqueueResult>> done) {
  int n = static_cast<int>(requests.size());
  impl_->SubmitPipelined<std::vector<EnqueueResult>>(
      n,
      [reqs = std::move(requests)](PgConnection& c, Millis now) {
        for (const EnqueueRequest& req : reqs)
          if (Status s = c.SendPrepared("enqueue", EnqueueParams(req, now)); !s.ok()) return s;
        return Status::Ok();
      },
      [](const std::vector<PgResult>& r) -> Result<std::vector<EnqueueResult>> {
        std::vector<EnqueueResult> out;
        out.reserve(r.size());
        for (const PgResult& rows : r) {
          auto one = ReadEnqueue(rows);
          if (!one.ok()) return one.status();
          out.push_back(std::move(one).value());
        }
        return out;
      },
      std::move(done));
}

void PostgresStore::Transition(TransitionRequest request, Callback<TransitionResult> done) {
  if (!core::IsStageTransition(request.from, request.to) || request.to == PackageState::kFailed) {
    if (done)
      done(Status::InvalidArgument(
          fmt::format("no transition from {} to {}", StateName(request.from), StateName(request.to))));
    return;
  }
  bool finished = request.to == PackageState::kComplete || request.to == PackageState::kNotFound;
  if (!finished && request.facts.size() <= 1) {
    impl_->Submit(std::make_unique<Impl::StepOp>(std::move(request), std::move(done)));
    return;
  }
  impl_->SubmitPipelined<TransitionResult>(
      1,
      [req = std::move(request), finished](PgConnection& c, Millis now) {
        std::vector<std::string_view> kinds, data;
        for (const Fact& fact : req.facts) {
          kinds.push_back(fact.kind);
          data.push_back(fact.json);
        }
        PgParams p;
        p.Add(StateName(req.to)).Add(now).Add(finished).Add(EcoName(req.key)).Add(req.key.name);
        p.Add(StateName(req.from)).Add(req.generation).Add(finished).AddTextArray(kinds).AddTextArray(data);
        return c.SendPrepared("transition", p);
      },
      [impl = impl_.get()](const std::vector<PgResult>& r) { return impl->TransitionOutcomeOf(r[0]); },
      std::move(done), finished);
}

void PostgresStore::RecordFailure(FailureRequest request, Callback<TransitionResult> done) {
  impl_->SubmitPipelined<TransitionResult>(
      1,
      [req = std::move(request)](PgConnection& c, Millis now) {
        PgParams p;
        p.Add(ValidUtf8(req.error, 2000)).Add(StateName(req.give_up ? PackageState::kFailed : req.from));
        if (req.give_up)
          p.Add(now);
        else
          p.AddNull();
        p.Add(req.give_up).Add(now).Add(req.retry_max_ms).Add(req.retry_base_ms);
        p.Add(EcoName(req.key)).Add(req.key.name).Add(StateName(req.from)).Add(req.generation);
        return c.SendPrepared("failure", p);
      },
      [impl = impl_.get()](const std::vector<PgResult>& r) { return impl->TransitionOutcomeOf(r[0]); },
      std::move(done));
}

void PostgresStore::Touch(core::PackageKey key, PackageState state, std::int64_t generation,
                          Callback<bool> done) {
  impl_->SubmitPipelined<bool>(
      1,
      [key = std::move(key), state, generation](PgConnection& c, Millis now) {
        PgParams p;
        p.Add(now).Add(EcoName(key)).Add(key.name).Add(StateName(state)).Add(generation);
        return c.SendPrepared("touch", p);
      },
      [](const std::vector<PgResult>& r) -> Result<bool> { return r[0].AffectedRows() > 0; },
      std::move(done));
}

Result<std::vector<PackageRecord>> PostgresStore::ClaimStuckSync(Millis since, std::size_t limit) {
  return WaitFor<std::vector<PackageRecord>>([&](auto done) {
    impl_->SubmitPipelined<std::vector<PackageRecord>>(
        1,
        [since, limit](PgConnection& c, Millis now) {
          PgParams p;
          p.Add(now).Add(since).Add(static_cast<std::int64_t>(limit));
          return c.SendPrepared("claim_stuck", p);
        },
        [](const std::vector<PgResult>& r) { return ReadPgRecords(r[0]); }, std::move(done));
  });
}

Result<std::optional<PackageRecord>> PostgresStore::Get(const core::PackageKey& key) {
  PgParams p;
  p.Add(EcoName(key)).Add(key.name);
  auto rows = impl_->ReadPackages(
      "SELECT " PG_PACKAGE_COLUMNS " FROM packages WHERE ecosystem = $1 AND name = $2", p);
  if (!rows.ok()) return rows.status();
  if (rows->empty()) return std::optional<PackageRecord>();
  return std::optional<PackageRecord>(std::move(rows->front()));
}

Result<std::vector<Fact>> PostgresStore::GetFacts(const core::PackageKey& key) {
  PgParams p;
  p.Add(EcoName(key)).Add(key.name);
  auto rows = impl_->Read(
      "SELECT f.kind, f.data FROM package_facts f JOIN packages p ON p.id = f.package_id "
      "WHERE p.ecosystem = $1 AND p.name = $2 ORDER BY f.kind",
      p);
  if (!rows.ok()) return rows.status();
  std::vector<Fact> facts;
  for (int i = 0; i < rows->rows(); ++i) facts.push_back({rows->Text(i, 0), rows->Text(i, 1)});
  return facts;
}

Result<std::optional<std::string>> PostgresStore::GetFact(const core::PackageKey& key,
                                                          std::string_view kind) {
  PgParams p;
  p.Add(EcoName(key)).Add(key.name).Add(kind);
  auto rows = impl_->Read(
      "SELECT f.data FROM package_facts f JOIN packages p ON p.id = f.package_id "
      "WHERE p.ecosystem = $1 AND p.name = $2 AND f.kind = $3",
      p);
  if (!rows.ok()) return rows.status();
  if (rows->rows() == 0) return std::optional<std::string>();
  return std::optional<std::string>(rows->Text(0, 0));
}

Result<std::vector<PackageRecord>> PostgresStore::ListStuck(Millis since, std::size_t limit) {
  PgParams p;
  p.Add(since).Add(static_cast<std::int64_t>(limit));
  return impl_->ReadPackages("SELECT " PG_PACKAGE_COLUMNS
                             " FROM packages WHERE state IN ('pending_registry', 'pending_repository', "
                             "'pending_score') AND state_since < $1 ORDER BY state_since LIMIT $2",
                             p);
}

Result<std::vector<PackageRecord>> PostgresStore::ListRetryable(Millis now, std::size_t limit) {
  PgParams p;
  p.Add(now).Add(static_cast<std::int64_t>(limit));
  return impl_->ReadPackages("SELECT " PG_PACKAGE_COLUMNS
                             " FROM packages WHERE state = 'failed' AND next_attempt_at <= $1 "
                             "ORDER BY next_attempt_at LIMIT $2",
                             p);
}

Result<std::vector<PackageRecord>> PostgresStore::ListStale(Millis before, std::size_t limit) {
  PgParams p;
  p.Add(before).Add(static_cast<std::int64_t>(limit));
  return impl_->ReadPackages("SELECT " PG_PACKAGE_COLUMNS
                             " FROM packages WHERE state = 'complete' AND state_since < $1 "
                             "ORDER BY state_since LIMIT $2",
                             p);
}

Result<std::map<PackageState, std::int64_t>> PostgresStore::CountByState() {
  auto rows = impl_->Read("SELECT state, COUNT(*) FROM packages GROUP BY state", {});
  if (!rows.ok()) return rows.status();
  std::map<PackageState, std::int64_t> counts;
  for (PackageState s : core::kAllPackageStates) counts[s] = 0;
  for (int i = 0; i < rows->rows(); ++i)
    if (auto state = core::ParsePackageState(rows->TextView(i, 0))) counts[*state] = rows->Int(i, 1);
  return counts;
}

Result<std::vector<PackageRecord>> PostgresStore::ListByState(PackageState state, std::int64_t after_id,
                                                              std::size_t limit) {
  PgParams p;
  p.Add(StateName(state)).Add(after_id).Add(static_cast<std::int64_t>(limit));
  return impl_->ReadPackages(
      "SELECT " PG_PACKAGE_COLUMNS " FROM packages WHERE state = $1 AND id > $2 ORDER BY id LIMIT $3", p);
}

Result<std::vector<PackageRecord>> PostgresStore::ListByPrefix(core::Ecosystem ecosystem,
                                                               const std::string& prefix,
                                                               const std::string& after, std::size_t limit) {
  // The names are "C"-collated: U+10FFFF, the largest code point, bounds the range of names
  // that start with `prefix` on the (ecosystem, name) index (SQLite uses the byte 0xFF,
  // which PostgreSQL does not accept in UTF-8 text).
  std::string upper = prefix + "\xf4\x8f\xbf\xbf";
  const std::string& lower = after > prefix ? after : prefix;
  PgParams p;
  p.Add(core::EcosystemName(ecosystem))
      .Add(lower)
      .Add(upper)
      .Add(after)
      .Add(static_cast<std::int64_t>(limit));
  return impl_->ReadPackages(
      "SELECT " PG_PACKAGE_COLUMNS
      " FROM packages WHERE ecosystem = $1 AND name >= $2 AND name < $3 AND name <> $4 "
      "ORDER BY name LIMIT $5",
      p);
}

Result<bool> PostgresStore::PutCompleteFactSync(const core::PackageKey& key, std::int64_t generation,
                                                Fact fact) {
  return WaitFor<bool>([&](auto done) {
    impl_->SubmitPipelined<bool>(
        1,
        [key, generation, fact = std::move(fact)](PgConnection& c, Millis now) {
          PgParams p;
          p.Add(EcoName(key)).Add(key.name).Add(generation).Add(fact.kind).Add(fact.json).Add(now);
          return c.SendPrepared("put_fact", p);
        },
        [](const std::vector<PgResult>& r) -> Result<bool> { return r[0].rows() == 1 && r[0].Bool(0, 0); },
        std::move(done), /*appends_changes=*/true);
  });
}

Result<std::optional<StoredRepository>> PostgresStore::GetRepository(const std::string& key) {
  PgParams p;
  p.Add(key);
  auto rows = impl_->Read("SELECT facts, outcome, read_at FROM repositories WHERE key = $1", p);
  if (!rows.ok()) return rows.status();
  if (rows->rows() == 0) return std::optional<StoredRepository>();
  return std::optional<StoredRepository>(
      StoredRepository{key, rows->Text(0, 0), rows->Text(0, 1), rows->Int(0, 2)});
}

Status PostgresStore::PutRepositorySync(StoredRepository repository) {
  auto stored = WaitFor<bool>([&](auto done) {
    impl_->SubmitPipelined<bool>(
        1,
        [r = std::move(repository)](PgConnection& c, Millis) {
          PgParams p;
          p.Add(r.key).Add(r.facts_json).Add(r.outcome).Add(r.read_at);
          return c.SendPrepared("put_repository", p);
        },
        [](const std::vector<PgResult>&) -> Result<bool> { return true; }, std::move(done));
  });
  return stored.ok() ? Status::Ok() : stored.status();
}

Result<std::vector<Millis>> PostgresStore::ClaimRepositoryReadsSync(std::vector<std::string> keys,
                                                                    std::string owner, Millis until,
                                                                    Millis now) {
  int n = static_cast<int>(keys.size());
  return WaitFor<std::vector<Millis>>([&](auto done) {
    impl_->SubmitPipelined<std::vector<Millis>>(
        n,
        [keys = std::move(keys), owner = std::move(owner), until, now](PgConnection& c, Millis) {
          for (const std::string& key : keys) {
            PgParams p;
            p.Add(key).Add(owner).Add(until).Add(now);
            if (Status s = c.SendPrepared("claim_read", p); !s.ok()) return s;
          }
          return Status::Ok();
        },
        [now](const std::vector<PgResult>& r) -> Result<std::vector<Millis>> {
          std::vector<Millis> out;
          for (const PgResult& rows : r)
            out.push_back(rows.rows() > 0 ? rows.Int(0, 0) : std::max<Millis>(now, 1));
          return out;
        },
        std::move(done));
  });
}

Status PostgresStore::EndRepositoryReadsSync(std::vector<std::string> keys, std::string owner) {
  int n = static_cast<int>(keys.size());
  auto ended = WaitFor<bool>([&](auto done) {
    impl_->SubmitPipelined<bool>(
        n,
        [keys = std::move(keys), owner = std::move(owner)](PgConnection& c, Millis) {
          for (const std::string& key : keys) {
            PgParams p;
            p.Add(key).Add(owner);
            if (Status s = c.SendPrepared("end_read", p); !s.ok()) return s;
          }
          return Status::Ok();
        },
        [](const std::vector<PgResult>&) -> Result<bool> { return true; }, std::move(done));
  });
  return ended.ok() ? Status::Ok() : ended.status();
}

Result<std::vector<PackageChange>> PostgresStore::ReadChanges(std::int64_t after_offset, std::size_t limit) {
  PgParams p;
  p.Add(after_offset).Add(static_cast<std::int64_t>(limit));
  auto rows = impl_->Read(
      "SELECT change_offset, ecosystem, name, state, generation, score, flags, committed_at, alert FROM "
      "package_changes "
      "WHERE change_offset > $1 ORDER BY change_offset LIMIT $2",
      p);
  if (!rows.ok()) return rows.status();
  std::vector<PackageChange> changes;
  changes.reserve(rows->rows());
  for (int i = 0; i < rows->rows(); ++i) {
    auto eco = core::ParseEcosystem(rows->TextView(i, 1));
    auto state = core::ParsePackageState(rows->TextView(i, 3));
    if (!eco || !state) return Status::Internal(fmt::format("change {}: unreadable row", rows->Int(i, 0)));
    PackageChange change;
    change.offset = rows->Int(i, 0);
    change.key = {*eco, rows->Text(i, 2)};
    change.state = *state;
    change.generation = rows->Int(i, 4);
    if (!rows->IsNull(i, 5)) change.score = rows->Double(i, 5);
    change.flags_json = rows->Text(i, 6);
    change.committed_at = rows->Int(i, 7);
    change.alert_json = rows->Text(i, 8);
    changes.push_back(std::move(change));
  }
  return changes;
}

Result<StatePage> PostgresStore::ReadState(std::int64_t after_id, std::size_t limit) {
  PgParams p;
  p.Add(after_id).Add(static_cast<std::int64_t>(limit));
  auto rows = impl_->Read(
      "SELECT id, ecosystem, name, report_state, report_generation, score, flags, state_since, change_offset "
      "FROM packages WHERE id > $1 AND report_state IS NOT NULL ORDER BY id LIMIT $2",
      p);
  if (!rows.ok()) return rows.status();
  StatePage page;
  page.next_after_id = after_id;
  for (int i = 0; i < rows->rows(); ++i) {
    page.next_after_id = rows->Int(i, 0);
    auto eco = core::ParseEcosystem(rows->TextView(i, 1));
    auto state = core::ParsePackageState(rows->TextView(i, 3));
    if (!eco || !state) continue;  // not a state this build knows: skipped
    PackageChange entry;
    entry.key = {*eco, rows->Text(i, 2)};
    entry.state = *state;
    entry.generation = rows->Int(i, 4);
    if (!rows->IsNull(i, 5)) entry.score = rows->Double(i, 5);
    entry.flags_json = rows->Text(i, 6);
    entry.committed_at = rows->Int(i, 7);
    entry.offset = rows->Int(i, 8);
    page.packages.push_back(std::move(entry));
  }
  page.done = static_cast<std::size_t>(rows->rows()) < limit;
  return page;
}

Result<ChangeLogBounds> PostgresStore::GetChangeLogBounds() {
  auto rows = impl_->Read(
      "SELECT (SELECT MIN(change_offset) FROM package_changes), (SELECT last FROM change_log_sequence)", {});
  if (!rows.ok()) return rows.status();
  if (rows->rows() != 1) return Status::Internal("change log bounds: no row");
  ChangeLogBounds bounds;
  bounds.last = rows->IsNull(0, 1) ? 0 : rows->Int(0, 1);
  bounds.first = rows->IsNull(0, 0) ? bounds.last + 1 : rows->Int(0, 0);
  return bounds;
}

void PostgresStore::SetChangeListener(std::function<void()> listener) {
  impl_->SetListener(std::move(listener));
}

Result<std::int64_t> PostgresStore::CompactChangesSync(std::int64_t keep_count, Millis keep_since) {
  return WaitFor<std::int64_t>([&](auto done) {
    impl_->SubmitPipelined<std::int64_t>(
        1,
        [keep_count, keep_since](PgConnection& c, Millis) {
          PgParams p;
          p.Add(std::max<std::int64_t>(keep_count, 0)).Add(keep_since);
          return c.SendPrepared("compact", p);
        },
        [](const std::vector<PgResult>& r) -> Result<std::int64_t> { return r[0].AffectedRows(); },
        std::move(done));
  });
}

Result<AdvisoryImport> PostgresStore::ImportAdvisoriesSync(std::vector<Advisory> advisories) {
  SortAdvisoriesById(advisories);
  return WaitFor<AdvisoryImport>([&](auto done) {
    impl_->SubmitInteractive<AdvisoryImport>(
        [list = std::move(advisories)](PgConnection& c, Millis) -> Result<AdvisoryImport> {
          return ImportAdvisoryRecords(
              list,
              [&](const std::string& id) -> Result<StoredAdvisoryRecord> {
                PgParams p;
                p.Add(id);
                // Locked: an import in another process waits for this one's decision.
                auto rows =
                    c.Exec("SELECT ecosystem, name, modified FROM advisories WHERE id = $1 FOR UPDATE", p);
                if (!rows.ok()) return rows.status();
                StoredAdvisoryRecord record;
                for (int i = 0; i < rows->rows(); ++i) {
                  if (auto eco = core::ParseEcosystem(rows->TextView(i, 0)))
                    record.packages.push_back({*eco, rows->Text(i, 1)});
                  record.modified = std::max(record.modified, rows->Text(i, 2));
                }
                return record;
              },
              [&](const std::string& id) {
                PgParams p;
                p.Add(id);
                auto removed = c.Exec("DELETE FROM advisories WHERE id = $1", p);
                return removed.ok() ? Status::Ok() : removed.status();
              },
              [&](const Advisory& a) {
                PgParams p;
                p.Add(EcoName(a.key))
                    .Add(a.key.name)
                    .Add(a.id)
                    .Add(a.summary)
                    .Add(a.versions)
                    .Add(a.modified);
                p.Add(a.ranges).Add(a.withdrawn).Add(a.published);
                auto inserted = c.Exec(
                    "INSERT INTO advisories (ecosystem, name, id, summary, versions, modified, ranges, "
                    "withdrawn, "
                    "published) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (ecosystem, name, "
                    "id) DO "
                    "UPDATE SET summary = excluded.summary, versions = excluded.versions, modified = "
                    "excluded.modified, ranges = excluded.ranges, withdrawn = excluded.withdrawn, published "
                    "= "
                    "excluded.published",
                    p);
                return inserted.ok() ? Status::Ok() : inserted.status();
              });
        },
        std::move(done));
  });
}

Result<std::vector<Advisory>> PostgresStore::FindAdvisories(const core::PackageKey& key) {
  PgParams p;
  p.Add(EcoName(key)).Add(key.name);
  auto rows = impl_->Read(
      "SELECT id, summary, versions, modified, ranges, withdrawn, published FROM advisories "
      "WHERE ecosystem = $1 AND name = $2 ORDER BY id",
      p);
  if (!rows.ok()) return rows.status();
  std::vector<Advisory> out;
  for (int i = 0; i < rows->rows(); ++i)
    out.push_back({key, rows->Text(i, 0), rows->Text(i, 1), rows->Text(i, 2), rows->Text(i, 3),
                   rows->Text(i, 4), rows->Text(i, 5), rows->Text(i, 6)});
  return out;
}

Status PostgresStore::WriteSync(std::function<Status(PgConnection&, Millis)> run) {
  auto done = WaitFor<bool>([&](auto callback) {
    impl_->SubmitInteractive<bool>(
        [&run](PgConnection& c, Millis now) -> Result<bool> {
          if (Status s = run(c, now); !s.ok()) return s;
          return true;
        },
        std::move(callback));
  });
  return done.ok() ? Status::Ok() : done.status();
}

Result<PgResult> PostgresStore::ReadSync(const std::string& sql, const PgParams& params) {
  return impl_->Read(sql, params);
}

int PostgresStore::SchemaVersion() {
  auto rows = impl_->Read("SELECT COALESCE(MAX(version), 0) FROM schema_migrations", {});
  return rows.ok() && rows->rows() == 1 ? static_cast<int>(rows->Int(0, 0)) : 0;
}

Store::WriterStats PostgresStore::GetWriterStats() const {
  return {impl_->requests_.load(), impl_->transactions_.load(), impl_->stale_.load(), impl_->retried_.load()};
}

}  // namespace pkgtrust::store
