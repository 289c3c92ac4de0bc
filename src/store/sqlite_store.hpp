// Private to the store (src/store/): the SQLite store (WAL), for one host. One writer
// connection on its own thread commits queued operations in batches (writer.cpp); a few
// read-only connections serve reads (Lease). sqlite_store.cpp holds the package rows, facts
// and repositories; change_log.cpp the change log; advisories.cpp the OSV advisories.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "pkgtrust/store/store.hpp"
#include "sqlite.hpp"

namespace pkgtrust::store {

using core::Millis;
using core::PackageState;
using core::Result;
using core::Status;

// The package columns every query returns, in ReadRecord's order. A macro so that each
// statement is one string literal (prepared statements are cached by the literal's address).
#define PACKAGE_COLUMNS                                                                                    \
  "id, ecosystem, name, state, generation, priority, attempts, state_since, last_error, next_attempt_at, " \
  "requested_version, created_at"

Result<PackageRecord> ReadRecord(const Statement& row);
std::string_view StateText(PackageState s);
std::string_view EcoText(const core::PackageKey& key);
// Runs a statement without parameters from the connection's cache of prepared statements.
Status RunCached(Connection& conn, const char* sql);

class SqliteStore final : public Store {
 public:
  static Result<std::unique_ptr<Store>> Open(StoreConfig config, const core::Clock& clock);
  ~SqliteStore() override;

  void Enqueue(EnqueueRequest request, Callback<EnqueueResult> done) override;
  void Transition(TransitionRequest request, Callback<TransitionResult> done) override;
  void RecordFailure(FailureRequest request, Callback<TransitionResult> done) override;
  void Touch(core::PackageKey key, core::PackageState state, std::int64_t generation,
             Callback<bool> done) override;
  void EnqueueMany(std::vector<EnqueueRequest> requests, Callback<std::vector<EnqueueResult>> done) override;
  Result<std::optional<PackageRecord>> Get(const core::PackageKey& key) override;
  Result<std::vector<Fact>> GetFacts(const core::PackageKey& key) override;
  Result<std::optional<std::string>> GetFact(const core::PackageKey& key, std::string_view kind) override;
  Result<std::vector<PackageRecord>> ListStuck(Millis since, std::size_t limit) override;
  Result<std::vector<PackageRecord>> ClaimStuckSync(Millis since, std::size_t limit) override;
  Result<std::vector<PackageRecord>> ListRetryable(Millis now, std::size_t limit) override;
  Result<std::vector<PackageRecord>> ListStale(Millis before, std::size_t limit) override;
  Result<std::map<PackageState, std::int64_t>> CountByState() override;
  Result<std::vector<PackageChange>> ReadChanges(std::int64_t after_offset, std::size_t limit) override;
  Result<ChangeLogBounds> GetChangeLogBounds() override;
  void SetChangeListener(std::function<void()> listener) override;
  Result<StatePage> ReadState(std::int64_t after_id, std::size_t limit) override;
  Result<std::int64_t> CompactChangesSync(std::int64_t keep_count, Millis keep_since) override;
  Result<std::vector<PackageRecord>> ListByState(PackageState state, std::int64_t after_id,
                                                 std::size_t limit) override;
  Result<std::vector<PackageRecord>> ListByPrefix(core::Ecosystem ecosystem, const std::string& prefix,
                                                  const std::string& after, std::size_t limit) override;
  Result<bool> PutCompleteFactSync(const core::PackageKey& key, std::int64_t generation, Fact fact) override;
  Result<AdvisoryImport> ImportAdvisoriesSync(std::vector<Advisory> advisories) override;
  Result<std::optional<StoredRepository>> GetRepository(const std::string& key) override;
  Status PutRepositorySync(StoredRepository repository) override;
  Result<std::vector<Millis>> ClaimRepositoryReadsSync(std::vector<std::string> keys, std::string owner,
                                                       Millis until, Millis now) override;
  Status EndRepositoryReadsSync(std::vector<std::string> keys, std::string owner) override;
  Result<std::vector<Advisory>> FindAdvisories(const core::PackageKey& key) override;
  int SchemaVersion() override;

  Status AppendRequestLogSync(std::vector<RequestLogRow> rows) override;
  Result<std::vector<RequestLogRow>> ReadRequestLog(std::int64_t after_id, std::size_t limit,
                                                    bool full = true) override;
  Result<std::vector<RequestLogRow>> ReadRequestLogBefore(std::int64_t up_to_id, Millis since,
                                                          Millis until) override;
  Result<AdoptionCursors> GetAdoptionCursors() override;
  Result<AdoptionApplied> ApplyAdoptionSync(AdoptionUpdate update) override;
  Status SetAlertCursorSync(std::int64_t offset) override;
  Result<PackageAdoption> ReadAdoption(const core::PackageKey& key, std::int64_t from_day,
                                       std::int64_t to_day) override;
  Result<std::vector<AdoptionTopRow>> ReadAdoptionTop(std::int64_t from_day, std::int64_t to_day,
                                                      const std::string& ecosystem,
                                                      std::size_t limit) override;
  Result<ExposureAlert> RaiseAlertSync(ExposureAlert alert) override;
  Result<std::int64_t> ResolveAlertsSync(const core::PackageKey& key, std::vector<std::string> still_flagged,
                                         Millis now) override;
  Result<std::vector<ExposureAlert>> ListAlerts(bool open_only, std::int64_t before_id,
                                                std::size_t limit) override;
  Result<std::int64_t> ExpireAdoptionSync(Millis log_before, std::int64_t origins_before_day) override;
  Result<std::int64_t> DeleteAdoptionSync(const core::PackageKey& key) override;
  WriterStats GetWriterStats() const override;
  void Close() override;

  class Impl;

 private:
  explicit SqliteStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

class SqliteStore::Impl {
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

  Status Open();

  ~Impl() { Close(); }

  void Close();

  void Submit(std::unique_ptr<Op> op);

  // ---- operations run on the writer connection, inside the batch transaction ----------

  Result<std::optional<PackageRecord>> SelectByKey(Connection& conn, const core::PackageKey& key);

  // Runs an UPDATE/INSERT ... RETURNING <columns>; nullopt when no row was affected.
  Result<std::optional<PackageRecord>> Returning(Statement& s);

  Result<EnqueueResult> DoEnqueue(Connection& conn, const EnqueueRequest& req, Millis now);

  Result<TransitionResult> DoTransition(Connection& conn, const TransitionRequest& req, Millis now);

  Result<TransitionResult> DoFailure(Connection& conn, const FailureRequest& req, Millis now);

  Result<bool> DoTouch(Connection& conn, const core::PackageKey& key, PackageState state,
                       std::int64_t generation, Millis now);

  // Queues `body` (Connection&, Millis) -> Result<T>; `done` gets its result after the commit.
  template <typename T, typename F>
  void SubmitOp(F&& body, Callback<T> done, Writes writes = Writes::kSeveral) {
    Submit(std::make_unique<TypedOp<T, std::decay_t<F>>>(std::forward<F>(body), std::move(done), writes));
  }

  // Appends the package's report as it is now to the change log, in the caller's
  // transaction (change_log.cpp); the change listener hears of it after the commit.
  Status AppendChange(Connection& conn, std::int64_t package_id, Millis now);
  // Appends an exposure alert on `key` to the change log (adoption_sqlite.cpp); its offset.
  Result<std::int64_t> AppendAlertChange(Connection& conn, const core::PackageKey& key,
                                         const std::string& alert_json, Millis now);

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
                                                    const std::function<void(Statement&)>& bind);

  StoreConfig config_;
  const core::Clock& clock_;
  std::unique_ptr<Connection> writer_;
  std::mutex read_mu_;
  std::condition_variable read_cv_;
  std::vector<std::unique_ptr<Connection>> readers_;
  std::atomic<std::int64_t> requests_{0}, transactions_{0}, stale_{0};
  std::mutex listener_mu_;
  std::function<void()> change_listener_;

 private:
  void WriterLoop();

  void RunBatch(std::vector<std::unique_ptr<Op>>& batch);

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::unique_ptr<Op>> queue_;
  bool batch_appended_change_ = false;  // writer thread only
  bool closed_ = false;
  std::thread writer_thread_;
};

}  // namespace pkgtrust::store
