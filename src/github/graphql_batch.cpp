#include "pkgtrust/github/graphql_batch.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>

#include "pkgtrust/core/json_limits.hpp"
#include "pkgtrust/core/time.hpp"

namespace pkgtrust::github {
namespace {

using json = nlohmann::json;

// What the model reads of a repository. Connections ask for 100 at most (GitHub's limit
// per connection); the cost is one request per connection per repository, /100.
constexpr const char* kRepositoryFragment =
    "fragment R on Repository{nameWithOwner stargazerCount forkCount "
    "openIssues:issues(states:OPEN){totalCount} openPullRequests:pullRequests(states:OPEN){totalCount} "
    "watchers{totalCount} isArchived isDisabled isFork parent{nameWithOwner} createdAt pushedAt updatedAt "
    "defaultBranchRef{name target{... on Commit{history(since:$since){totalCount}}}} licenseInfo{spdxId} "
    "releases(first:100,orderBy:{field:CREATED_AT,direction:DESC}){nodes{tagName name publishedAt "
    "isPrerelease isDraft}} "
    "refs(refPrefix:\"refs/tags/\",first:100,orderBy:{field:TAG_COMMIT_DATE,direction:DESC}){nodes{name "
    "target{... on Commit{committedDate} ... on Tag{tagger{date} target{... on Commit{committedDate}}}}}}}";

const json& Member(const json& j, const char* key) {
  static const json kNull;
  if (!j.is_object()) return kNull;
  auto it = j.find(key);
  return it == j.end() ? kNull : *it;
}
std::string Text(const json& j, const char* key) {
  const json& v = Member(j, key);
  return v.is_string() ? v.get<std::string>() : std::string();
}
std::int64_t Count(const json& j, const char* key) {
  const json& v = Member(Member(j, key), "totalCount");
  return v.is_number_integer() ? v.get<std::int64_t>() : 0;
}
bool Flag(const json& j, const char* key) {
  const json& v = Member(j, key);
  return v.is_boolean() && v.get<bool>();
}
core::Millis Time(const json& j, const char* key) { return core::ParseTimestamp(Text(j, key)).value_or(0); }

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

RepositoryFacts ReadRepository(const json& r, const core::RepositoryRef& requested) {
  RepositoryFacts f;
  f.requested = requested;
  f.full_name = Text(r, "nameWithOwner");
  // repository() follows renames: an answer under another name is a moved repository.
  f.moved = !f.full_name.empty() && Lower(f.full_name) != Lower(requested.owner + "/" + requested.name);
  f.stars = Member(r, "stargazerCount").is_number_integer() ? r["stargazerCount"].get<std::int64_t>() : 0;
  f.forks = Member(r, "forkCount").is_number_integer() ? r["forkCount"].get<std::int64_t>() : 0;
  f.open_issues = Count(r, "openIssues") + Count(r, "openPullRequests");  // as REST counts them
  f.watchers = Count(r, "watchers");
  f.archived = Flag(r, "isArchived");
  f.disabled = Flag(r, "isDisabled");
  f.is_fork = Flag(r, "isFork");
  f.fork_parent = Text(Member(r, "parent"), "nameWithOwner");
  f.created = Time(r, "createdAt");
  f.pushed = Time(r, "pushedAt");
  f.updated = Time(r, "updatedAt");
  const json& branch = Member(r, "defaultBranchRef");
  f.default_branch = Text(branch, "name");
  const json& history = Member(Member(Member(branch, "target"), "history"), "totalCount");
  f.commits_last_year = history.is_number_integer() ? history.get<std::int64_t>() : -1;
  f.license = Text(Member(r, "licenseInfo"), "spdxId");
  if (f.license == "NOASSERTION") f.license.clear();
  const json& releases = Member(Member(r, "releases"), "nodes");
  if (releases.is_array())
    for (const json& rel : releases) {
      if (!rel.is_object() || Flag(rel, "isDraft")) continue;
      f.releases.push_back(
          {Text(rel, "tagName"), Text(rel, "name"), Time(rel, "publishedAt"), Flag(rel, "isPrerelease")});
    }
  const json& tags = Member(Member(r, "refs"), "nodes");
  if (tags.is_array())
    for (const json& node : tags) {
      Tag tag{Text(node, "name"), 0};
      if (tag.name.empty()) continue;
      const json& target = Member(node, "target");
      std::string when = Text(target, "committedDate");  // a lightweight tag: its commit
      if (Member(target, "tagger").is_object()) when = Text(Member(target, "tagger"), "date");
      if (when.empty()) when = Text(Member(target, "target"), "committedDate");
      tag.date = core::ParseTimestamp(when).value_or(0);
      f.tags.push_back(std::move(tag));
    }
  return f;
}

bool IsRateLimitType(const std::string& type) { return type == "RATE_LIMITED" || type == "RATE_LIMIT"; }

}  // namespace

std::string BuildBatchQuery(const std::vector<BatchEntry>& entries, core::Millis since) {
  // Every owner, name and path is a variable: nothing from a package reaches the query text.
  std::string definitions = "$since:GitTimestamp!", selections;
  json variables = {{"since", core::FormatTimestamp(since)}};
  for (std::size_t i = 0; i < entries.size(); ++i) {
    definitions += fmt::format(",$o{0}:String!,$n{0}:String!", i);
    variables[fmt::format("o{}", i)] = entries[i].repo.owner;
    variables[fmt::format("n{}", i)] = entries[i].repo.name;
    std::string files;
    for (std::size_t k = 0; k < entries[i].files.size(); ++k) {
      definitions += fmt::format(",$e{}_{}:String!", i, k);
      variables[fmt::format("e{}_{}", i, k)] = "HEAD:" + entries[i].files[k];
      files +=
          fmt::format(" f{1}:object(expression:$e{0}_{1}){{... on Blob{{text isBinary isTruncated}}}}", i, k);
    }
    selections += fmt::format(" r{0}:repository(owner:$o{0},name:$n{0}){{{1}{2}}}", i,
                              entries[i].facts ? "...R" : "nameWithOwner", files);
  }
  std::string query = fmt::format("query({}){{rateLimit{{cost remaining resetAt}}{}}} {}", definitions,
                                  selections, kRepositoryFragment);
  return json{{"query", query}, {"variables", variables}}.dump();
}

core::Result<BatchAnswer> ParseBatchAnswer(std::string_view body, const std::vector<BatchEntry>& entries) {
  if (!core::JsonNestingWithin(body))
    return core::Status::Unavailable("GitHub GraphQL: the answer nests too deep");
  json answer = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!answer.is_object() || (!answer.contains("data") && !answer.contains("errors")))
    return core::Status::Unavailable("GitHub GraphQL: the answer is not a GraphQL response");
  BatchAnswer out;
  const json& data = Member(answer, "data");
  const json& rate = Member(data, "rateLimit");
  if (Member(rate, "cost").is_number_integer()) out.cost = rate["cost"].get<std::int64_t>();
  if (Member(rate, "remaining").is_number_integer()) out.remaining = rate["remaining"].get<std::int64_t>();
  out.reset_at = Time(rate, "resetAt");

  // Errors: per alias (path [rN, ...]), or for the whole query (no path).
  std::vector<std::string> alias_errors(entries.size());
  std::vector<bool> alias_missing(entries.size(), false);
  const json& errors = Member(answer, "errors");
  if (errors.is_array())
    for (const json& e : errors) {
      std::string type = Text(e, "type"), message = Text(e, "message");
      if (IsRateLimitType(type)) out.rate_limited = true;
      const json& path = Member(e, "path");
      if (!path.is_array() || path.empty() || !path[0].is_string()) continue;
      std::string alias = path[0].get<std::string>();
      if (alias.size() < 2 || alias[0] != 'r') continue;
      std::size_t index = 0;
      bool digits =
          std::all_of(alias.begin() + 1, alias.end(), [](unsigned char c) { return std::isdigit(c); });
      if (!digits || alias.size() > 6) continue;
      index = std::stoul(alias.substr(1));
      if (index >= entries.size()) continue;
      if (type == "NOT_FOUND" && path.size() == 1)
        alias_missing[index] = true;
      else if (path.size() == 1)
        alias_errors[index] = fmt::format("{}{}", type.empty() ? "" : type + ": ", message);
    }

  for (std::size_t i = 0; i < entries.size(); ++i) {
    const json& r = Member(data, fmt::format("r{}", i).c_str());
    std::vector<BatchFile> files(entries[i].files.size());
    if (r.is_object()) {
      out.repositories.emplace_back(ReadRepository(r, entries[i].repo));
      for (std::size_t k = 0; k < files.size(); ++k) {
        const json& blob = Member(r, fmt::format("f{}", k).c_str());
        if (!blob.is_object()) continue;
        files[k].exists = true;
        if (!Flag(blob, "isBinary") && !Flag(blob, "isTruncated") && Member(blob, "text").is_string())
          files[k].text = blob["text"].get<std::string>();
      }
    } else if (out.rate_limited) {
      out.repositories.emplace_back(core::Status::ResourceExhausted("GitHub GraphQL rate limit spent"));
    } else if (!alias_errors[i].empty()) {
      out.repositories.emplace_back(core::Status::Unavailable("GitHub GraphQL: " + alias_errors[i]));
    } else if (alias_missing[i] || data.is_object()) {
      // NOT_FOUND, or null without a word (a token that may not see it): missing.
      RepositoryFacts missing;
      missing.requested = entries[i].repo;
      missing.status = RepositoryStatus::kNotFound;
      out.repositories.emplace_back(std::move(missing));
    } else {
      out.repositories.emplace_back(core::Status::Unavailable("GitHub GraphQL: the answer has no data"));
    }
    out.files.push_back(std::move(files));
  }
  return out;
}

}  // namespace pkgtrust::github
