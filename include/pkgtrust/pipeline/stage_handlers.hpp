// The real handlers of the registry and repository stages: they call the upstream
// adapters and decide where each package goes next; the Stage commits their result.
//   registry:   found with a GitHub repository -> pending_repository; found without one ->
//               pending_score; absent from the registry -> not_found
//   repository: GitHub facts (a missing or moved repository is a fact too) -> pending_score
//   scoring:    the score model over the stored facts -> complete, with the "score" fact
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "pkgtrust/github/github_client.hpp"
#include "pkgtrust/pipeline/stage.hpp"
#include "pkgtrust/registry/registry_client.hpp"
#include "pkgtrust/scoring/model.hpp"
#include "pkgtrust/scoring/typosquat.hpp"
#include "pkgtrust/store/store.hpp"

namespace pkgtrust::pipeline {

class RegistryStageHandler final : public StageHandler {
 public:
  explicit RegistryStageHandler(registry::RegistryClient& client) : client_(client) {}
  void Handle(const WorkItem& item, std::function<void(StageResult)> done) override;

 private:
  registry::RegistryClient& client_;
};

// Repository facts are read once per repository and shared (the `repositories` table):
// a package whose repository was read less than `repository_ttl` ago uses the stored
// facts and only its own manifest is read; packages that need a repository being read
// right now wait for that one read (one flight per repository in this process). The
// package's "repository" fact is the shared facts (with their `read_at`) and its manifest.
//
// Processes sharing the database read a repository once too: a process claims the read in
// the store (`repository_reads`) and the others postpone their packages until the facts are
// stored or the claim expires (kRepositoryReadClaim). A postponed message is received again,
// and receives count toward the stage's attempts: postpones are at least a second and at
// most ten, so even a claim left to lapse costs a package three receives.
//
// Work a user waits for never waits on a regular read: it reads the repository itself (in
// its own flight, claim or no claim), so a read stalled behind a rate limit or a slow
// batch delays only regular work.
//
// With a GitHub token, the reads go out in GraphQL batches (graphql_batch.hpp): the facts of
// up to `graphql_batch` repositories and every waiting package's manifest in one query. A
// batch waits at most `batch_wait` to fill; one with work a user waits for goes at once.
// When GitHub gives up on a query in its time limit (HTTP 502 or 504) the next batches are
// half as large (down to one repository); each batch answered doubles the size again, up
// to `graphql_batch`.
// How long a claim on a repository's read holds at most: longer than a read takes (GitHub
// stops a GraphQL query at 10 s; REST reads take a few), short enough that a claim left by
// a process that died (or stopped before it could let go) holds the others for little.
inline constexpr std::chrono::seconds kRepositoryReadClaim{30};

struct RepositorySharing {
  std::chrono::milliseconds repository_ttl{std::chrono::hours(24)};  // 0: every package reads again
  int graphql_batch = 50;                                            // 0: REST, one repository at a time
  std::chrono::milliseconds batch_wait{200};
};

class RepositoryStageHandler final : public StageHandler {
 public:
  RepositoryStageHandler(github::GitHubClient& client, store::Store& store, RepositorySharing sharing = {},
                         const core::Clock& clock = core::SystemClock::Instance());
  ~RepositoryStageHandler() override;
  // Ends the batching thread, dropping what waits (call after the stage stopped and before
  // the HTTP client goes away).
  void StopBatching();
  void Handle(const WorkItem& item, std::function<void(StageResult)> done) override;
  core::Millis PausedUntil() const override { return client_.RateLimitedUntil(); }

  // The `repositories` key of a repository: "host/owner/name" in lower case.
  static std::string RepositoryKey(const core::RepositoryRef& repo);

 private:
  using SharedDone = std::function<void(github::GitHubResult)>;
  // Reads the repository (without a manifest), stores it, and hands it to every package
  // that asked meanwhile. `claimed`: this package claimed the read across processes (let go
  // at once if it joins a read already under way).
  void ReadShared(const std::string& key, const core::RepositoryRef& repo,
                  std::optional<github::RepositoryFacts> stored, bool urgent, bool claimed, SharedDone done);
  // The package's facts from the shared ones: its manifest read when the repository exists.
  void Finish(const WorkItem& item, const github::RepositoryFacts& shared,
              const std::optional<github::RepositoryFacts>& previous, std::function<void(StageResult)> done);
  StageResult Failed(const core::Status& status) const;
  // Stamps a fresh read (read_at now, no package's manifest or subdirectory) and stores it
  // as the repository's shared row.
  void StoreShared(const std::string& key, github::RepositoryFacts& facts);
  // Claims the reads of `keys` across processes; for each key, 0 when this process may read
  // it, else how long another process still holds it. A store error claims everything
  // (one read too many costs less than a stalled package).
  std::vector<std::chrono::milliseconds> ClaimReads(const std::vector<std::string>& keys);
  void EndReads(std::vector<std::string> keys);
  // The Postpone for a package whose repository another process is reading.
  static StageResult WaitForOtherProcess(std::chrono::milliseconds held);

  // --- GraphQL batches (with a token)
  struct BatchRequest {
    std::string key;
    core::RepositoryRef repo;
    core::PackageKey package;
    std::optional<github::RepositoryFacts> stored;  // fresh shared facts; nullopt: read them
    std::vector<std::string> files;                 // the package's manifest paths, in order
    bool urgent = false;
    std::chrono::steady_clock::time_point queued;
    std::function<void(StageResult)> done;
  };
  void Enqueue(BatchRequest request);
  void BatchLoop();
  void SendBatch(std::vector<BatchRequest> batch);
  void Answer(BatchRequest& request, const github::RepositoryFacts& shared,
              const std::vector<github::BatchFile>& files, const std::vector<std::string>& entry_files);

  github::GitHubClient& client_;
  store::Store& store_;
  RepositorySharing sharing_;
  const core::Clock& clock_;
  std::string owner_;  // this handler's name in repository_reads: host, pid and a random part
  std::mutex flights_mu_;
  // Repository key (with "#urgent" for the flights of work a user waits for) -> waiting packages.
  std::map<std::string, std::vector<SharedDone>> flights_;

  std::mutex batch_mu_;
  std::condition_variable batch_cv_;
  std::deque<BatchRequest> pending_;
  std::multiset<std::string> reading_;  // repositories whose facts batches in flight are reading
  int batch_limit_ = 0;                 // repositories per query now (halved after a 502/504)
  bool stopping_ = false;
  std::thread batcher_;
};

// The model's inputs from a package's stored facts (registry and, if read, repository).
core::Result<scoring::Inputs> ScoringInputs(const core::PackageKey& key,
                                            const std::vector<store::Fact>& facts);

// The report of a package from its stored facts (as read by the caller) and the advisories
// in force that name it; no upstream is asked.
core::Result<scoring::Report> ScorePackage(store::Store& store, const core::PackageKey& key,
                                           const std::vector<store::Fact>& facts,
                                           const scoring::ModelOptions& options, core::Millis now);

struct RescoreCounts {
  std::int64_t scored = 0, changed = 0, skipped = 0;
};
// Re-scores every complete package with the current model and stores the reports that
// changed (each change reaches the change log). Safe beside a running service (writes are
// conditional on the generation).
core::Result<RescoreCounts> RescoreAll(store::Store& store, const scoring::ModelOptions& options,
                                       const core::Clock& clock);
// The same for the given packages (those not complete are left alone): after an advisory
// import, only the packages whose advisories changed.
core::Result<RescoreCounts> RescorePackages(store::Store& store, const std::vector<core::PackageKey>& keys,
                                            const scoring::ModelOptions& options, const core::Clock& clock);

class ScoringStageHandler final : public StageHandler {
 public:
  // `options` (and the popular lists it points to) must outlive the handler.
  ScoringStageHandler(store::Store& store, const core::Clock& clock, const scoring::ModelOptions& options)
      : store_(store), clock_(clock), options_(options) {}
  void Handle(const WorkItem& item, std::function<void(StageResult)> done) override;

 private:
  store::Store& store_;
  const core::Clock& clock_;
  const scoring::ModelOptions& options_;
};

}  // namespace pkgtrust::pipeline
