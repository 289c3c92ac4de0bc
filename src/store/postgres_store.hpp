// Private to the store (src/store/): the PostgreSQL store, shared by the pkgtrust processes
// of several hosts. One writer connection per process commits queued operations in
// batches, each batch one transaction sent in libpq's pipeline mode (one round trip); a
// pool of connections serves reads; one more connection LISTENs for the change log's
// notifications. postgres_store.cpp explains each PostgreSQL-specific step where it is done.
#pragma once

#include <memory>

#include "pkgtrust/store/store.hpp"

namespace pkgtrust::store {

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
  WriterStats GetWriterStats() const override;
  void Close() override;

  class Impl;

 private:
  explicit PostgresStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace pkgtrust::store
