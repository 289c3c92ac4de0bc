#include "pkgtrust/pipeline/ingest_handlers.hpp"

#include <fmt/format.h>

namespace pkgtrust::pipeline {

using core::PackageState;

void RegistryStageHandler::Handle(const WorkItem& item, std::function<void(StageResult)> done) {
  client_.Fetch(item.key, [done = std::move(done)](registry::RegistryResult result) {
    if (!result.ok()) {
      // An answer over the size limit will not shrink on retry; everything else may pass.
      if (result.status().code() == core::StatusCode::kResourceExhausted)
        return done(StageResult::Fail(result.status().message()));
      return done(StageResult::Retry(result.status().message()));
    }
    if (!result->has_value()) return done(StageResult::Advance(PackageState::kNotFound));
    const registry::PackageFacts& facts = **result;
    PackageState next = facts.repository && facts.repository->IsGitHub() ? PackageState::kPendingRepository
                                                                         : PackageState::kPendingScore;
    done(StageResult::Advance(next, {{kRegistryFact, facts.ToJson()}}));
  });
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
  // Stored ETags only apply to the same repository.
  const github::RepositoryFacts* prior =
      previous && previous->requested.owner == repo.owner && previous->requested.name == repo.name
          ? &*previous
          : nullptr;
  client_.Fetch(repo, prior, [this, done = std::move(done)](github::GitHubResult result) {
    if (!result.ok()) {
      if (result.status().code() == core::StatusCode::kResourceExhausted) {
        core::Millis until = client_.RateLimitedUntil();
        auto wait = std::chrono::milliseconds(
            std::max<core::Millis>(1000, until - core::SystemClock::Instance().NowMillis()));
        return done(StageResult::Postpone(result.status().message(), wait));
      }
      return done(StageResult::Retry(result.status().message()));
    }
    done(StageResult::Advance(PackageState::kPendingScore, {{kRepositoryFact, result->ToJson()}}));
  });
}

}  // namespace pkgtrust::pipeline
