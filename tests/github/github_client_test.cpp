// The GitHub adapter over HTTP against the replay upstream with recorded GitHub answers.
#include "pkgtrust/github/github_client.hpp"

#include <catch2/catch.hpp>
#include <future>

#include "pkgtrust/core/time.hpp"
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
