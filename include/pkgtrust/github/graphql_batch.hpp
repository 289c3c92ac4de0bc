// One GitHub GraphQL query for the facts of many repositories at once (the aliases r0..rN
// of `repository(owner:, name:)`, every value passed as a variable), and the reading of
// its answer repository by repository. Field names are GitHub's public schema's
// (octokit/graphql-schema); how each maps to RepositoryFacts is in graphql_batch.cpp.
//
// What GraphQL gives differently from REST: REST's open_issues_count is open issues plus
// open pull requests (two counts here, added); commits in the last year are the default
// branch's history(since:) count (no weekly figures); tags come with their dates; there is
// no contributor count (contributors stays -1, unknown, in facts read this way).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pkgtrust/core/clock.hpp"
#include "pkgtrust/core/repository_url.hpp"
#include "pkgtrust/core/status.hpp"
#include "pkgtrust/github/repository_facts.hpp"

namespace pkgtrust::github {

struct BatchEntry {
  core::RepositoryRef repo;
  bool facts = true;  // read the repository's facts; false: only the files (facts are fresh)
  // Files read as text in the same query (object(expression: "HEAD:<path>")): the
  // manifests the packages waiting for this repository look for.
  std::vector<std::string> files;
};

struct BatchFile {
  bool exists = false;              // false: no such file at HEAD
  std::optional<std::string> text;  // nullopt when it exists but is binary or truncated
};

struct BatchAnswer {
  // One per entry, in order: the facts (status kNotFound when GitHub has no such
  // repository), or an error for that repository alone.
  std::vector<core::Result<RepositoryFacts>> repositories;
  std::vector<std::vector<BatchFile>> files;  // per entry, per requested file
  std::int64_t cost = -1, remaining = -1;     // rateLimit { cost remaining }; -1: not given
  core::Millis reset_at = 0;                  // rateLimit { resetAt }
  // The primary limit is spent (an error of type RATE_LIMITED): nothing else is usable.
  bool rate_limited = false;
};

// The request body: {"query": ..., "variables": {...}}. `since`: the start of "the last
// year" for the commit count.
std::string BuildBatchQuery(const std::vector<BatchEntry>& entries, core::Millis since);

// Reads an answer to BuildBatchQuery(entries). An error only when the body is not a
// GraphQL answer at all (not JSON, neither data nor errors).
core::Result<BatchAnswer> ParseBatchAnswer(std::string_view body, const std::vector<BatchEntry>& entries);

}  // namespace pkgtrust::github
