// Private to the store (src/store/): the PostgreSQL store, shared by the pkgtrust processes
// of several hosts. One writer connection per process commits queued operations in
// batches, each batch one transaction sent in libpq's pipeline mode (one round trip); a
// pool of connections serves reads; one more connection LISTENs for the change log's
// notifications. postgres_store.cpp explains each PostgreSQL-specific step where it is done.
#pragma once

#include <memory>

#include "pkgtrust/store/store.hpp"
#include "postgres.hpp"

namespace pkgtrust::store {

using core::Millis;
using core::Result;
using core::Status;

class PostgresStore final : public Store {
 public:
  static core::Result<std::unique_ptr<Store>> Open(StoreConfig config, const core::Clock& clock);
  ~PostgresStore() override;

  void Enqueue(EnqueueRequest request, Callback<EnqueueResult> done) override;
  void Transition(TransitionRequest request, Callback<TransitionResult> done) override;
  void RecordFailure(FailureRequest request, Callback<TransitionResult> done) override;
  void Touch(core::PackageKey key, core::PackageState state, std::int64_t generation,
             Callback<bool> done) override;
  void EnqueueMany(std::vector<EnqueueRequest> requests, Callback<std::vector<EnqueueResult>> done) override;
  core::Result<std::optional<PackageRecord>> Get(const core::PackageKey& key) override;
  core::Result<std::vector<Fact>> GetFacts(const core::PackageKey& key) override;
  core::Result<std::optional<std::string>> GetFact(const core::PackageKey& key,
                                                   std::string_view kind) override;
  core::Result<std::vector<PackageRecord>> ListStuck(core::Millis since, std::size_t limit) override;
  core::Result<std::vector<PackageRecord>> ClaimStuckSync(core::Millis since, std::size_t limit) override;
  core::Result<std::vector<PackageRecord>> ListRetryable(core::Millis now, std::size_t limit) override;
  core::Result<std::vector<PackageRecord>> ListStale(core::Millis before, std::size_t limit) override;
  core::Result<std::map<core::PackageState, std::int64_t>> CountByState() override;
  core::Result<std::vector<PackageChange>> ReadChanges(std::int64_t after_offset, std::size_t limit) override;
  core::Result<ChangeLogBounds> GetChangeLogBounds() override;
  void SetChangeListener(std::function<void()> listener) override;
  core::Result<StatePage> ReadState(std::int64_t after_id, std::size_t limit) override;
  core::Result<std::int64_t> CompactChangesSync(std::int64_t keep_count, core::Millis keep_since) override;
  core::Result<std::vector<PackageRecord>> ListByState(core::PackageState state, std::int64_t after_id,
                                                       std::size_t limit) override;
  core::Result<std::vector<PackageRecord>> ListByPrefix(core::Ecosystem ecosystem, const std::string& prefix,
                                                        const std::string& after, std::size_t limit) override;
  core::Result<bool> PutCompleteFactSync(const core::PackageKey& key, std::int64_t generation,
                                         Fact fact) override;
  core::Result<AdvisoryImport> ImportAdvisoriesSync(std::vector<Advisory> advisories) override;
  core::Result<std::optional<StoredRepository>> GetRepository(const std::string& key) override;
  core::Status PutRepositorySync(StoredRepository repository) override;
  core::Result<std::vector<core::Millis>> ClaimRepositoryReadsSync(std::vector<std::string> keys,
                                                                   std::string owner, core::Millis until,
                                                                   core::Millis now) override;
  core::Status EndRepositoryReadsSync(std::vector<std::string> keys, std::string owner) override;
  core::Result<std::vector<Advisory>> FindAdvisories(const core::PackageKey& key) override;
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

  // For adoption_postgres.cpp: `run` in a transaction of its own on the writer connection
  // (run again from the start when the connection was lost before the commit), and a read
  // on the pool.
  Status WriteSync(std::function<Status(PgConnection&, Millis)> run);
  Result<PgResult> ReadSync(const std::string& sql, const PgParams& params);

 private:
  explicit PostgresStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace pkgtrust::store
