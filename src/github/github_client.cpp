#include "pkgtrust/github/github_client.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <memory>
#include <nlohmann/json.hpp>

#include "core/json_document.hpp"
#include "pkgtrust/core/percent_encoding.hpp"
#include "pkgtrust/core/time.hpp"
#include "pkgtrust/github/manifest.hpp"

namespace pkgtrust::github {
namespace {

using json = nlohmann::json;
using Responses = std::vector<core::Result<net::HttpResponse>>;

using core::BoolAt;
using core::IntAt;
using core::JsonValue;
using core::StringAt;

// The page number of rel="last" in a Link header, or -1.
std::int64_t LastPage(const std::string& link) {
  auto rel = link.find("rel=\"last\"");
  if (rel == std::string::npos) return -1;
  auto open = link.rfind('<', rel);
  auto close = link.find('>', open);
  if (open == std::string::npos || close == std::string::npos) return -1;
  std::string url = link.substr(open + 1, close - open - 1);
  for (const char* key : {"?page=", "&page="}) {
    auto p = url.find(key);
    if (p != std::string::npos) {
      std::int64_t n = 0;
      for (std::size_t i = p + 6; i < url.size() && std::isdigit(static_cast<unsigned char>(url[i])); ++i)
        n = n * 10 + (url[i] - '0');
      return n;
    }
  }
  return -1;
}

void ApplyRepository(JsonValue j, RepositoryFacts& f) {
  f.full_name = StringAt(j, "full_name");
  f.stars = IntAt(j, "stargazers_count");
  f.forks = IntAt(j, "forks_count");
  f.open_issues = IntAt(j, "open_issues_count");
  f.watchers = IntAt(j, "subscribers_count");
  f.archived = BoolAt(j, "archived");
  f.disabled = BoolAt(j, "disabled");
  f.is_fork = BoolAt(j, "fork");
  f.fork_parent = StringAt(j["parent"], "full_name");
  f.created = core::ParseTimestamp(StringAt(j, "created_at")).value_or(0);
  f.pushed = core::ParseTimestamp(StringAt(j, "pushed_at")).value_or(0);
  f.updated = core::ParseTimestamp(StringAt(j, "updated_at")).value_or(0);
  f.default_branch = StringAt(j, "default_branch");
  f.license = StringAt(j["license"], "spdx_id");
  if (f.license == "NOASSERTION") f.license.clear();
}

// GraphQL answer of TagsQuery: data.repository.refs.nodes[] with the tag's or commit's date.
void ParseTagsQuery(JsonValue answer, RepositoryFacts& facts) {
  simdjson::dom::array nodes;
  if (!core::AsArray(answer["data"]["repository"]["refs"]["nodes"], nodes)) return;
  for (simdjson::dom::element node : nodes) {
    Tag tag{StringAt(node, "name"), 0};
    if (tag.name.empty()) continue;
    JsonValue target = node["target"];
    std::string when = StringAt(target, "committedDate");
    if (target["tagger"].is_object()) when = StringAt(target["tagger"], "date");
    if (when.empty()) when = StringAt(target["target"], "committedDate");
    tag.date = core::ParseTimestamp(when).value_or(0);
    facts.tags.push_back(std::move(tag));
  }
}

}  // namespace

GitHubClient::GitHubClient(net::HttpClient& http, GitHubOptions options, const core::Clock& clock)
    : http_(http), options_(std::move(options)), clock_(clock) {
  while (options_.base_url.ends_with('/')) options_.base_url.pop_back();
}

core::Millis GitHubClient::RateLimitedUntil() const {
  core::Millis until = limited_until_.load();
  return until > clock_.NowMillis() ? until : 0;
}

net::HttpRequest GitHubClient::Get(const std::string& path, const RepositoryFacts* previous,
                                   const std::string& endpoint) const {
  net::HttpRequest r;
  r.url = options_.base_url + path;
  r.timeout = options_.timeout;
  r.max_attempts = options_.max_attempts;
  r.retry_429 = false;  // a 429 means the budget is spent: wait for the reset, do not retry
  r.max_body_bytes = 16u << 20;
  r.headers = {{"Accept", "application/vnd.github+json"}, {"X-GitHub-Api-Version", "2022-11-28"}};
  if (!options_.token.empty()) r.headers.emplace_back("Authorization", "Bearer " + options_.token);
  if (previous) {
    auto it = previous->etags.find(endpoint);
    if (it != previous->etags.end() && !it->second.empty())
      r.headers.emplace_back("If-None-Match", it->second);
  }
  return r;
}

net::HttpRequest GitHubClient::TagsQuery(const std::string& full_name) const {
  static constexpr const char* kQuery =
      "query($owner:String!,$name:String!){repository(owner:$owner,name:$name){"
      "refs(refPrefix:\"refs/tags/\",first:100,orderBy:{field:TAG_COMMIT_DATE,direction:DESC}){nodes{name "
      "target{... on Commit{committedDate} ... on Tag{tagger{date} target{... on "
      "Commit{committedDate}}}}}}}}";
  auto slash = full_name.find('/');
  net::HttpRequest r = Get("/graphql", nullptr, "tags");
  r.method = "POST";
  r.headers.emplace_back("Content-Type", "application/json");
  r.body = json{{"query", kQuery},
                {"variables", {{"owner", full_name.substr(0, slash)}, {"name", full_name.substr(slash + 1)}}}}
               .dump();
  return r;
}

namespace {
constexpr core::Millis kMaxRateLimitHold = 3600'000;  // GitHub's rate-limit window
}  // namespace

bool GitHubClient::NoteRateLimit(const net::HttpResponse& response) {
  const std::string* remaining = response.Header("x-ratelimit-remaining");
  const std::string* reset = response.Header("x-ratelimit-reset");
  if (remaining) {
    std::int64_t value = 0;
    auto [end, ec] = std::from_chars(remaining->data(), remaining->data() + remaining->size(), value);
    if (ec == std::errc() && end == remaining->data() + remaining->size() && value >= 0) remaining_ = value;
  }
  bool spent = (response.status == 403 || response.status == 429) &&
               ((remaining && *remaining == "0") || response.Header("retry-after") != nullptr);
  if (!spent) return false;
  core::Millis until = clock_.NowMillis() + 60'000;  // when GitHub says nothing better
  if (const std::string* after = response.Header("retry-after")) {
    std::int64_t secs = net::ParseRetryAfterSeconds(*after, clock_.NowMillis() / 1000);
    if (secs >= 0) until = clock_.NowMillis() + secs * 1000;
  } else if (reset) {
    // Seconds since the epoch. Whatever the header says, the hold lasts at most GitHub's
    // one-hour window: a hostile or broken value (huge, negative, not a number) neither
    // overflows nor holds the stage for ever.
    std::int64_t secs = 0;
    auto [end, ec] = std::from_chars(reset->data(), reset->data() + reset->size(), secs);
    if (ec == std::errc() && end == reset->data() + reset->size() && secs > 0 &&
        secs < (std::int64_t{1} << 40))
      until =
          std::clamp<core::Millis>(secs * 1000, clock_.NowMillis(), clock_.NowMillis() + kMaxRateLimitHold);
  }
  HoldUntil(until);
  return true;
}

void GitHubClient::HoldUntil(core::Millis until) {
  // Only ever later: two answers that arrive together keep the longer hold.
  core::Millis current = limited_until_.load();
  while (until > current && !limited_until_.compare_exchange_weak(current, until)) {
  }
}

struct GitHubClient::ManifestSearch {
  std::string canonical;  // "owner/name" as GitHub answered
  core::PackageKey package;
  std::vector<std::string> paths;
  std::shared_ptr<const RepositoryFacts> previous;
  bool urgent = false;
  Manifest first_found;  // the first manifest found, kept when none declares the package
  std::string first_etag;
  std::function<void(Manifest, std::string etag, bool rate_limited)> done;
};

void GitHubClient::FetchManifest(std::shared_ptr<ManifestSearch> search, std::size_t index) {
  if (index >= search->paths.size()) {
    if (search->first_found.status == ManifestStatus::kFound)
      return search->done(std::move(search->first_found), std::move(search->first_etag), false);
    Manifest missing;
    missing.status = ManifestStatus::kMissing;
    return search->done(std::move(missing), {}, false);
  }
  const std::string& path = search->paths[index];
  const RepositoryFacts* previous = search->previous.get();
  // The stored ETag is for the stored manifest's path only.
  bool same_path = previous && previous->manifest.path == path;
  net::HttpRequest request =
      Get("/repos/" + search->canonical + "/contents/" + core::PercentEncode(path, "/"),
          same_path ? previous : nullptr, "manifest");
  request.urgent = search->urgent;
  request.max_body_bytes = 4u << 20;  // the contents API sends files up to 1 MB, base64-encoded
  http_.Fetch(std::move(request), [this, search, index, path, same_path](core::Result<net::HttpResponse> r) {
    Manifest manifest;
    manifest.path = path;
    if (!r.ok()) {
      manifest.status = ManifestStatus::kUnreadable;
      manifest.error = r.status().message();
      return search->done(std::move(manifest), {}, false);
    }
    if (NoteRateLimit(*r)) return search->done(std::move(manifest), {}, true);
    if (r->status == 304 && same_path) {
      const std::string* etag = r->Header("etag");
      auto stored = search->previous->etags.find("manifest");
      return search->done(search->previous->manifest,
                          etag ? *etag : (stored == search->previous->etags.end() ? "" : stored->second),
                          false);
    }
    if (r->status == 404) return FetchManifest(search, index + 1);
    std::string etag = r->Header("etag") ? *r->Header("etag") : std::string();
    if (r->status != 200) {
      manifest.status = ManifestStatus::kUnreadable;  // 403 too large, 5xx after retries
      manifest.error = fmt::format("HTTP {}", r->status);
      return search->done(std::move(manifest), {}, false);
    }
    auto text = ContentsFileText(r->body);
    if (!text.ok()) {
      manifest.status = ManifestStatus::kUnreadable;
      manifest.error = text.status().message();
      return search->done(std::move(manifest), {}, false);
    }
    manifest.status = ManifestStatus::kFound;
    manifest.declared_name = DeclaredPackageName(path, *text);
    if (DeclaresPackage(search->package, manifest.declared_name))
      return search->done(std::move(manifest), std::move(etag), false);
    if (search->first_found.status != ManifestStatus::kFound) {
      search->first_found = std::move(manifest);
      search->first_etag = std::move(etag);
    }
    FetchManifest(search, index + 1);
  });
}

void GitHubClient::FetchBatch(std::vector<BatchEntry> entries,
                              std::function<void(core::Result<BatchAnswer>)> done, bool urgent) {
  if (core::Millis until = RateLimitedUntil())
    return done(core::Status::ResourceExhausted(
        fmt::format("GitHub rate limit spent until {}", core::FormatTimestamp(until))));
  constexpr core::Millis kYear = 365LL * 24 * 3600 * 1000;
  net::HttpRequest request = Get("/graphql", nullptr, "graphql");
  request.method = "POST";
  request.headers.emplace_back("Content-Type", "application/json");
  request.body = BuildBatchQuery(entries, clock_.NowMillis() - kYear);
  request.urgent = urgent;
  request.retry_gateway_timeout = false;  // the same query would time out again: a smaller one follows
  auto batch = std::make_shared<std::vector<BatchEntry>>(std::move(entries));
  http_.Fetch(std::move(request), [this, batch, urgent,
                                   done = std::move(done)](core::Result<net::HttpResponse> r) mutable {
    core::RunOn(
        options_.run_cpu_work, urgent, [this, batch, r = std::move(r), done = std::move(done)]() mutable {
          // Our own timeouts and a full connection pool are Unavailable: DeadlineExceeded
          // says GitHub itself gave up on the query (below), and smaller queries follow.
          if (!r.ok()) return done(core::Status::Unavailable(r.status().message()));
          if (NoteRateLimit(*r))
            return done(
                core::Status::ResourceExhausted(fmt::format("GitHub rate limit spent (HTTP {})", r->status)));
          // GitHub stops a query that runs past its time limit (10 s) with a 502 or 504.
          if (r->status == 502 || r->status == 504)
            return done(core::Status::DeadlineExceeded(fmt::format(
                "GitHub GraphQL gave up on a query of {} repositories (HTTP {})", batch->size(), r->status)));
          if (r->status != 200)
            return done(core::Status::Unavailable(fmt::format("GitHub GraphQL answered HTTP {}", r->status)));
          auto answer = ParseBatchAnswer(r->body, *batch);
          if (!answer.ok()) return done(answer.status());
          if (answer->remaining >= 0) remaining_ = answer->remaining;
          if (answer->rate_limited) {
            // Hold until the reset GitHub names (at most its one-hour window), else a minute.
            core::Millis now = clock_.NowMillis();
            core::Millis until =
                answer->reset_at > now ? std::min(answer->reset_at, now + kMaxRateLimitHold) : now + 60'000;
            HoldUntil(until);
            return done(core::Status::ResourceExhausted(
                fmt::format("GitHub GraphQL rate limit spent until {}", core::FormatTimestamp(until))));
          }
          done(std::move(answer));
        });
  });
}

void GitHubClient::ReadManifest(const RepositoryFacts& repository, const core::PackageKey& package,
                                const RepositoryFacts* previous, std::function<void(GitHubResult)> done,
                                bool urgent) {
  if (core::Millis until = RateLimitedUntil())
    return done(core::Status::ResourceExhausted(
        fmt::format("GitHub rate limit spent until {}", core::FormatTimestamp(until))));
  auto facts = std::make_shared<RepositoryFacts>(repository);
  auto search = std::make_shared<ManifestSearch>();
  search->canonical = repository.full_name.empty()
                          ? repository.requested.owner + "/" + repository.requested.name
                          : repository.full_name;
  search->package = package;
  search->paths = ManifestPaths(package, repository.requested.subdirectory);
  // The stored manifest's ETag applies only to the same repository and path.
  if (previous && previous->requested.owner == repository.requested.owner &&
      previous->requested.name == repository.requested.name)
    search->previous = std::make_shared<RepositoryFacts>(*previous);
  search->urgent = urgent;
  search->done = [this, facts, urgent, done = std::move(done)](Manifest manifest, std::string etag,
                                                               bool rate_limited) mutable {
    core::RunOn(
        options_.run_cpu_work, urgent,
        [facts, manifest = std::move(manifest), etag = std::move(etag), rate_limited,
         done = std::move(done)]() mutable {
          if (rate_limited)
            return done(core::Status::ResourceExhausted("GitHub rate limit spent (reading the manifest)"));
          facts->manifest = std::move(manifest);
          facts->etags.erase("manifest");
          if (!etag.empty()) facts->etags["manifest"] = std::move(etag);
          done(std::move(*facts));
        });
  };
  FetchManifest(std::move(search), 0);
}

void GitHubClient::Fetch(const core::RepositoryRef& repo, const RepositoryFacts* previous_ptr,
                         std::function<void(GitHubResult)> done, bool urgent,
                         std::optional<core::PackageKey> package) {
  if (core::Millis until = RateLimitedUntil())
    return done(core::Status::ResourceExhausted(
        fmt::format("GitHub rate limit spent until {}", core::FormatTimestamp(until))));
  auto previous = previous_ptr ? std::make_shared<RepositoryFacts>(*previous_ptr) : nullptr;
  auto facts = std::make_shared<RepositoryFacts>();
  facts->requested = repo;
  std::string path = fmt::format("/repos/{}/{}", repo.owner, repo.name);
  net::HttpRequest request = Get(path, previous.get(), "repo");
  request.urgent = urgent;
  // The answers are read off the I/O thread (options_.run_cpu_work).
  auto on_repository = [this, facts, previous, repo, urgent, package = std::move(package),
                        done = std::move(done)](core::Result<net::HttpResponse> r) mutable {
    if (!r.ok()) return done(r.status());
    if (NoteRateLimit(*r))
      return done(
          core::Status::ResourceExhausted(fmt::format("GitHub rate limit spent (HTTP {})", r->status)));
    if (r->status == 404 || r->status == 410) {
      facts->status = RepositoryStatus::kNotFound;  // recorded as such; not retried
      return done(std::move(*facts));
    }
    if (r->status == 451 || r->status == 403) {
      facts->status = RepositoryStatus::kUnavailable;  // DMCA takedown, access blocked
      return done(std::move(*facts));
    }
    if (r->status == 304 && previous) {
      // Only the repository section is unchanged; the others are asked again below (a
      // 304 there keeps the stored part).
      *facts = *previous;
      facts->contributors = -1;
      facts->tags.clear();
      facts->releases.clear();
      facts->weekly_commits.clear();
      facts->commits_last_year = -1;
      facts->manifest = {};
      facts->etags.clear();
    } else if (r->status == 200) {
      core::JsonDocument doc(r->body);
      JsonValue j = doc.root();
      if (!j.is_object() || StringAt(j, "full_name").empty())
        return done(
            core::Status::Unavailable(fmt::format("GitHub {}: the answer is not a repository", r->url)));
      ApplyRepository(j, *facts);
    } else {
      return done(core::Status::Unavailable(fmt::format("GitHub {} answered HTTP {}", r->url, r->status)));
    }
    if (const std::string* etag = r->Header("etag")) facts->etags["repo"] = *etag;
    facts->requested = repo;
    std::string canonical = facts->full_name.empty() ? repo.owner + "/" + repo.name : facts->full_name;
    // GitHub answers a renamed or transferred repository under its new name (after a 301).
    auto lower = [](std::string s) {
      std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
      return s;
    };
    facts->moved =
        !facts->full_name.empty() && lower(facts->full_name) != lower(repo.owner + "/" + repo.name);
    // The rest of the facts, in parallel, from the repository's current name: four
    // sections, and the manifest search when the package is known.
    struct Join {
      std::mutex mu;
      Responses results;
      int pending = 4;
      bool manifest_rate_limited = false;
    };
    auto join = std::make_shared<Join>();
    join->results.assign(4, core::Status::Unavailable("pending"));
    if (package) join->pending++;
    // Runs once, when the last of the parallel requests has answered.
    auto finish = [this, join, facts, previous, done] {
      static const char* kNames[] = {"contributors", "tags", "releases", "commit_activity"};
      if (join->manifest_rate_limited)
        return done(core::Status::ResourceExhausted("GitHub rate limit spent (reading the manifest)"));
      for (int k = 0; k < 4; ++k) {
        auto& res = join->results[k];
        if (!res.ok()) continue;  // a missing section leaves its facts unknown
        if (NoteRateLimit(*res))
          return done(
              core::Status::ResourceExhausted(fmt::format("GitHub rate limit spent (HTTP {})", res->status)));
        if (res->status == 304 && previous) {
          switch (k) {
            case 0:
              facts->contributors = previous->contributors;
              break;
            case 1:
              facts->tags = previous->tags;
              break;
            case 2:
              facts->releases = previous->releases;
              break;
            case 3:
              facts->weekly_commits = previous->weekly_commits;
              facts->commits_last_year = previous->commits_last_year;
              break;
          }
          if (auto e = previous->etags.find(kNames[k]); e != previous->etags.end())
            facts->etags[kNames[k]] = e->second;
          continue;
        }
        if (res->status == 204 && k == 0) facts->contributors = 0;  // empty repository
        if (res->status != 200) continue;
        core::JsonDocument doc(res->body);
        if (k == 1 && doc.root().is_object()) {
          ParseTagsQuery(doc.root(), *facts);
          continue;
        }
        simdjson::dom::array items;
        if (!core::AsArray(doc.root(), items)) continue;
        if (const std::string* etag = res->Header("etag")) facts->etags[kNames[k]] = *etag;
        if (k == 0) {
          const std::string* link = res->Header("link");
          std::int64_t last = link ? LastPage(*link) : -1;
          facts->contributors = last > 0 ? last : static_cast<std::int64_t>(items.size());
        } else if (k == 1) {
          for (simdjson::dom::element tag : items)
            if (std::string name = StringAt(tag, "name"); !name.empty())
              facts->tags.push_back({std::move(name), 0});
        } else if (k == 2) {
          for (simdjson::dom::element rel : items) {
            if (!rel.is_object() || BoolAt(rel, "draft")) continue;
            facts->releases.push_back({StringAt(rel, "tag_name"), StringAt(rel, "name"),
                                       core::ParseTimestamp(StringAt(rel, "published_at")).value_or(0),
                                       BoolAt(rel, "prerelease")});
          }
        } else {
          facts->commits_last_year = 0;
          for (simdjson::dom::element week : items) {
            int total = static_cast<int>(IntAt(week, "total"));
            facts->weekly_commits.push_back(total);
            facts->commits_last_year += total;
          }
        }
      }
      done(std::move(*facts));
    };
    const std::string base = "/repos/" + canonical;
    const std::pair<std::string, std::string> sections[] = {
        {"contributors", base + "/contributors?per_page=1&anon=true"},
        {"tags", base + "/tags?per_page=100"},
        {"releases", base + "/releases?per_page=100"},
        {"commit_activity", base + "/stats/commit_activity"}};
    for (int i = 0; i < 4; ++i) {
      net::HttpRequest request = Get(sections[i].second, previous.get(), sections[i].first);
      if (i == 1 && !options_.token.empty())
        request = TagsQuery(canonical);  // names and dates in one request
      request.urgent = urgent;
      http_.Fetch(std::move(request), [this, i, join, finish, urgent](core::Result<net::HttpResponse> r) {
        {
          std::lock_guard lock(join->mu);
          join->results[i] = std::move(r);
          if (--join->pending > 0) return;
        }
        core::RunOn(options_.run_cpu_work, urgent, finish);
      });
    }
    if (package) {
      auto search = std::make_shared<ManifestSearch>();
      search->canonical = canonical;
      search->package = *package;
      search->paths = ManifestPaths(*package, repo.subdirectory);
      search->previous = previous;
      search->urgent = urgent;
      search->done = [this, join, facts, finish, urgent](Manifest manifest, std::string etag,
                                                         bool rate_limited) {
        {
          std::lock_guard lock(join->mu);
          facts->manifest = std::move(manifest);
          if (!etag.empty()) facts->etags["manifest"] = std::move(etag);
          join->manifest_rate_limited = rate_limited;
          if (--join->pending > 0) return;
        }
        core::RunOn(options_.run_cpu_work, urgent, finish);
      };
      FetchManifest(std::move(search), 0);
    }
  };
  http_.Fetch(std::move(request), [this, urgent,
                                   on_repository = std::make_shared<decltype(on_repository)>(
                                       std::move(on_repository))](core::Result<net::HttpResponse> r) {
    core::RunOn(options_.run_cpu_work, urgent,
                [on_repository, r = std::move(r)]() mutable { (*on_repository)(std::move(r)); });
  });
}

}  // namespace pkgtrust::github
