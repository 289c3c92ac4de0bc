// One GraphQL query for many repositories: the query (values only as variables) and its
// answers read per repository. The answers are written from GitHub's GraphQL schema and
// its documented error shapes (a missing repository: data.rN null and an error of type
// NOT_FOUND with path ["rN"]; the primary rate limit: an error of type RATE_LIMITED).
#include "pkgtrust/github/graphql_batch.hpp"

#include <fmt/format.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "pkgtrust/core/time.hpp"

using namespace pkgtrust;
using nlohmann::json;

namespace {

std::vector<github::BatchEntry> Entries(int n) {
  std::vector<github::BatchEntry> entries;
  for (int i = 0; i < n; ++i) entries.push_back({{"github.com", "org", fmt::format("repo-{}", i), ""}, {}});
  return entries;
}

json Repository(int i) {
  return {{"nameWithOwner", fmt::format("org/repo-{}", i)},
          {"stargazerCount", 100 + i},
          {"forkCount", i},
          {"openIssues", {{"totalCount", 3}}},
          {"openPullRequests", {{"totalCount", 1}}},
          {"watchers", {{"totalCount", 5}}},
          {"isArchived", i == 3},
          {"isDisabled", false},
          {"isFork", false},
          {"parent", nullptr},
          {"createdAt", "2020-01-01T00:00:00Z"},
          {"pushedAt", "2026-11-01T00:00:00Z"},
          {"updatedAt", "2026-11-02T00:00:00Z"},
          {"defaultBranchRef", {{"name", "main"}, {"target", {{"history", {{"totalCount", 10 * i}}}}}}},
          {"licenseInfo", {{"spdxId", "Apache-2.0"}}},
          {"releases", {{"nodes", json::array()}}},
          {"refs", {{"nodes", json::array()}}}};
}

}  // namespace

TEST_CASE("graphql batch: owners, names and paths travel as variables, one alias per repository",
          "[github]") {
  std::vector<github::BatchEntry> entries = Entries(3);
  entries[1].repo.name = R"(evil"){viewer{login}})";
  entries[2].files = {"package.json", "packages/core/package.json"};
  json body = json::parse(github::BuildBatchQuery(entries, *core::ParseTimestamp("2025-12-01T00:00:00Z")));
  std::string query = body["query"];
  CHECK_THAT(query, !Catch::Contains("evil") && !Catch::Contains("viewer"));
  for (int i = 0; i < 3; ++i)
    CHECK_THAT(query, Catch::Contains(fmt::format("r{0}:repository(owner:$o{0},name:$n{0})", i)));
  CHECK_THAT(query, !Catch::Contains("r3:"));
  CHECK(body["variables"]["n1"] == entries[1].repo.name);
  CHECK(body["variables"]["o0"] == "org");
  CHECK(body["variables"]["e2_1"] == "HEAD:packages/core/package.json");
  CHECK(body["variables"]["since"] == "2025-12-01T00:00:00.000Z");
  CHECK_THAT(query, Catch::Contains("rateLimit{cost remaining resetAt}"));
  // At most 100 per connection (GitHub's limit).
  CHECK_THAT(query, Catch::Contains("releases(first:100") &&
                        Catch::Contains("refs(refPrefix:\"refs/tags/\",first:100"));
}

TEST_CASE("graphql batch: 20 repositories with one missing; the others keep their facts", "[github]") {
  std::vector<github::BatchEntry> entries = Entries(20);
  entries[4].files = {"package.json", "docs/logo.png", "missing.json"};
  json data = {{"rateLimit", {{"cost", 1}, {"remaining", 4321}, {"resetAt", "2026-12-01T04:00:00Z"}}}};
  for (int i = 0; i < 20; ++i) data[fmt::format("r{}", i)] = Repository(i);
  data["r7"] = nullptr;
  data["r4"]["f0"] = {{"text", R"({"name":"repo-4"})"}, {"isBinary", false}, {"isTruncated", false}};
  data["r4"]["f1"] = {{"text", nullptr}, {"isBinary", true}, {"isTruncated", false}};
  data["r4"]["f2"] = nullptr;
  json answer = {{"data", data},
                 {"errors",
                  {{{"type", "NOT_FOUND"},
                    {"path", {"r7"}},
                    {"locations", {{{"line", 1}, {"column", 200}}}},
                    {"message", "Could not resolve to a Repository with the name 'org/repo-7'."}}}}};
  auto batch = github::ParseBatchAnswer(answer.dump(), entries);
  REQUIRE(batch.ok());
  REQUIRE(batch->repositories.size() == 20);
  CHECK_FALSE(batch->rate_limited);
  CHECK(batch->cost == 1);
  CHECK(batch->remaining == 4321);
  CHECK(batch->reset_at == *core::ParseTimestamp("2026-12-01T04:00:00Z"));
  for (int i = 0; i < 20; ++i) {
    INFO(i);
    REQUIRE(batch->repositories[i].ok());
    const github::RepositoryFacts& f = *batch->repositories[i];
    CHECK(f.requested.name == fmt::format("repo-{}", i));
    if (i == 7) {
      CHECK(f.status == github::RepositoryStatus::kNotFound);
      continue;
    }
    CHECK(f.status == github::RepositoryStatus::kFound);
    CHECK(f.stars == 100 + i);
    CHECK(f.open_issues == 4);
    CHECK(f.archived == (i == 3));
    CHECK(f.commits_last_year == 10 * i);
    CHECK(f.license == "Apache-2.0");
  }
  REQUIRE(batch->files[4].size() == 3);
  CHECK(batch->files[4][0].exists);
  CHECK(batch->files[4][0].text == R"({"name":"repo-4"})");
  CHECK(batch->files[4][1].exists);
  CHECK_FALSE(batch->files[4][1].text);  // binary: there, but not text
  CHECK_FALSE(batch->files[4][2].exists);
  CHECK(batch->files[0].empty());
}

TEST_CASE("graphql batch: a renamed repository is found under its new name, as moved", "[github]") {
  std::vector<github::BatchEntry> entries = Entries(1);
  json data = {{"r0", Repository(0)}};
  data["r0"]["nameWithOwner"] = "new-org/renamed";
  auto batch = github::ParseBatchAnswer(json{{"data", data}}.dump(), entries);
  REQUIRE(batch.ok());
  CHECK(batch->repositories[0]->moved);
  CHECK(batch->repositories[0]->full_name == "new-org/renamed");
  data["r0"]["nameWithOwner"] = "ORG/Repo-0";  // GitHub's names are case-insensitive
  CHECK_FALSE(github::ParseBatchAnswer(json{{"data", data}}.dump(), entries)->repositories[0]->moved);
}

TEST_CASE("graphql batch: RATE_LIMITED makes every repository wait; other errors stay with their alias",
          "[github]") {
  std::vector<github::BatchEntry> entries = Entries(3);
  for (const char* type : {"RATE_LIMITED", "RATE_LIMIT"}) {
    json answer = {{"data", nullptr},
                   {"errors", {{{"type", type}, {"message", "API rate limit exceeded for user ID 1."}}}}};
    auto batch = github::ParseBatchAnswer(answer.dump(), entries);
    REQUIRE(batch.ok());
    CHECK(batch->rate_limited);
    for (const auto& r : batch->repositories)
      CHECK(r.status().code() == core::StatusCode::kResourceExhausted);
  }
  // A repository the token may not read: an error for it alone.
  json data = {{"r0", Repository(0)}, {"r1", nullptr}, {"r2", Repository(2)}};
  json answer = {
      {"data", data},
      {"errors", {{{"type", "FORBIDDEN"}, {"path", {"r1"}}, {"message", "Resource not accessible"}}}}};
  auto batch = github::ParseBatchAnswer(answer.dump(), entries);
  REQUIRE(batch.ok());
  CHECK_FALSE(batch->rate_limited);
  CHECK(batch->repositories[0].ok());
  CHECK(batch->repositories[1].status().code() == core::StatusCode::kUnavailable);
  CHECK_THAT(batch->repositories[1].status().message(), Catch::Contains("FORBIDDEN"));
  CHECK(batch->repositories[2].ok());
  // Not a GraphQL answer at all.
  CHECK_FALSE(github::ParseBatchAnswer("<html>busy</html>", entries).ok());
  CHECK_FALSE(github::ParseBatchAnswer(R"({"message":"Bad credentials"})", entries).ok());
}
