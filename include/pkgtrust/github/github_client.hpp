// The repository stage's upstream side for engine "github": GET /repos/{o}/{r}, its
// contributors (count), tags, releases and stats/commit_activity, the package's manifest
// (contents API; see manifest.hpp for the paths tried), with the token from the
// environment, conditional requests with stored ETags (a 304 costs no quota), and the
// rate-limit budget read from X-RateLimit-Remaining/Reset: when it is spent, no request
// is sent until the reset (the stage holds its work meanwhile). With a token, tags and
// their dates come from one GraphQL query; without one, the REST list (names only).
#pragma once

#include <atomic>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "pkgtrust/core/clock.hpp"
#include "pkgtrust/core/cpu_work.hpp"
#include "pkgtrust/core/ecosystem.hpp"
#include "pkgtrust/github/graphql_batch.hpp"
#include "pkgtrust/github/repository_facts.hpp"
#include "pkgtrust/net/http_client.hpp"

namespace pkgtrust::github {

struct GitHubOptions {
  std::string base_url = "https://api.github.com";
  std::string token;  // empty: unauthenticated (60 requests an hour)
  std::chrono::milliseconds timeout{15'000};
  int max_attempts = 3;
  core::RunCpuWork run_cpu_work;  // where answers are read; empty: on the HTTP thread
};

// Facts, or an error: ResourceExhausted while the rate limit is spent (see RateLimitedUntil).
using GitHubResult = core::Result<RepositoryFacts>;

// Safe for concurrent use; `done` runs where options.run_cpu_work puts it (else on an
// HTTP client thread).
class GitHubClient {
 public:
  GitHubClient(net::HttpClient& http, GitHubOptions options,
               const core::Clock& clock = core::SystemClock::Instance());

  // `previous`: the stored facts of the last fetch (for If-None-Match), or null.
  // `urgent`: a user is waiting; its requests go first where connections are scarce.
  // `package`: the package whose repository this is; its manifest is read when given.
  void Fetch(const core::RepositoryRef& repo, const RepositoryFacts* previous,
             std::function<void(GitHubResult)> done, bool urgent = false,
             std::optional<core::PackageKey> package = std::nullopt);
  // The package's manifest in a repository already read (`repository`: its shared facts,
  // for the current name; `previous`: the package's last stored facts, for the ETag).
  // `done` gets the facts of `repository` with the manifest (and its ETag) filled in, or
  // ResourceExhausted while the rate limit is spent.
  void ReadManifest(const RepositoryFacts& repository, const core::PackageKey& package,
                    const RepositoryFacts* previous, std::function<void(GitHubResult)> done,
                    bool urgent = false);
  // With a token: one POST /graphql reading `entries` (graphql_batch.hpp). The answer is
  // per repository; the whole call fails with ResourceExhausted while the budget is spent
  // (RATE_LIMITED in the answer, or a secondary limit: 403/429 with Retry-After; the stage
  // then holds its work as for REST), with DeadlineExceeded when GitHub gave up on the
  // query in its time limit (502, 504: not retried, the caller asks less) and with
  // Unavailable for other 5xx, timeouts and bodies that are not GraphQL answers.
  void FetchBatch(std::vector<BatchEntry> entries, std::function<void(core::Result<BatchAnswer>)> done,
                  bool urgent = false);
  bool HasToken() const { return !options_.token.empty(); }
  // When the spent budget resets (ms since the epoch); 0 while requests may be sent.
  core::Millis RateLimitedUntil() const;
  std::int64_t RemainingBudget() const { return remaining_.load(); }

 private:
  net::HttpRequest Get(const std::string& path, const RepositoryFacts* previous,
                       const std::string& endpoint) const;
  // POST /graphql for the first 100 tags with their dates (GraphQL needs a token).
  net::HttpRequest TagsQuery(const std::string& full_name) const;
  // Tries paths[index...] in turn until a manifest declares `package` (else keeps the
  // first one found). `done(manifest, etag, rate_limited)`.
  struct ManifestSearch;
  void FetchManifest(std::shared_ptr<ManifestSearch> search, std::size_t index);
  // Reads the budget headers; returns true when this answer says the budget is spent.
  bool NoteRateLimit(const net::HttpResponse& response);
  // Holds every request until `until` (ms since the epoch), unless a later hold is set.
  void HoldUntil(core::Millis until);

  net::HttpClient& http_;
  GitHubOptions options_;
  const core::Clock& clock_;
  std::atomic<std::int64_t> remaining_{-1};
  std::atomic<core::Millis> limited_until_{0};
};

}  // namespace pkgtrust::github
