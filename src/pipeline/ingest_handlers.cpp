#include "pkgtrust/pipeline/ingest_handlers.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <nlohmann/json.hpp>

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
        done(StageResult::Advance(next, {{kRegistryFact, facts.ToJson()}}));
      },
      item.priority == core::Priority::kPriority);
}

std::string RepositoryStageHandler::RepositoryKey(const core::RepositoryRef& repo) {
  std::string key = fmt::format("{}/{}/{}", repo.host, repo.owner, repo.name);
  std::transform(key.begin(), key.end(), key.begin(), [](unsigned char c) { return std::tolower(c); });
  return key;
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
    if (fact.kind == kRegistryFact) {
      if (auto parsed = registry::PackageFacts::FromJson(fact.json); parsed.ok())
        package = std::move(parsed).value();
    } else if (fact.kind == kRepositoryFact) {
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
  // The shared facts answer for the repository as the package names it (its subdirectory
  // decides where its manifest is looked for).
  auto use = [this, item, previous, repo, done = std::move(done)](github::GitHubResult shared) mutable {
    if (!shared.ok()) return done(Failed(shared.status()));
    shared->requested = repo;
    Finish(item, *shared, previous, std::move(done));
  };
  if (fresh) return use(std::move(*stored));
  ReadShared(key, repo, std::move(stored), item.priority == core::Priority::kPriority, std::move(use));
}

void RepositoryStageHandler::ReadShared(const std::string& key, const core::RepositoryRef& repo,
                                        std::optional<github::RepositoryFacts> stored, bool urgent,
                                        SharedDone done) {
  {
    std::lock_guard lock(flights_mu_);
    auto [it, first] = flights_.try_emplace(key);
    it->second.push_back(std::move(done));
    if (!first) return;  // a read of this repository is under way: wait for it
  }
  // Stored ETags make an unchanged repository cost no quota.
  auto previous = stored ? std::make_shared<github::RepositoryFacts>(std::move(*stored)) : nullptr;
  client_.Fetch(
      repo, previous.get(),
      [this, key, previous](github::GitHubResult result) {
        if (result.ok()) {
          result->read_at = clock_.NowMillis();
          result->manifest = {};  // the repository's, not any one package's
          result->etags.erase("manifest");
          result->requested.subdirectory.clear();
          const char* outcome = result->status == github::RepositoryStatus::kFound      ? "found"
                                : result->status == github::RepositoryStatus::kNotFound ? "not_found"
                                                                                        : "unavailable";
          // Not stored, the facts still serve the packages waiting now; the next read retries.
          (void)store_.PutRepositorySync({key, result->ToJson(), outcome, result->read_at});
        }
        std::vector<SharedDone> waiting;
        {
          std::lock_guard lock(flights_mu_);
          waiting = std::move(flights_[key]);
          flights_.erase(key);
        }
        for (SharedDone& waiter : waiting) waiter(result);
      },
      urgent);
}

void RepositoryStageHandler::Finish(const WorkItem& item, const github::RepositoryFacts& shared,
                                    const std::optional<github::RepositoryFacts>& previous,
                                    std::function<void(StageResult)> done) {
  if (shared.status != github::RepositoryStatus::kFound)
    return done(StageResult::Advance(PackageState::kPendingScore, {{kRepositoryFact, shared.ToJson()}}));
  client_.ReadManifest(
      shared, item.key, previous ? &*previous : nullptr,
      [this, done = std::move(done)](github::GitHubResult facts) {
        if (!facts.ok()) return done(Failed(facts.status()));
        done(StageResult::Advance(PackageState::kPendingScore, {{kRepositoryFact, facts->ToJson()}}));
      },
      item.priority == core::Priority::kPriority);
}

core::Result<scoring::Inputs> ScoringInputs(const core::PackageKey& key,
                                            const std::vector<store::Fact>& facts) {
  scoring::Inputs in;
  in.key = key;
  bool have_registry = false;
  for (const store::Fact& fact : facts) {
    if (fact.kind == kRegistryFact) {
      auto p = registry::PackageFacts::FromJson(fact.json);
      if (!p.ok()) return p.status();
      have_registry = true;
      in.latest_version = p->latest_version;
      for (const auto& v : p->versions)
        in.versions.push_back({v.version, v.published, v.yanked, v.has_attestation, v.install_scripts, v.publisher});
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
    } else if (fact.kind == kRepositoryFact) {
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

core::Result<scoring::Report> ScorePackage(store::PackageStore& store, const core::PackageKey& key,
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
  done(StageResult::Advance(PackageState::kComplete, {{kScoreFact, report->ToJson()}}));
}

namespace {

// Re-scores one complete package; counts what happened.
void Rescore(store::PackageStore& store, const store::PackageRecord& record, const scoring::ModelOptions& options,
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
  bool same = std::any_of(facts->begin(), facts->end(),
                          [&](const store::Fact& f) { return f.kind == kScoreFact && f.json == json; });
  if (same) return;
  auto written = store.PutCompleteFactSync(record.key, record.generation, {kScoreFact, json});
  if (written.ok() && *written) counts.changed++;
}

}  // namespace

core::Result<RescoreCounts> RescorePackages(store::PackageStore& store, const std::vector<core::PackageKey>& keys,
                                            const scoring::ModelOptions& options, const core::Clock& clock) {
  RescoreCounts counts;
  for (const core::PackageKey& key : keys) {
    auto record = store.Get(key);
    if (!record.ok()) return record.status();
    if (*record && (*record)->state == PackageState::kComplete) Rescore(store, **record, options, clock, counts);
  }
  return counts;
}

std::vector<std::string> AdvisoriesNamingVersion(std::string_view score_json, core::Ecosystem ecosystem,
                                                 std::string_view version) {
  std::vector<std::string> ids;
  nlohmann::json score = nlohmann::json::parse(score_json, nullptr, false);
  if (!score.is_object() || !score.contains("advisories") || !score["advisories"].is_array()) return ids;
  for (const nlohmann::json& advisory : score["advisories"]) {
    if (!advisory.is_object() || !advisory.contains("affected")) continue;
    auto affected = scoring::OsvAffected::FromJson(advisory["affected"].dump());
    if (affected.ok() && affected->Affects(ecosystem, version)) ids.push_back(advisory.value("id", ""));
  }
  return ids;
}

core::Result<RescoreCounts> RescoreAll(store::PackageStore& store, const scoring::ModelOptions& options,
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
