// The package state machine: one row per package, moved on by conditional transitions.
// Every transition is conditional on (state, generation), so a duplicate or stale message
// finds nothing to update. Writes are queued and committed in batches (one transaction per
// batch, callbacks after the commit).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pkgtrust/core/clock.hpp"
#include "pkgtrust/core/ecosystem.hpp"
#include "pkgtrust/core/package_state.hpp"
#include "pkgtrust/core/status.hpp"
#include "pkgtrust/store/adoption_records.hpp"

namespace pkgtrust::store {

enum class StoreKind { kSqlite, kPostgres };

struct StoreConfig {
  StoreKind kind = StoreKind::kSqlite;
  // SQLite: the database file.
  std::string path = "pkgtrust.db";
  // PostgreSQL: a libpq connection string ("host=... dbname=..." or "postgresql://...").
  // The configuration names the environment variable that holds it, never the string itself
  // (it may hold a password); see app/config.cpp.
  std::string postgres_url;
  int read_connections = 4;         // the pool of read connections (both kinds)
  int cache_mb_per_connection = 8;  // SQLite page cache of each connection (writer and readers)
  std::size_t max_batch = 2048;     // requests per write transaction
  int busy_timeout_ms = 5000;       // SQLite: other processes holding the write lock
  bool synchronous_full = false;    // SQLite: NORMAL survives a killed process; FULL also a power cut
  // PostgreSQL: how long a lost connection is retried before the batch fails.
  int reconnect_timeout_ms = 30'000;
};

struct PackageRecord {
  std::int64_t id = 0;
  core::PackageKey key;
  core::PackageState state = core::PackageState::kPendingRegistry;
  std::int64_t generation = 0;
  core::Priority priority = core::Priority::kRegular;
  int attempts = 0;
  core::Millis state_since = 0;
  std::string last_error;
  core::Millis next_attempt_at = 0;
  std::string requested_version;
  core::Millis created_at = 0;
};

// A stage's output, stored as JSON text under a kind.
struct Fact {
  std::string kind;
  std::string json;
};

// The kinds of fact. Each has one owner that writes its JSON and reads it back, so a field
// is named in one file (tests/pipeline/report_test.cpp fails when one written is not read):
//   kRegistryFact    registry::PackageFacts::ToJson / FromJson   (the registry stage)
//   kRepositoryFact  github::RepositoryFacts::ToJson / FromJson  (the repository stage)
//   kScoreFact       scoring::Report::ToJson / FromJson          (the scoring stage)
// The store itself reads two members of the score fact, "score" and "flags", into the
// change log (SQLite: change_log.cpp, AppendChange; PostgreSQL: the transition statement and
// pkgtrust_put_complete_fact); Report::ToJson keeps them at the top level.
inline constexpr const char* kRegistryFact = "registry";
inline constexpr const char* kRepositoryFact = "repository";
inline constexpr const char* kScoreFact = "score";

// A malicious-package advisory (an OSV record) naming one package. `versions` and `ranges`
// are the record's affected versions and ranges as OSV's JSON arrays; both empty means every
// version. A withdrawn record is kept, with the time it was withdrawn, and never flags.
struct Advisory {
  core::PackageKey key;
  std::string id;
  std::string summary;
  std::string versions = "[]";
  std::string modified;  // RFC 3339, as the record says: a newer copy replaces an older one
  std::string ranges = "[]";
  std::string withdrawn;  // RFC 3339; empty: in force
  std::string published;
};

// What an import of advisories did. A record (all rows of one id) is replaced only by a
// copy with a newer `modified`; an equal or older copy changes nothing.
struct AdvisoryImport {
  std::int64_t records_new = 0, records_updated = 0, records_unchanged = 0;
  // Packages whose advisories changed (named by a new or updated record, or no longer named).
  std::vector<core::PackageKey> changed_packages;
};

// Start a run for a package unless one is already in flight.
struct EnqueueRequest {
  core::PackageKey key;
  core::Priority priority = core::Priority::kRegular;
  // For complete/not_found/failed packages: start a new generation (feed event, refresh,
  // reconciler retry). When false, finished packages are left as they are.
  bool restart_finished = true;
  std::string version;
  // With restart_finished: restart only a run its caller saw finish, i.e. when the
  // package's generation is still this one (0: the caller saw no package). A run that
  // another request started and finished since is then left alone (kUnchanged), so
  // concurrent requests for one package share one run.
  std::optional<std::int64_t> restart_generation;
};

enum class EnqueueOutcome {
  kStarted,          // new row or new generation in pending_registry: publish work
  kRaised,           // in flight at regular priority, now priority: publish at priority
  kAlreadyInFlight,  // nothing to do
  kUnchanged,        // finished and restart_finished was false
};

struct EnqueueResult {
  EnqueueOutcome outcome;
  PackageRecord record;  // as it is after the write
};

// A stage moved the package on: conditional on (from, generation).
struct TransitionRequest {
  core::PackageKey key;
  core::PackageState from;
  std::int64_t generation = 0;
  core::PackageState to;
  std::vector<Fact> facts;
};

enum class TransitionOutcome { kApplied, kStale };

struct TransitionResult {
  TransitionOutcome outcome;
  PackageRecord record;  // after the write when applied
};

// A stage attempt failed: count it and, when `give_up`, move the package to failed. The
// reconciler may retry a failed package from now + min(retry_max, retry_base * 2^attempts),
// attempts counting the failures since the package last finished.
struct FailureRequest {
  core::PackageKey key;
  core::PackageState from;
  std::int64_t generation = 0;
  std::string error;
  bool give_up = false;
  std::int64_t retry_base_ms = 60'000;
  std::int64_t retry_max_ms = 6 * 3600'000;
};

// One committed change of a package's report, as the change log holds it: the package
// reached complete or not_found, or its score was recomputed with another result.
struct PackageChange {
  std::int64_t offset = 0;  // increases with every change; never reused
  core::PackageKey key;
  core::PackageState state = core::PackageState::kComplete;
  std::int64_t generation = 0;
  std::optional<double> score;  // complete packages with a score
  std::string flags_json;       // the score's flags object as JSON; empty without a score
  core::Millis committed_at = 0;
  // Set: not a report but an exposure alert on the package (its JSON, adoption/alerts.cpp);
  // state and generation are then the package's when the alert was raised.
  std::string alert_json;
};

// The offsets the log can still serve: changes first..last are all there. Empty log:
// first = last + 1. last is the newest offset ever written (0: none yet).
struct ChangeLogBounds {
  std::int64_t first = 1;
  std::int64_t last = 0;
};

// A page of the compacted state: every package that has a report (it finished once; a
// refresh in flight keeps the last one), in id order, each as its last change (offset = the
// package's last change offset, 0 if it finished before the change log existed;
// committed_at = when the row last changed state).
struct StatePage {
  std::vector<PackageChange> packages;
  std::int64_t next_after_id = 0;  // pass as after_id for the next page
  bool done = false;               // no more pages
};

// A repository's facts as read from its host, shared by every package that declares it.
struct StoredRepository {
  std::string key;         // "github.com/owner/name", lower case
  std::string facts_json;  // github::RepositoryFacts without a manifest
  std::string outcome;     // found, not_found, unavailable
  core::Millis read_at = 0;
};

// The state store: what the pipeline, the API, the reconciler, the change stream, the
// advisories and rescoring need, and nothing of the database behind it (in the manner of
// LevelDB's Env). Two implementations: SQLite, embedded, for one host (sqlite_store.cpp),
// and PostgreSQL, shared by the processes of several hosts (postgres_store.cpp). Both pass
// the one conformance suite (tests/store/store_conformance_test.cpp).
//
// Safe for concurrent use. Callbacks run on the store's writer thread after the commit: they
// must be short and must not call the store's *Sync methods.
class Store {
 public:
  template <typename T>
  using Callback = std::function<void(core::Result<T>)>;

  // Opens or creates the database of `config.kind` and applies its migrations. Errors name
  // the file or the server.
  static core::Result<std::unique_ptr<Store>> Open(StoreConfig config, const core::Clock& clock);
  virtual ~Store() = default;

  virtual void Enqueue(EnqueueRequest request, Callback<EnqueueResult> done) = 0;
  virtual void Transition(TransitionRequest request, Callback<TransitionResult> done) = 0;
  virtual void RecordFailure(FailureRequest request, Callback<TransitionResult> done) = 0;
  // Marks a still-stuck package as just re-published (conditional on state, generation).
  virtual void Touch(core::PackageKey key, core::PackageState state, std::int64_t generation,
                     Callback<bool> done) = 0;
  // Several enqueues in one call (a webhook batch): all in the same transaction.
  virtual void EnqueueMany(std::vector<EnqueueRequest> requests,
                           Callback<std::vector<EnqueueResult>> done) = 0;

  core::Result<EnqueueResult> EnqueueSync(EnqueueRequest request);
  core::Result<TransitionResult> TransitionSync(TransitionRequest request);
  core::Result<TransitionResult> RecordFailureSync(FailureRequest request);
  core::Result<std::vector<EnqueueResult>> EnqueueManySync(std::vector<EnqueueRequest> requests);

  virtual core::Result<std::optional<PackageRecord>> Get(const core::PackageKey& key) = 0;
  virtual core::Result<std::vector<Fact>> GetFacts(const core::PackageKey& key) = 0;
  // One fact's JSON, or nullopt when the package has none of that kind.
  virtual core::Result<std::optional<std::string>> GetFact(const core::PackageKey& key,
                                                           std::string_view kind) = 0;
  // In-flight packages whose state has not changed since before `since`.
  virtual core::Result<std::vector<PackageRecord>> ListStuck(core::Millis since, std::size_t limit) = 0;
  // Claims up to `limit` stuck packages (in flight, unchanged since before `since`) for
  // re-publishing: marks each as just re-published (state_since = now) and returns them as
  // they were claimed. Two processes calling at once never get the same package.
  virtual core::Result<std::vector<PackageRecord>> ClaimStuckSync(core::Millis since, std::size_t limit) = 0;
  // Failed packages whose retry time has come.
  virtual core::Result<std::vector<PackageRecord>> ListRetryable(core::Millis now, std::size_t limit) = 0;
  // Complete packages that finished before `before`.
  virtual core::Result<std::vector<PackageRecord>> ListStale(core::Millis before, std::size_t limit) = 0;
  virtual core::Result<std::map<core::PackageState, std::int64_t>> CountByState() = 0;

  // The change log: changes with an offset above `after_offset`, oldest first. A change
  // committed after a reader read past offset N always gets an offset above N.
  virtual core::Result<std::vector<PackageChange>> ReadChanges(std::int64_t after_offset,
                                                               std::size_t limit) = 0;
  virtual core::Result<ChangeLogBounds> GetChangeLogBounds() = 0;
  // Calls `listener` (on a store thread; it must be short) after a commit that appended to
  // the change log, from this process or, where the database is shared, from any process.
  // One listener; a new one replaces the last, an empty one removes it.
  virtual void SetChangeListener(std::function<void()> listener) = 0;
  // The compacted state, a page at a time (ids above `after_id`).
  virtual core::Result<StatePage> ReadState(std::int64_t after_id, std::size_t limit) = 0;
  // Drops the oldest changes so that at most `keep_count` remain and none committed before
  // `keep_since` (ms since the epoch); always a prefix of the log. Returns how many went.
  virtual core::Result<std::int64_t> CompactChangesSync(std::int64_t keep_count, core::Millis keep_since) = 0;
  // Packages in `state` with an id above `after_id`, in id order (for scans: rescoring).
  virtual core::Result<std::vector<PackageRecord>> ListByState(core::PackageState state,
                                                               std::int64_t after_id, std::size_t limit) = 0;
  // Packages of `ecosystem` whose (normalized) name starts with `prefix` and sorts after
  // `after`, in name order (search; `after` pages).
  virtual core::Result<std::vector<PackageRecord>> ListByPrefix(core::Ecosystem ecosystem,
                                                                const std::string& prefix,
                                                                const std::string& after,
                                                                std::size_t limit) = 0;
  // Replaces one fact of a package still complete in `generation` (rescoring); returns
  // false, writing nothing, when the package has moved on.
  virtual core::Result<bool> PutCompleteFactSync(const core::PackageKey& key, std::int64_t generation,
                                                 Fact fact) = 0;
  // Stores OSV records (the rows of each id together) in one transaction: new ids are added;
  // an id whose stored copy is older (by `modified`) is replaced, rows and all; the rest are
  // left as they are.
  virtual core::Result<AdvisoryImport> ImportAdvisoriesSync(std::vector<Advisory> advisories) = 0;
  // The stored facts of a repository (by StoredRepository::key), or nullopt.
  virtual core::Result<std::optional<StoredRepository>> GetRepository(const std::string& key) = 0;
  // Stores (replaces) a repository's facts.
  virtual core::Status PutRepositorySync(StoredRepository repository) = 0;
  // Claims the reads of `keys` for `owner` until `until` (one transaction): a key is
  // claimed when nobody holds it, its claim expired before `now`, or `owner` holds it
  // already. Returns, for each key in order, 0 when claimed or the other holder's `until`.
  virtual core::Result<std::vector<core::Millis>> ClaimRepositoryReadsSync(std::vector<std::string> keys,
                                                                           std::string owner,
                                                                           core::Millis until,
                                                                           core::Millis now) = 0;
  // Lets go of `owner`'s claims on `keys` (another owner's claim stays).
  virtual core::Status EndRepositoryReadsSync(std::vector<std::string> keys, std::string owner) = 0;
  // Every advisory naming the package, withdrawn ones included, by id.
  virtual core::Result<std::vector<Advisory>> FindAdvisories(const core::PackageKey& key) = 0;
  // The number of the newest migration applied.
  virtual int SchemaVersion() = 0;

  // ---- adoption (adoption_records.hpp; src/adoption/ decides what is written)
  // Appends rows to the request log, one transaction.
  virtual core::Status AppendRequestLogSync(std::vector<RequestLogRow> rows) = 0;
  // Rows with an id above `after_id`, in id order. Not `full`: only what processing reads
  // (id, at, ecosystem, method, path, status, origin).
  virtual core::Result<std::vector<RequestLogRow>> ReadRequestLog(std::int64_t after_id, std::size_t limit,
                                                                  bool full = true) = 0;
  // Rows with an id up to `up_to_id` and a time from `since` to `until` (what came just before
  // a step), in id order; found by time, so the cost does not grow with the log.
  virtual core::Result<std::vector<RequestLogRow>> ReadRequestLogBefore(std::int64_t up_to_id,
                                                                        core::Millis since,
                                                                        core::Millis until) = 0;
  virtual core::Result<AdoptionCursors> GetAdoptionCursors() = 0;
  // Applies `update` if the processing cursor is still its from_cursor (see AdoptionUpdate).
  virtual core::Result<AdoptionApplied> ApplyAdoptionSync(AdoptionUpdate update) = 0;
  // Moves the alerts' cursor forward (never back).
  virtual core::Status SetAlertCursorSync(std::int64_t offset) = 0;
  // A package's rows for days from..to (inclusive).
  virtual core::Result<PackageAdoption> ReadAdoption(const core::PackageKey& key, std::int64_t from_day,
                                                     std::int64_t to_day) = 0;
  // The most downloaded packages over days from..to; every ecosystem when `ecosystem` is empty.
  virtual core::Result<std::vector<AdoptionTopRow>> ReadAdoptionTop(std::int64_t from_day,
                                                                    std::int64_t to_day,
                                                                    const std::string& ecosystem,
                                                                    std::size_t limit) = 0;
  // Raises an alert unless one for the package and reason is open: the alert and a change
  // log row carrying it, one transaction. Returns the alert as stored (id 0: one was open).
  virtual core::Result<ExposureAlert> RaiseAlertSync(ExposureAlert alert) = 0;
  // Resolves the package's open alerts whose reason is not in `still_flagged`.
  virtual core::Result<std::int64_t> ResolveAlertsSync(const core::PackageKey& key,
                                                       std::vector<std::string> still_flagged,
                                                       core::Millis now) = 0;
  // Alerts newest first; only open ones when `open_only`; below `before_id` when it is not 0.
  virtual core::Result<std::vector<ExposureAlert>> ListAlerts(bool open_only, std::int64_t before_id,
                                                              std::size_t limit) = 0;
  // Deletes processed request log rows from before `log_before` and the origins of days
  // before `origins_before_day` (the aggregates stay). Returns the log rows deleted.
  virtual core::Result<std::int64_t> ExpireAdoptionSync(core::Millis log_before,
                                                        std::int64_t origins_before_day) = 0;
  // Deletes everything adoption holds of one package (aggregates, origins, alerts, its log rows).
  virtual core::Result<std::int64_t> DeleteAdoptionSync(const core::PackageKey& key) = 0;

  struct WriterStats {
    std::int64_t requests = 0, transactions = 0, stale = 0;
    std::int64_t retried_batches = 0;  // batches run again after a lost connection or a deadlock
  };
  virtual WriterStats GetWriterStats() const = 0;

  // Commits what is queued and stops the writer. Further writes fail with Unavailable.
  virtual void Close() = 0;
};

// Runs an asynchronous store call and waits for its result (the *Sync methods).
template <typename T, typename Submit>
core::Result<T> WaitFor(Submit&& submit) {
  std::promise<core::Result<T>> promise;
  auto future = promise.get_future();
  submit([&promise](core::Result<T> result) { promise.set_value(std::move(result)); });
  return future.get();
}

}  // namespace pkgtrust::store
