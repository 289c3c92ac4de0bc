// A check's result as people and tools read it: a table for a terminal, JSON, SARIF 2.1.0
// for code scanning (each result at the lockfile line of its dependency) and Markdown for
// a pull-request comment. Every dependency appears, with its purl and version.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "pkgtrust/check/check.hpp"

namespace pkgtrust::check {

// "1,034": counts as people read them.
std::string Thousands(std::size_t n);

// Counts for the summary line.
struct Totals {
  std::size_t dependencies = 0, judged = 0, failing = 0, warnings = 0, pending = 0, not_registry = 0,
              unscored = 0, not_found = 0, invalid = 0;
};
Totals TotalsOf(const CheckResult& result);
// "1,034 dependencies in 3 files: 2 fail the policy, 5 warnings, 12 pending, 20 not from a registry".
std::string SummaryLine(const CheckResult& result);

// Every dependency, in the order of the verdicts (sort them with SortWorstFirst), each finding
// on a line of its own under it. `color`: ANSI colours (a terminal without NO_COLOR).
std::string RenderTable(const CheckResult& result, bool color);
nlohmann::json RenderJson(const CheckResult& result);
// `tool_version` is pkgtrust's version. Paths in results are relative to `base` when under it
// (GitHub resolves them against the repository root).
nlohmann::json RenderSarif(const CheckResult& result, std::string_view tool_version, std::string_view base);
// A run that could not judge (the server unreachable): no results, the invocation marked
// failed with `why`, and the files that could not be read as notifications.
nlohmann::json RenderSarifFailure(const CheckResult& result, std::string_view tool_version,
                                  std::string_view base, std::string_view why);
std::string RenderMarkdown(const CheckResult& result);

}  // namespace pkgtrust::check
