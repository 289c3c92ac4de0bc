// The GitHub adapter over HTTP against the replay upstream with recorded GitHub answers.
#include "pkgtrust/github/github_client.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <future>

#include "pkgtrust/core/time.hpp"
#include "pkgtrust/github/graphql_batch.hpp"
#include "support/replay_server.hpp"
#include "support/test_support.hpp"

using namespace pkgtrust;
using namespace std::chrono_literals;
using testing::ReplayResponse;

namespace {

std::string Fixture(const std::string& name) {
  return testing::ReadText(testing::FixturePath("github/" + name));
}

struct Upstream {
  explicit Upstream(std::string token = "test-token")
      : http(Config()),
        github(http, {.base_url = server.BaseUrl(), .token = std::move(token), .timeout = 5s}) {}
  static net::HttpClientConfig Config() {
    net::HttpClientConfig c;
    c.retry.base = 5ms;
    c.retry.max = 10ms;
    return c;
  }
  github::GitHubResult Fetch(const char* owner, const char* name,
                             const github::RepositoryFacts* previous = nullptr) {
    std::promise<github::GitHubResult> promise;
    github.Fetch({"github.com", owner, name, ""}, previous,
                 [&](github::GitHubResult r) { promise.set_value(std::move(r)); });
    return promise.get_future().get();
  }
  void AddChalk() {
    server.Add("GET", "/repos/chalk/chalk",
               ReplayResponse{200, {{"ETag", "W/\"repo-1\""}}, Fixture("repo-chalk.json")});
    server.Add(
        "GET", "/repos/chalk/chalk/contributors?per_page=1&anon=true",
        ReplayResponse{200,
                       {{"Link",
                         "<https://api.github.com/repositories/1/contributors?per_page=1&anon=true&page=2>; "
                         "rel=\"next\", "
                         "<https://api.github.com/repositories/1/contributors?per_page=1&anon=true&page=73>; "
                         "rel=\"last\""},
                        {"ETag", "W/\"contributors-1\""}},
                       Fixture("contributors-pygithub.json")});
    server.Add("GET", "/repos/chalk/chalk/tags?per_page=100",
               ReplayResponse{200, {{"ETag", "\"tags-1\""}}, Fixture("tags-pygithub.json")});
    // With a token, tags and their dates come from GraphQL (answer in GitHub's documented shape).
    server.Add("POST", "/graphql", ReplayResponse{200, {}, R"({"data":{"repository":{"refs":{"nodes":[
      {"name":"v5.0.0","target":{"tagger":{"date":"2022-04-14T12:00:00Z"},"target":{"committedDate":"2022-04-13T09:00:00Z"}}},
      {"name":"v4.1.2","target":{"committedDate":"2021-07-30T10:00:00Z"}},
      {"name":"odd","target":{}}]}}}})"});
    server.Add("GET", "/repos/chalk/chalk/releases?per_page=100",
               ReplayResponse{200, {{"ETag", "\"releases-1\""}}, Fixture("releases-repotest.json")});
    server.Add("GET", "/repos/chalk/chalk/stats/commit_activity",
               std::vector<ReplayResponse>{
                   {202, {}, "{}"}, {200, {{"ETag", "\"stats-1\""}}, Fixture("commit-activity.json")}});
  }

  testing::ReplayServer server;
  net::BeastHttpClient http;
  github::GitHubClient github;
};

}  // namespace

TEST_CASE("github: repository facts from recorded answers", "[github]") {
  Upstream up;
  up.AddChalk();
  auto first = up.Fetch("chalk", "chalk");
  INFO(first.status().message());
  REQUIRE(first.ok());
  const github::RepositoryFacts& f = *first;
  CHECK(f.status == github::RepositoryStatus::kFound);
  CHECK(f.full_name == "chalk/chalk");
  CHECK_FALSE(f.moved);
  CHECK(f.stars == 13452);
  CHECK(f.forks == 516);
  CHECK(f.open_issues == 9);
  CHECK_FALSE(f.archived);
  CHECK_FALSE(f.is_fork);
  CHECK(f.created == *core::ParseTimestamp("2013-08-03T00:20:12Z"));
  CHECK(f.pushed == *core::ParseTimestamp("2019-11-12T11:26:02Z"));
  CHECK(f.default_branch == "master");
  CHECK(f.license == "MIT");
  CHECK(f.contributors == 73);  // rel="last" page with per_page=1
  REQUIRE(f.tags.size() == 3);
  CHECK(f.tags[0].name == "v5.0.0");
  CHECK(f.tags[0].date == *core::ParseTimestamp("2022-04-14T12:00:00Z"));  // annotated: the tagger's date
  CHECK(f.tags[1].date == *core::ParseTimestamp("2021-07-30T10:00:00Z"));  // lightweight: the commit's date
  CHECK(f.tags[2].date == 0);
  REQUIRE(f.releases.size() == 1);
  CHECK(f.releases[0].tag == "v1.0");
  CHECK(f.releases[0].published == *core::ParseTimestamp("2020-07-14T00:58:20Z"));
  CHECK(f.weekly_commits.empty());  // GitHub answered 202: still computing
  CHECK(f.commits_last_year == -1);

  // The next refresh sends the ETags; unchanged parts cost a 304 and keep their facts.
  up.server.Add("GET", "/repos/chalk/chalk", ReplayResponse{304, {{"ETag", "W/\"repo-1\""}}});
  up.server.Add("GET", "/repos/chalk/chalk/contributors?per_page=1&anon=true", ReplayResponse{304});
  auto second = up.Fetch("chalk", "chalk", &f);
  REQUIRE(second.ok());
  CHECK(second->stars == 13452);
  CHECK(second->contributors == 73);
  CHECK(second->tags.size() == 3);      // asked again, not added to the stored ones
  CHECK(second->releases.size() == 1);
  CHECK(second->etags.at("repo") == "W/\"repo-1\"");
  CHECK(second->etags.at("contributors") == "W/\"contributors-1\"");
  CHECK(second->weekly_commits.size() == 52);
  CHECK(second->commits_last_year == 356);
  auto back = github::RepositoryFacts::FromJson(second->ToJson());
  REQUIRE(back.ok());
  CHECK(back->ToJson() == second->ToJson());
}

TEST_CASE("github: without a token, tag names come from the REST list and a 304 keeps them", "[github]") {
  Upstream up("");
  up.AddChalk();
  auto first = up.Fetch("chalk", "chalk");
  REQUIRE(first.ok());
  REQUIRE(first->tags.size() == 30);
  CHECK(first->tags.front().name == "v2.5.0");
  CHECK(first->tags.front().date == 0);
  CHECK(up.server.Hits("POST", "/graphql") == 0);
  up.server.Add("GET", "/repos/chalk/chalk/tags?per_page=100", ReplayResponse{304});
  auto second = up.Fetch("chalk", "chalk", &*first);
  REQUIRE(second.ok());
  CHECK(second->tags.size() == 30);
  CHECK(second->etags.at("tags") == "\"tags-1\"");
}

TEST_CASE("github: archived, missing and moved repositories", "[github]") {
  Upstream up;
  up.server.Add("GET", "/repos/test/archived", ReplayResponse{200, {}, Fixture("repo-archived.json")});
  auto archived = up.Fetch("test", "archived");
  REQUIRE(archived.ok());
  CHECK(archived->archived);
  CHECK(archived->stars == 66);

  up.server.Add("GET", "/repos/bad/example-for-testing", ReplayResponse{404, {}, Fixture("repo-404.json")});
  auto missing = up.Fetch("bad", "example-for-testing");
  REQUIRE(missing.ok());  // recorded as missing, not an error to retry
  CHECK(missing->status == github::RepositoryStatus::kNotFound);
  CHECK(up.server.Hits("GET", "/repos/bad/example-for-testing") == 1);

  up.server.Add("GET", "/repos/protoncoin/protoncoin",
                ReplayResponse{301, {{"Location", up.server.BaseUrl() + "/repositories/112116543"}}});
  up.server.Add("GET", "/repositories/112116543", ReplayResponse{200, {}, Fixture("repo-renamed.json")});
  auto moved = up.Fetch("protoncoin", "protoncoin");
  REQUIRE(moved.ok());
  CHECK(moved->moved);
  CHECK(moved->full_name == "padima2/protoncoin");
}

TEST_CASE("github: a spent budget stops requests until the reset", "[github]") {
  Upstream up;
  std::int64_t reset = std::time(nullptr) + 3600;
  up.server.Add("GET", "/repos/limited/repo",
                ReplayResponse{403,
                               {{"X-RateLimit-Limit", "5000"},
                                {"X-RateLimit-Remaining", "0"},
                                {"X-RateLimit-Reset", std::to_string(reset)}},
                               R"({"message":"API rate limit exceeded for user."})"});
  auto limited = up.Fetch("limited", "repo");
  REQUIRE_FALSE(limited.ok());
  CHECK(limited.status().code() == core::StatusCode::kResourceExhausted);
  CHECK(up.github.RateLimitedUntil() == reset * 1000);
  CHECK(up.github.RemainingBudget() == 0);
  // While limited, nothing is sent.
  up.AddChalk();
  auto held = up.Fetch("chalk", "chalk");
  REQUIRE_FALSE(held.ok());
  CHECK_THAT(held.status().message(), Catch::Contains("rate limit spent until"));
  CHECK(up.server.Hits("GET", "/repos/chalk/chalk") == 0);
  CHECK(up.server.Hits("GET", "/repos/limited/repo") == 1);  // a 403 is not retried

  Upstream other;
  other.server.Add("GET", "/repos/a/b", ReplayResponse{429, {{"Retry-After", "30"}}, "{}"});
  auto slow = other.Fetch("a", "b");
  REQUIRE_FALSE(slow.ok());
  CHECK(other.github.RateLimitedUntil() > 0);
  CHECK(other.server.Hits("GET", "/repos/a/b") == 1);  // not retried either
}

TEST_CASE("github: garbage answers are errors, never crashes", "[github]") {
  Upstream up;
  up.server.Add("GET", "/repos/x/garbage", ReplayResponse{200, {}, "<html>oops</html>"});
  up.server.Add("GET", "/repos/x/down", ReplayResponse{502, {}, "bad gateway"});
  for (const char* name : {"garbage", "down"}) {
    auto r = up.Fetch("x", name);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == core::StatusCode::kUnavailable);
  }
  CHECK_FALSE(github::RepositoryFacts::FromJson("{}").ok());
}

// The GraphQL batch reads the same recorded repository (chalk/chalk) into the same facts as
// the REST path, field by field, for everything the model reads; the answer is written from
// the REST fixtures' values in the shape of GitHub's GraphQL schema. Not compared: the
// contributor count (GraphQL has none) and the commit figures (REST answered 202 here).
TEST_CASE("github: the GraphQL batch gives the model the same facts as REST for the same repository",
          "[github]") {
  Upstream up;
  up.AddChalk();
  auto rest = up.Fetch("chalk", "chalk");
  REQUIRE(rest.ok());
  std::vector<github::BatchEntry> entries = {{{"github.com", "chalk", "chalk", ""}, {}}};
  auto batch = github::ParseBatchAnswer(
      R"({"data":{"rateLimit":{"cost":1,"remaining":4999,"resetAt":"2026-12-01T04:00:00Z"},
    "r0":{"nameWithOwner":"chalk/chalk","stargazerCount":13452,"forkCount":516,
      "openIssues":{"totalCount":7},"openPullRequests":{"totalCount":2},"watchers":{"totalCount":142},
      "isArchived":false,"isDisabled":false,"isFork":false,"parent":null,
      "createdAt":"2013-08-03T00:20:12Z","pushedAt":"2019-11-12T11:26:02Z","updatedAt":"2019-11-18T18:40:26Z",
      "defaultBranchRef":{"name":"master","target":{"history":{"totalCount":41}}},
      "licenseInfo":{"spdxId":"MIT"},
      "releases":{"nodes":[{"tagName":"v1.0","name":"Test","publishedAt":"2020-07-14T00:58:20Z","isPrerelease":false,"isDraft":false},
                           {"tagName":"v2.0-draft","name":"Draft","publishedAt":null,"isPrerelease":false,"isDraft":true}]},
      "refs":{"nodes":[
        {"name":"v5.0.0","target":{"tagger":{"date":"2022-04-14T12:00:00Z"},"target":{"committedDate":"2022-04-13T09:00:00Z"}}},
        {"name":"v4.1.2","target":{"committedDate":"2021-07-30T10:00:00Z"}},
        {"name":"odd","target":{}}]}}}})",
      entries);
  REQUIRE(batch.ok());
  REQUIRE(batch->repositories.size() == 1);
  REQUIRE(batch->repositories[0].ok());
  const github::RepositoryFacts& g = *batch->repositories[0];
  const github::RepositoryFacts& r = *rest;
  CHECK(g.status == r.status);
  CHECK(g.full_name == r.full_name);
  CHECK(g.moved == r.moved);
  CHECK(g.stars == r.stars);
  CHECK(g.forks == r.forks);
  CHECK(g.open_issues == r.open_issues);  // issues + pull requests, as REST counts them
  CHECK(g.watchers == r.watchers);
  CHECK(g.archived == r.archived);
  CHECK(g.disabled == r.disabled);
  CHECK(g.is_fork == r.is_fork);
  CHECK(g.fork_parent == r.fork_parent);
  CHECK(g.created == r.created);
  CHECK(g.pushed == r.pushed);
  CHECK(g.updated == r.updated);
  CHECK(g.default_branch == r.default_branch);
  CHECK(g.license == r.license);
  REQUIRE(g.tags.size() == r.tags.size());
  for (std::size_t i = 0; i < g.tags.size(); ++i) {
    CHECK(g.tags[i].name == r.tags[i].name);
    CHECK(g.tags[i].date == r.tags[i].date);
  }
  REQUIRE(g.releases.size() == r.releases.size());  // the draft is left out, as REST's reader does
  CHECK(g.releases[0].tag == r.releases[0].tag);
  CHECK(g.releases[0].name == r.releases[0].name);
  CHECK(g.releases[0].published == r.releases[0].published);
  CHECK(g.releases[0].prerelease == r.releases[0].prerelease);
  CHECK(g.commits_last_year == 41);  // the default branch's history since a year ago
  CHECK(g.contributors == -1);       // GraphQL has no contributor count
  CHECK(batch->cost == 1);
  CHECK(batch->remaining == 4999);
}

TEST_CASE("github: a GraphQL batch over HTTP: answers per repository, limits hold the client", "[github]") {
  Upstream up;
  std::vector<github::BatchEntry> entries = {{{"github.com", "chalk", "chalk", ""}, {}},
                                             {{"github.com", "nobody", "gone", ""}, {}}};
  auto fetch = [&] {
    std::promise<core::Result<github::BatchAnswer>> promise;
    up.github.FetchBatch(entries,
                         [&](core::Result<github::BatchAnswer> r) { promise.set_value(std::move(r)); });
    return promise.get_future().get();
  };
  // The query goes out with the token, the names as variables.
  up.server.Add("POST", "/graphql",
                ReplayResponse{200, {}, R"({"data":{"rateLimit":{"cost":1,"remaining":4000,
      "resetAt":"2030-01-01T00:00:00Z"},"r0":{"nameWithOwner":"chalk/chalk","stargazerCount":7},"r1":null},
      "errors":[{"type":"NOT_FOUND","path":["r1"],"message":"Could not resolve to a Repository"}]})"});
  auto answered = fetch();
  REQUIRE(answered.ok());
  CHECK(answered->repositories[0]->stars == 7);
  CHECK(answered->repositories[1]->status == github::RepositoryStatus::kNotFound);
  CHECK(up.github.RemainingBudget() == 4000);
  CHECK(up.github.RateLimitedUntil() == 0);
  auto headers = up.server.LastHeaders("POST", "/graphql");
  CHECK(std::count(headers.begin(), headers.end(),
                   std::pair<std::string, std::string>{"authorization", "Bearer test-token"}) == 1);

  // A server error: try again later, no hold.
  up.server.Add("POST", "/graphql", ReplayResponse{500, {}, "<html>server error</html>"});
  CHECK(fetch().status().code() == core::StatusCode::kUnavailable);
  CHECK(up.github.RateLimitedUntil() == 0);
  // GitHub gave up on the query in its time limit: said so at once (not retried), no hold.
  for (int status : {502, 504}) {
    up.server.Add("POST", "/graphql", ReplayResponse{status, {}, "<html>timed out</html>"});
    auto gave_up = fetch();
    CHECK(gave_up.status().code() == core::StatusCode::kDeadlineExceeded);
    CHECK_THAT(gave_up.status().message(), Catch::Contains("2 repositories"));
    CHECK(up.server.Hits("POST", "/graphql") == 1);  // a route's count starts with its Add
    CHECK(up.github.RateLimitedUntil() == 0);
  }

  // A secondary limit (403 with Retry-After): held for that long.
  up.server.Add(
      "POST", "/graphql",
      ReplayResponse{
          403, {{"Retry-After", "120"}}, R"({"message":"You have exceeded a secondary rate limit."})"});
  CHECK(fetch().status().code() == core::StatusCode::kResourceExhausted);
  core::Millis held = up.github.RateLimitedUntil();
  CHECK(held > core::SystemClock::Instance().NowMillis() + 100'000);
  CHECK(held <= core::SystemClock::Instance().NowMillis() + 120'000);
  // Held: the next batch is not sent at all.
  int before = up.server.TotalRequests();
  CHECK(fetch().status().code() == core::StatusCode::kResourceExhausted);
  CHECK(up.server.TotalRequests() == before);
}

TEST_CASE("github: RATE_LIMITED in a GraphQL answer holds the client until resetAt", "[github]") {
  Upstream up;
  std::vector<github::BatchEntry> entries = {{{"github.com", "chalk", "chalk", ""}, {}}};
  core::Millis reset = core::SystemClock::Instance().NowMillis() + 30 * 60'000;
  up.server.Add(
      "POST", "/graphql",
      ReplayResponse{
          200,
          {},
          fmt::format(R"({{"data":{{"rateLimit":{{"cost":1,"remaining":0,"resetAt":"{}"}},"r0":null}},
                  "errors":[{{"type":"RATE_LIMITED","message":"API rate limit exceeded for user ID 1."}}]}})",
                      core::FormatTimestamp(reset))});
  std::promise<core::Result<github::BatchAnswer>> promise;
  up.github.FetchBatch(entries,
                       [&](core::Result<github::BatchAnswer> r) { promise.set_value(std::move(r)); });
  auto answer = promise.get_future().get();
  CHECK(answer.status().code() == core::StatusCode::kResourceExhausted);
  CHECK(up.github.RateLimitedUntil() == reset);
  CHECK(up.github.RemainingBudget() == 0);
}
