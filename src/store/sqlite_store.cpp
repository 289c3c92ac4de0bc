// The SQLite store's calls: package rows (enqueue, transitions, reads and lists),
// their facts, and the shared repository rows with their read claims. The writer is in
// writer.cpp, the change log in change_log.cpp, the advisories in advisories.cpp.
#include "sqlite_store.hpp"

#include <algorithm>

#include "migrations.hpp"
#include "pkgtrust/store/store.hpp"

namespace pkgtrust::store {

SqliteStore::SqliteStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
SqliteStore::~SqliteStore() = default;

Result<std::unique_ptr<Store>> SqliteStore::Open(StoreConfig config, const core::Clock& clock) {
  auto impl = std::make_unique<Impl>(std::move(config), clock);
  if (auto s = impl->Open(); !s.ok()) return s;
  return std::unique_ptr<Store>(new SqliteStore(std::move(impl)));
}

void SqliteStore::Close() { impl_->Close(); }

void SqliteStore::Enqueue(EnqueueRequest request, Callback<EnqueueResult> done) {
  impl_->SubmitOp<EnqueueResult>([impl = impl_.get(), req = std::move(request)](
                                     Connection& c, Millis now) { return impl->DoEnqueue(c, req, now); },
                                 std::move(done), Impl::Writes::kOne);
}

void SqliteStore::EnqueueMany(std::vector<EnqueueRequest> requests,
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

void SqliteStore::Transition(TransitionRequest request, Callback<TransitionResult> done) {
  auto writes = request.facts.empty() ? Impl::Writes::kOne : Impl::Writes::kSeveral;
  impl_->SubmitOp<TransitionResult>(
      [impl = impl_.get(), req = std::move(request)](Connection& c, Millis now) {
        return impl->DoTransition(c, req, now);
      },
      std::move(done), writes);
}

void SqliteStore::RecordFailure(FailureRequest request, Callback<TransitionResult> done) {
  impl_->SubmitOp<TransitionResult>([impl = impl_.get(), req = std::move(request)](
                                        Connection& c, Millis now) { return impl->DoFailure(c, req, now); },
                                    std::move(done), Impl::Writes::kOne);
}

void SqliteStore::Touch(core::PackageKey key, PackageState state, std::int64_t generation,
                        Callback<bool> done) {
  impl_->SubmitOp<bool>(
      [impl = impl_.get(), key = std::move(key), state, generation](Connection& c, Millis now) {
        return impl->DoTouch(c, key, state, generation, now);
      },
      std::move(done), Impl::Writes::kOne);
}

Result<std::optional<PackageRecord>> SqliteStore::Get(const core::PackageKey& key) {
  Impl::Lease lease(*impl_);
  return impl_->SelectByKey(*lease, key);
}

Result<std::vector<Fact>> SqliteStore::GetFacts(const core::PackageKey& key) {
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

Result<std::optional<std::string>> SqliteStore::GetFact(const core::PackageKey& key, std::string_view kind) {
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

Result<std::optional<StoredRepository>> SqliteStore::GetRepository(const std::string& key) {
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

Status SqliteStore::PutRepositorySync(StoredRepository repository) {
  auto stored = WaitFor<bool>([&](auto done) {
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

Result<std::vector<Millis>> SqliteStore::ClaimRepositoryReadsSync(std::vector<std::string> keys,
                                                                  std::string owner, Millis until,
                                                                  Millis now) {
  return WaitFor<std::vector<Millis>>([&](auto done) {
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

Status SqliteStore::EndRepositoryReadsSync(std::vector<std::string> keys, std::string owner) {
  auto ended = WaitFor<bool>([&](auto done) {
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

Result<std::vector<PackageRecord>> SqliteStore::ListStuck(Millis since, std::size_t limit) {
  return impl_->SelectPackages("SELECT " PACKAGE_COLUMNS
                               " FROM packages WHERE state IN ('pending_registry', "
                               "'pending_repository', 'pending_score') AND state_since < ? "
                               "ORDER BY state_since LIMIT ?",
                               [&](Statement& s) { s.Bind(since).Bind(static_cast<std::int64_t>(limit)); });
}

Result<std::vector<PackageRecord>> SqliteStore::ClaimStuckSync(Millis since, std::size_t limit) {
  return WaitFor<std::vector<PackageRecord>>([&](auto done) {
    impl_->SubmitOp<std::vector<PackageRecord>>(
        [since, limit](Connection& c, Millis now) -> Result<std::vector<PackageRecord>> {
          // One writer: the select and the update are one step no other writer can split.
          auto stmt = c.Prepare(
              "UPDATE packages SET state_since = ? WHERE id IN (SELECT id FROM packages "
              "WHERE state IN ('pending_registry', 'pending_repository', 'pending_score') "
              "AND state_since < ? ORDER BY state_since LIMIT ?) RETURNING " PACKAGE_COLUMNS);
          if (!stmt.ok()) return stmt.status();
          (*stmt)->Bind(now).Bind(since).Bind(static_cast<std::int64_t>(limit));
          std::vector<PackageRecord> claimed;
          Status status;
          while ((*stmt)->Step(&status)) {
            auto record = ReadRecord(**stmt);
            if (!record.ok()) return record.status();
            claimed.push_back(std::move(record).value());
          }
          if (!status.ok()) return status;
          return claimed;
        },
        std::move(done), Impl::Writes::kOne);
  });
}

void SqliteStore::SetChangeListener(std::function<void()> listener) {
  std::lock_guard lock(impl_->listener_mu_);
  impl_->change_listener_ = std::move(listener);
}

Result<std::vector<PackageRecord>> SqliteStore::ListRetryable(Millis now, std::size_t limit) {
  return impl_->SelectPackages("SELECT " PACKAGE_COLUMNS
                               " FROM packages WHERE state = 'failed' AND next_attempt_at <= ? "
                               "ORDER BY next_attempt_at LIMIT ?",
                               [&](Statement& s) { s.Bind(now).Bind(static_cast<std::int64_t>(limit)); });
}

Result<std::vector<PackageRecord>> SqliteStore::ListStale(Millis before, std::size_t limit) {
  return impl_->SelectPackages("SELECT " PACKAGE_COLUMNS
                               " FROM packages WHERE state = 'complete' AND state_since < ? "
                               "ORDER BY state_since LIMIT ?",
                               [&](Statement& s) { s.Bind(before).Bind(static_cast<std::int64_t>(limit)); });
}

Result<std::map<PackageState, std::int64_t>> SqliteStore::CountByState() {
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

Result<std::vector<PackageRecord>> SqliteStore::ListByState(PackageState state, std::int64_t after_id,
                                                            std::size_t limit) {
  return impl_->SelectPackages(
      "SELECT " PACKAGE_COLUMNS " FROM packages WHERE state = ? AND id > ? ORDER BY id LIMIT ?",
      [&](Statement& s) { s.Bind(StateText(state)).Bind(after_id).Bind(static_cast<std::int64_t>(limit)); });
}

Result<std::vector<PackageRecord>> SqliteStore::ListByPrefix(core::Ecosystem ecosystem,
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

Result<bool> SqliteStore::PutCompleteFactSync(const core::PackageKey& key, std::int64_t generation,
                                              Fact fact) {
  return WaitFor<bool>([&](auto done) {
    impl_->SubmitOp<bool>(
        [impl = impl_.get(), key, generation, fact = std::move(fact)](Connection& c,
                                                                      Millis now) -> Result<bool> {
          // A new score or new flags are a change of the report: the change log gets it.
          bool report_changes = false;
          std::int64_t package_id = 0;
          if (fact.kind == kScoreFact) {
            auto old = c.Prepare(
                "SELECT p.id, f.data IS NULL OR json_extract(f.data, '$.score') IS NOT json_extract(?, "
                "'$.score') "
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
            if (Status s = impl->AppendChange(c, package_id, now); !s.ok()) return s;
          return stored;
        },
        std::move(done));
  });
}

int SqliteStore::SchemaVersion() {
  Impl::Lease lease(*impl_);
  return CurrentSchemaVersion(*lease);
}

SqliteStore::WriterStats SqliteStore::GetWriterStats() const {
  return {impl_->requests_.load(), impl_->transactions_.load(), impl_->stale_.load()};
}

}  // namespace pkgtrust::store
