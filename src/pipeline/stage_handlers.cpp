#include "pkgtrust/pipeline/stage_handlers.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <random>

#include "pkgtrust/github/graphql_batch.hpp"
#include "pkgtrust/github/manifest.hpp"

namespace pkgtrust::pipeline {

using core::PackageState;

void RegistryStageHandler::Handle(const WorkItem& item, std::function<void(StageResult)> done) {
  client_.Fetch(
      item.key,
      [done = std::move(done)](registry::RegistryResult result) {
        if (!result.ok()) {
          // An answer over the size limit will not shrink on retry; everything else may pass.
          if (result.status().code() == core::StatusCode::kResourceExhausted)
            return done(StageResult::Fail(result.status().message()));
          return done(StageResult::Retry(result.status().message()));
        }
        if (!result->has_value()) return done(StageResult::Advance(PackageState::kNotFound));
        const registry::PackageFacts& facts = **result;
        PackageState next = facts.repository && facts.repository->IsGitHub()
                                ? PackageState::kPendingRepository
                                : PackageState::kPendingScore;
        done(StageResult::Advance(next, {{store::kRegistryFact, facts.ToJson()}}));
      },
      item.priority == core::Priority::kPriority);
}

RepositoryStageHandler::RepositoryStageHandler(github::GitHubClient& client, store::Store& store,
                                               RepositorySharing sharing, const core::Clock& clock)
    : client_(client), store_(store), sharing_(sharing), clock_(clock), batch_limit_(sharing.graphql_batch) {
  char host[256] = {};
  if (gethostname(host, sizeof host - 1) != 0) host[0] = '\0';
  owner_ = fmt::format("{}:{}:{:016x}", host, getpid(),
                       std::random_device{}() * 0x9E3779B97F4A7C15ULL ^ std::random_device{}());
  if (client_.HasToken() && sharing_.graphql_batch > 0) batcher_ = std::thread([this] { BatchLoop(); });
}

RepositoryStageHandler::~RepositoryStageHandler() { StopBatching(); }

void RepositoryStageHandler::StopBatching() {
  {
    std::lock_guard lock(batch_mu_);
    stopping_ = true;
    // Not answered: the stage has stopped; their messages come back from the queue.
    pending_.clear();
  }
  batch_cv_.notify_all();
  if (batcher_.joinable()) batcher_.join();
}

std::string RepositoryStageHandler::RepositoryKey(const core::RepositoryRef& repo) {
  std::string key = fmt::format("{}/{}/{}", repo.host, repo.owner, repo.name);
  std::transform(key.begin(), key.end(), key.begin(), [](unsigned char c) { return std::tolower(c); });
  return key;
}

std::vector<std::chrono::milliseconds> RepositoryStageHandler::ClaimReads(
    const std::vector<std::string>& keys) {
  std::vector<std::chrono::milliseconds> held(keys.size(), std::chrono::milliseconds(0));
  if (keys.empty()) return held;
  core::Millis now = clock_.NowMillis();
  auto claimed = store_.ClaimRepositoryReadsSync(
      keys, owner_, now + std::chrono::milliseconds(kRepositoryReadClaim).count(), now);
  if (!claimed.ok()) return held;
  for (std::size_t i = 0; i < keys.size(); ++i)
    if ((*claimed)[i] != 0)
      held[i] = std::chrono::milliseconds(std::max<core::Millis>(1, (*claimed)[i] - now));
  return held;
}

void RepositoryStageHandler::EndReads(std::vector<std::string> keys) {
  // Not ended, a claim lapses at its `until`.
  if (!keys.empty()) (void)store_.EndRepositoryReadsSync(std::move(keys), owner_);
}

StageResult RepositoryStageHandler::WaitForOtherProcess(std::chrono::milliseconds held) {
  // Back soon: the other process stores the facts in about a second; a process that died
  // while reading is waited for until its claim lapses.
  return StageResult::Postpone(
      "another process is reading the repository; its facts will be used",
      std::clamp<std::chrono::milliseconds>(held, std::chrono::seconds(1), std::chrono::seconds(10)));
}

StageResult RepositoryStageHandler::Failed(const core::Status& status) const {
  if (status.code() == core::StatusCode::kResourceExhausted) {
    core::Millis until = client_.RateLimitedUntil();
    auto wait = std::chrono::milliseconds(std::max<core::Millis>(1000, until - clock_.NowMillis()));
    return StageResult::Postpone(status.message(), wait);
  }
  return StageResult::Retry(status.message());
}

void RepositoryStageHandler::Handle(const WorkItem& item, std::function<void(StageResult)> done) {
  auto facts = store_.GetFacts(item.key);
  if (!facts.ok()) return done(StageResult::Retry(facts.status().message()));
  std::optional<registry::PackageFacts> package;
  std::optional<github::RepositoryFacts> previous;
  for (const store::Fact& fact : *facts) {
    if (fact.kind == store::kRegistryFact) {
      if (auto parsed = registry::PackageFacts::FromJson(fact.json); parsed.ok())
        package = std::move(parsed).value();
    } else if (fact.kind == store::kRepositoryFact) {
      if (auto parsed = github::RepositoryFacts::FromJson(fact.json); parsed.ok())
        previous = std::move(parsed).value();
    }
  }
  if (!package || !package->repository || !package->repository->IsGitHub())
    return done(StageResult::Advance(PackageState::kPendingScore));  // nothing to read on GitHub
  core::RepositoryRef repo = *package->repository;
  std::string key = RepositoryKey(repo);
  auto stored_row = store_.GetRepository(key);
  if (!stored_row.ok()) return done(StageResult::Retry(stored_row.status().message()));
  std::optional<github::RepositoryFacts> stored;
  if (*stored_row)
    if (auto parsed = github::RepositoryFacts::FromJson((*stored_row)->facts_json); parsed.ok())
      stored = std::move(parsed).value();
  bool fresh = stored && sharing_.repository_ttl.count() > 0 &&
               clock_.NowMillis() - (*stored_row)->read_at < sharing_.repository_ttl.count();
  bool urgent = item.priority == core::Priority::kPriority;
  if (batcher_.joinable()) {
    BatchRequest request{key,
                         repo,
                         item.key,
                         std::nullopt,
                         github::ManifestPaths(item.key, repo.subdirectory),
                         urgent,
                         std::chrono::steady_clock::now(),
                         std::move(done)};
    if (fresh) request.stored = std::move(stored);
    return Enqueue(std::move(request));
  }
  bool claimed = false;
  if (!fresh && !urgent) {
    // The first package of this process to need the repository claims its read; while
    // another process holds it, the package comes back when that read should be stored.
    bool joining;
    {
      std::lock_guard lock(flights_mu_);
      joining = flights_.contains(key);
    }
    if (!joining) {
      if (std::chrono::milliseconds held = ClaimReads({key})[0]; held.count() > 0)
        return done(WaitForOtherProcess(held));
      claimed = true;
    }
  }
  // The shared facts answer for the repository as the package names it (its subdirectory
  // decides where its manifest is looked for).
  auto use = [this, item, previous, repo, done = std::move(done)](github::GitHubResult shared) mutable {
    if (!shared.ok()) return done(Failed(shared.status()));
    shared->requested = repo;
    Finish(item, *shared, previous, std::move(done));
  };
  if (fresh) return use(std::move(*stored));
  ReadShared(key, repo, std::move(stored), urgent, claimed, std::move(use));
}

// --- GraphQL batches ----------------------------------------------------------------

void RepositoryStageHandler::Enqueue(BatchRequest request) {
  {
    std::lock_guard lock(batch_mu_);
    pending_.push_back(std::move(request));
  }
  batch_cv_.notify_all();
}

void RepositoryStageHandler::BatchLoop() {
  std::unique_lock lock(batch_mu_);
  while (!stopping_) {
    // What may go now: a regular request that needs a repository's facts waits while
    // another batch is reading that repository (it then takes the facts that batch
    // stored); work a user waits for goes regardless.
    auto ready = [this](const BatchRequest& r) { return r.stored || r.urgent || !reading_.contains(r.key); };
    const auto limit = static_cast<std::size_t>(batch_limit_);
    std::set<std::string> repositories;
    bool urgent = false;
    auto oldest = std::chrono::steady_clock::time_point::max();
    for (const BatchRequest& r : pending_)
      if (ready(r)) {
        repositories.insert(r.key);
        urgent |= r.urgent;
        oldest = std::min(oldest, r.queued);
      }
    if (repositories.empty()) {
      batch_cv_.wait(lock);
      continue;
    }
    bool full = repositories.size() >= limit;
    if (!urgent && !full && std::chrono::steady_clock::now() < oldest + sharing_.batch_wait) {
      batch_cv_.wait_until(lock, oldest + sharing_.batch_wait);
      continue;
    }
    // Up to `limit` repositories, those a user waits for first, with every ready request
    // for each.
    std::vector<std::string> chosen;
    for (int pass = 0; pass < 2; ++pass)
      for (const BatchRequest& r : pending_)
        if (ready(r) && (pass == 1 || r.urgent) && chosen.size() < limit &&
            std::find(chosen.begin(), chosen.end(), r.key) == chosen.end())
          chosen.push_back(r.key);
    std::vector<BatchRequest> batch;
    for (auto it = pending_.begin(); it != pending_.end();) {
      if (ready(*it) && std::find(chosen.begin(), chosen.end(), it->key) != chosen.end()) {
        batch.push_back(std::move(*it));
        it = pending_.erase(it);
      } else {
        ++it;
      }
    }
    // Marked after the choice (every ready request for a chosen repository goes in this
    // batch), once per repository whose facts it reads.
    std::set<std::string> reads;
    for (const BatchRequest& r : batch)
      if (!r.stored) reads.insert(r.key);
    reading_.insert(reads.begin(), reads.end());
    lock.unlock();
    SendBatch(std::move(batch));
    lock.lock();
  }
}

void RepositoryStageHandler::SendBatch(std::vector<BatchRequest> batch) {
  // Across processes: the reads of a batch of regular work are claimed; a request whose
  // repository another process is reading comes back when that read should be stored. A
  // batch with work a user waits for claims nothing (a store write is not worth its wait).
  bool carries_urgent =
      std::any_of(batch.begin(), batch.end(), [](const BatchRequest& r) { return r.urgent; });
  std::set<std::string> needs_read;
  for (const BatchRequest& r : batch)
    if (!r.stored && !carries_urgent) needs_read.insert(r.key);
  std::vector<std::string> claim(needs_read.begin(), needs_read.end());
  std::vector<std::chrono::milliseconds> held = ClaimReads(claim);
  std::map<std::string, std::chrono::milliseconds> refused;
  std::vector<std::string> claimed;
  for (std::size_t i = 0; i < claim.size(); ++i) {
    if (held[i].count() > 0)
      refused.emplace(claim[i], held[i]);
    else
      claimed.push_back(claim[i]);
  }
  if (!refused.empty()) {
    std::vector<BatchRequest> kept;
    for (BatchRequest& r : batch) {
      auto it = refused.find(r.key);
      if (it == refused.end() || r.stored)
        kept.push_back(std::move(r));
      else
        r.done(WaitForOtherProcess(it->second));
    }
    batch = std::move(kept);
    {
      std::lock_guard lock(batch_mu_);
      for (const auto& [key, _] : refused)
        if (auto it = reading_.find(key); it != reading_.end()) reading_.erase(it);
    }
    batch_cv_.notify_all();
    if (batch.empty()) return;
  }
  // One entry per repository: its facts when a request needs them, every request's files.
  std::vector<github::BatchEntry> entries;
  std::vector<std::string> keys;
  bool urgent = false;
  for (const BatchRequest& r : batch) {
    urgent |= r.urgent;
    auto at = std::find(keys.begin(), keys.end(), r.key);
    if (at == keys.end()) {
      keys.push_back(r.key);
      core::RepositoryRef repo = r.repo;
      repo.subdirectory.clear();
      entries.push_back({repo, false, {}});
      at = keys.end() - 1;
    }
    github::BatchEntry& entry = entries[static_cast<std::size_t>(at - keys.begin())];
    entry.facts |= !r.stored;
    for (const std::string& file : r.files)
      if (std::find(entry.files.begin(), entry.files.end(), file) == entry.files.end())
        entry.files.push_back(file);
  }
  auto shared_batch = std::make_shared<std::vector<BatchRequest>>(std::move(batch));
  auto shared_entries = std::make_shared<std::vector<github::BatchEntry>>(entries);
  client_.FetchBatch(
      std::move(entries),
      [this, shared_batch, shared_entries, keys, claimed](core::Result<github::BatchAnswer> answer) {
        // The facts this batch read are stored first, and the stage's own state settled,
        // before any package is answered (an answer may be the last thing the stage waits for).
        std::map<std::string, github::RepositoryFacts> read;  // facts this batch read, by key
        std::vector<core::Status> failures(keys.size(), answer.ok() ? core::Status::Ok() : answer.status());
        for (std::size_t i = 0; i < keys.size() && answer.ok(); ++i) {
          if (!(*shared_entries)[i].facts) continue;
          if (answer->repositories[i].ok()) {
            github::RepositoryFacts facts = *answer->repositories[i];
            StoreShared(keys[i], facts);
            read.emplace(keys[i], std::move(facts));
          } else {
            failures[i] = answer->repositories[i].status();
          }
        }
        EndReads(claimed);
        {
          // Requests that waited for these repositories take the facts just read.
          std::lock_guard lock(batch_mu_);
          for (std::size_t i = 0; i < keys.size(); ++i)
            if ((*shared_entries)[i].facts)
              if (auto it = reading_.find(keys[i]); it != reading_.end()) reading_.erase(it);
          // A query GitHub gave up on is split in two next time; an answered one grows back.
          if (!answer.ok() && answer.status().code() == core::StatusCode::kDeadlineExceeded)
            batch_limit_ = std::max(1, batch_limit_ / 2);
          else if (answer.ok())
            batch_limit_ = std::min(sharing_.graphql_batch, batch_limit_ * 2);
          for (BatchRequest& r : pending_)
            if (!r.stored)
              if (auto it = read.find(r.key); it != read.end()) r.stored = it->second;
        }
        batch_cv_.notify_all();
        for (BatchRequest& r : *shared_batch) {
          auto i = static_cast<std::size_t>(std::find(keys.begin(), keys.end(), r.key) - keys.begin());
          if (!failures[i].ok()) {
            r.done(Failed(failures[i]));
            continue;
          }
          Answer(r, r.stored ? *r.stored : read.at(r.key), answer->files[i], (*shared_entries)[i].files);
        }
      },
      urgent);
}

void RepositoryStageHandler::Answer(BatchRequest& request, const github::RepositoryFacts& shared,
                                    const std::vector<github::BatchFile>& files,
                                    const std::vector<std::string>& entry_files) {
  github::RepositoryFacts facts = shared;
  facts.requested = request.repo;
  if (facts.status != github::RepositoryStatus::kFound)
    return request.done(
        StageResult::Advance(PackageState::kPendingScore, {{store::kRepositoryFact, facts.ToJson()}}));
  // As the REST search decides: the first path whose manifest declares the package, else
  // the first manifest found; a file that cannot be read as text ends the search.
  github::Manifest first;
  facts.manifest = {};
  facts.manifest.status = github::ManifestStatus::kMissing;
  for (const std::string& path : request.files) {
    auto at = std::find(entry_files.begin(), entry_files.end(), path);
    if (at == entry_files.end()) continue;
    const github::BatchFile& file = files[static_cast<std::size_t>(at - entry_files.begin())];
    if (!file.exists) continue;
    github::Manifest manifest;
    manifest.path = path;
    if (!file.text) {
      manifest.status = github::ManifestStatus::kUnreadable;
      manifest.error = "binary, or larger than GitHub sends as text";
      facts.manifest = std::move(manifest);
      break;
    }
    manifest.status = github::ManifestStatus::kFound;
    manifest.declared_name = github::DeclaredPackageName(path, *file.text);
    if (github::DeclaresPackage(request.package, manifest.declared_name)) {
      facts.manifest = std::move(manifest);
      break;
    }
    if (first.status != github::ManifestStatus::kFound) first = manifest;
    if (first.status == github::ManifestStatus::kFound) facts.manifest = first;
  }
  facts.etags.erase("manifest");
  request.done(StageResult::Advance(PackageState::kPendingScore, {{store::kRepositoryFact, facts.ToJson()}}));
}

void RepositoryStageHandler::StoreShared(const std::string& key, github::RepositoryFacts& facts) {
  facts.read_at = clock_.NowMillis();
  facts.manifest = {};  // the repository's, not any one package's
  facts.etags.erase("manifest");
  facts.requested.subdirectory.clear();
  const char* outcome = facts.status == github::RepositoryStatus::kFound      ? "found"
                        : facts.status == github::RepositoryStatus::kNotFound ? "not_found"
                                                                              : "unavailable";
  // Not stored, the facts still serve the packages waiting now; the next read retries.
  (void)store_.PutRepositorySync({key, facts.ToJson(), outcome, facts.read_at});
}

void RepositoryStageHandler::ReadShared(const std::string& key, const core::RepositoryRef& repo,
                                        std::optional<github::RepositoryFacts> stored, bool urgent,
                                        bool claimed, SharedDone done) {
  // Work a user waits for has flights of its own: it never waits on a regular read that
  // may be stalled behind the rate limit.
  std::string flight = urgent ? key + "#urgent" : key;
  bool first;
  {
    std::lock_guard lock(flights_mu_);
    auto it = flights_.try_emplace(flight).first;
    first = it->second.empty();
    it->second.push_back(std::move(done));
  }
  if (!first) {
    // A read of this repository is under way: wait for it. A claim taken while it started
    // is let go (its own may already have been).
    if (claimed) EndReads({key});
    return;
  }
  // Stored ETags make an unchanged repository cost no quota.
  auto previous = stored ? std::make_shared<github::RepositoryFacts>(std::move(*stored)) : nullptr;
  client_.Fetch(
      repo, previous.get(),
      [this, key, flight, urgent, previous](github::GitHubResult result) {
        if (result.ok()) StoreShared(key, *result);
        if (!urgent) EndReads({key});
        std::vector<SharedDone> waiting;
        {
          std::lock_guard lock(flights_mu_);
          waiting = std::move(flights_[flight]);
          flights_.erase(flight);
        }
        for (SharedDone& waiter : waiting) waiter(result);
      },
      urgent);
}

void RepositoryStageHandler::Finish(const WorkItem& item, const github::RepositoryFacts& shared,
                                    const std::optional<github::RepositoryFacts>& previous,
                                    std::function<void(StageResult)> done) {
  if (shared.status != github::RepositoryStatus::kFound)
    return done(
        StageResult::Advance(PackageState::kPendingScore, {{store::kRepositoryFact, shared.ToJson()}}));
  client_.ReadManifest(
      shared, item.key, previous ? &*previous : nullptr,
      [this, done = std::move(done)](github::GitHubResult facts) {
        if (!facts.ok()) return done(Failed(facts.status()));
        done(StageResult::Advance(PackageState::kPendingScore, {{store::kRepositoryFact, facts->ToJson()}}));
      },
      item.priority == core::Priority::kPriority);
}

core::Result<scoring::Inputs> ScoringInputs(const core::PackageKey& key,
                                            const std::vector<store::Fact>& facts) {
  scoring::Inputs in;
  in.key = key;
  bool have_registry = false;
  for (const store::Fact& fact : facts) {
    if (fact.kind == store::kRegistryFact) {
      auto p = registry::PackageFacts::FromJson(fact.json);
      if (!p.ok()) return p.status();
      have_registry = true;
      in.latest_version = p->latest_version;
      for (const auto& v : p->versions)
        in.versions.push_back(
            {v.version, v.published, v.yanked, v.has_attestation, v.install_scripts, v.publisher});
      in.created = p->created;
      in.deprecated = p->deprecated;
      in.security_holder = p->security_holder;
      in.downloads_last_month = p->downloads_last_month;
      in.downloads_last_90_days = p->downloads_last_90_days;
      in.downloads_total = p->downloads_total;
      if (p->repository) {
        in.has_repository = true;
        in.repository_host = p->repository->host;
        in.repository_owner = p->repository->owner;
        in.repository_name = p->repository->name;
        in.repository_subdirectory = p->repository->subdirectory;
      }
    } else if (fact.kind == store::kRepositoryFact) {
      auto r = github::RepositoryFacts::FromJson(fact.json);
      if (!r.ok()) return r.status();
      scoring::Inputs::GitHub gh;
      gh.found = r->status == github::RepositoryStatus::kFound;
      gh.moved = r->moved;
      gh.archived = r->archived;
      gh.disabled = r->disabled;
      gh.fork = r->is_fork;
      gh.stars = r->stars;
      gh.forks = r->forks;
      gh.contributors = r->contributors;
      gh.commits_last_year = r->commits_last_year;
      gh.pushed = r->pushed;
      for (const auto& t : r->tags) gh.tags.push_back({t.name, t.date});
      using Manifest = scoring::Inputs::GitHub::Manifest;
      gh.manifest_path = r->manifest.path;
      gh.manifest_name = r->manifest.declared_name;
      switch (r->manifest.status) {
        case github::ManifestStatus::kNotRead:
          gh.manifest = Manifest::kNotRead;
          break;
        case github::ManifestStatus::kFound:
          gh.manifest = github::DeclaresPackage(key, r->manifest.declared_name) ? Manifest::kDeclaresPackage
                                                                                : Manifest::kDeclaresOther;
          break;
        case github::ManifestStatus::kMissing:
          gh.manifest = Manifest::kMissing;
          break;
        case github::ManifestStatus::kUnreadable:
          gh.manifest = Manifest::kUnreadable;
          break;
      }
      in.github = std::move(gh);
    }
  }
  if (!have_registry)
    return core::Status::FailedPrecondition(key.ToString() + " has no registry facts to score");
  return in;
}

core::Result<scoring::Report> ScorePackage(store::Store& store, const core::PackageKey& key,
                                           const std::vector<store::Fact>& facts,
                                           const scoring::ModelOptions& options, core::Millis now) {
  auto inputs = ScoringInputs(key, facts);
  if (!inputs.ok()) return inputs.status();
  auto advisories = store.FindAdvisories(key);
  if (!advisories.ok()) return advisories.status();
  for (const store::Advisory& a : *advisories) {
    if (!a.withdrawn.empty()) continue;  // retracted by its publisher: never flags
    auto affected = scoring::OsvAffected::FromColumns(a.versions, a.ranges);
    if (!affected.ok()) return affected.status();
    inputs->advisories.push_back({a.id, a.summary, std::move(affected).value()});
  }
  return scoring::Score(*inputs, now, options);
}

void ScoringStageHandler::Handle(const WorkItem& item, std::function<void(StageResult)> done) {
  auto facts = store_.GetFacts(item.key);
  if (!facts.ok()) return done(StageResult::Retry(facts.status().message()));
  auto report = ScorePackage(store_, item.key, *facts, options_, clock_.NowMillis());
  if (!report.ok()) {
    // Missing or unreadable facts will not appear by waiting; a busy database may.
    if (report.status().code() == core::StatusCode::kUnavailable)
      return done(StageResult::Retry(report.status().message()));
    return done(StageResult::Fail(report.status().message()));
  }
  done(StageResult::Advance(PackageState::kComplete, {{store::kScoreFact, report->ToJson()}}));
}

namespace {

// Re-scores one complete package; counts what happened.
void Rescore(store::Store& store, const store::PackageRecord& record, const scoring::ModelOptions& options,
             const core::Clock& clock, RescoreCounts& counts) {
  auto facts = store.GetFacts(record.key);
  if (!facts.ok()) {
    counts.skipped++;
    return;
  }
  auto report = ScorePackage(store, record.key, *facts, options, clock.NowMillis());
  if (!report.ok()) {
    counts.skipped++;
    return;
  }
  counts.scored++;
  std::string json = report->ToJson();
  bool same = std::any_of(facts->begin(), facts->end(), [&](const store::Fact& f) {
    return f.kind == store::kScoreFact && f.json == json;
  });
  if (same) return;
  auto written = store.PutCompleteFactSync(record.key, record.generation, {store::kScoreFact, json});
  if (written.ok() && *written) counts.changed++;
}

}  // namespace

core::Result<RescoreCounts> RescorePackages(store::Store& store, const std::vector<core::PackageKey>& keys,
                                            const scoring::ModelOptions& options, const core::Clock& clock) {
  RescoreCounts counts;
  for (const core::PackageKey& key : keys) {
    auto record = store.Get(key);
    if (!record.ok()) return record.status();
    if (*record && (*record)->state == PackageState::kComplete)
      Rescore(store, **record, options, clock, counts);
  }
  return counts;
}

core::Result<RescoreCounts> RescoreAll(store::Store& store, const scoring::ModelOptions& options,
                                       const core::Clock& clock) {
  RescoreCounts counts;
  std::int64_t after = 0;
  while (true) {
    auto page = store.ListByState(PackageState::kComplete, after, 1000);
    if (!page.ok()) return page.status();
    if (page->empty()) return counts;
    for (const store::PackageRecord& record : *page) {
      after = record.id;
      Rescore(store, record, options, clock, counts);
    }
  }
}

}  // namespace pkgtrust::pipeline
