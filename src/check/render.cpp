#include "pkgtrust/check/render.hpp"

#include <fmt/format.h>

#include <filesystem>

#include "pkgtrust/core/purl.hpp"

namespace pkgtrust::check {

using json = nlohmann::json;

std::string Thousands(std::size_t n) {
  std::string digits = std::to_string(n), out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

namespace {

std::string Plural(std::size_t n, std::string_view one, std::string_view many) {
  return Thousands(n) + " " + std::string(n == 1 ? one : many);
}

std::string Where(const lockfile::LockedDependency& dependency) {
  return dependency.line > 0 ? fmt::format("{}:{}", dependency.file, dependency.line) : dependency.file;
}

bool HasWarnings(const DependencyVerdict& verdict) {
  for (const Finding& finding : verdict.findings)
    if (!finding.fails && finding.ignored.empty()) return true;
  return false;
}

// The word in the table's first column, and its colour.
std::pair<std::string_view, std::string_view> Label(const DependencyVerdict& verdict) {
  if (verdict.Fails()) return {"FAIL", "\033[1;31m"};
  switch (verdict.outcome) {
    case Outcome::kPending:
      return {"PENDING", "\033[36m"};
    case Outcome::kNotRegistry:
      return {"SKIP", "\033[2m"};
    case Outcome::kUnscored:
      return {"SKIP", "\033[2m"};
    case Outcome::kInvalid:
      return {"INVALID", "\033[33m"};
    default:
      break;
  }
  if (HasWarnings(verdict)) return {"WARN", "\033[33m"};
  return {"ok", "\033[32m"};
}

json FindingJson(const Finding& finding) {
  json out = {
      {"concern", ConcernName(finding.concern)}, {"message", finding.message}, {"fails", finding.fails}};
  if (!finding.ignored.empty()) out["ignored"] = finding.ignored;
  if (!finding.expired.empty()) out["expired_ignore"] = finding.expired;
  return out;
}

// Markdown table cells: no pipes or line breaks from package data.
std::string Cell(std::string text) {
  for (char& c : text)
    if (c == '|' || c == '\n' || c == '\r') c = ' ';
  return text;
}

}  // namespace

Totals TotalsOf(const CheckResult& result) {
  Totals totals;
  totals.dependencies = result.verdicts.size();
  for (const DependencyVerdict& verdict : result.verdicts) {
    if (verdict.Fails())
      ++totals.failing;
    else if (verdict.outcome == Outcome::kJudged && HasWarnings(verdict))
      ++totals.warnings;  // pending and not-found ones are counted as such
    switch (verdict.outcome) {
      case Outcome::kJudged:
        ++totals.judged;
        break;
      case Outcome::kPending:
        ++totals.pending;
        break;
      case Outcome::kNotFound:
        ++totals.not_found;
        break;
      case Outcome::kNotRegistry:
        ++totals.not_registry;
        break;
      case Outcome::kUnscored:
        ++totals.unscored;
        break;
      case Outcome::kInvalid:
        ++totals.invalid;
        break;
    }
  }
  return totals;
}

std::string SummaryLine(const CheckResult& result) {
  Totals totals = TotalsOf(result);
  std::vector<std::string> parts;
  parts.push_back(Plural(totals.failing, "fails the policy", "fail the policy"));
  if (totals.warnings) parts.push_back(Plural(totals.warnings, "warning", "warnings"));
  if (totals.pending) parts.push_back(Thousands(totals.pending) + " pending");
  if (totals.not_found) parts.push_back(Thousands(totals.not_found) + " not in their registry");
  if (totals.not_registry) parts.push_back(Thousands(totals.not_registry) + " not from a registry");
  if (totals.unscored) parts.push_back(Thousands(totals.unscored) + " of unscored types");
  if (totals.invalid) parts.push_back(Thousands(totals.invalid) + " invalid");
  if (!result.errors.empty())
    parts.push_back(Plural(result.errors.size(), "file unreadable", "files unreadable"));
  return fmt::format("{} in {}: {}", Plural(totals.dependencies, "dependency", "dependencies"),
                     Plural(result.files.size(), "file", "files"), fmt::join(parts, ", "));
}

std::string RenderTable(const CheckResult& result, bool color) {
  std::string out;
  auto paint = [color](std::string_view code, std::string_view text) {
    return color ? fmt::format("{}{}\033[0m", code, text) : std::string(text);
  };
  for (const InputError& error : result.errors)
    out += paint("\033[1;31m", "ERROR") + "    " + error.message + "\n";
  for (const DependencyVerdict& verdict : result.verdicts) {
    auto [label, code] = Label(verdict);
    std::string score = verdict.score ? fmt::format("{:4.1f}", *verdict.score) : "   -";
    std::string padded = fmt::format("{:<8}", label);
    out += fmt::format("{} {} {}  {}", paint(code, padded), score, verdict.purl, Where(verdict.dependency));
    if (!verdict.dependency.note.empty()) out += "  (" + verdict.dependency.note + ")";
    if (!verdict.detail.empty()) out += "  " + verdict.detail;
    out += "\n";
    for (const Finding& finding : verdict.findings) {
      std::string mark = finding.fails ? "fails" : (finding.ignored.empty() ? "warns" : "ignored");
      out += fmt::format("           {:<10} {}: {}\n", ConcernName(finding.concern), mark, finding.message);
      if (!finding.ignored.empty()) out += fmt::format("                      {}\n", finding.ignored);
      if (!finding.expired.empty())
        out += fmt::format("                      {}\n", paint("\033[33m", finding.expired));
    }
  }
  out += SummaryLine(result) + "\n";
  int code = ExitCodeOf(result);
  out += code == kExitPassed
             ? paint("\033[1;32m", "passed") + "\n"
             : paint("\033[1;31m", code == kExitInputError ? "failed: files could not be read"
                                                           : "failed: the policy is violated") +
                   "\n";
  return out;
}

json RenderJson(const CheckResult& result) {
  Totals totals = TotalsOf(result);
  json policy = {{"source", result.policy.source},
                 {"fail_on", json::array()},
                 {"min_score", result.policy.min_score ? json(*result.policy.min_score) : json(nullptr)},
                 {"too_new_hours", result.policy.too_new_hours}};
  for (Concern concern : result.policy.fail_on) policy["fail_on"].push_back(ConcernName(concern));
  json errors = json::array();
  for (const InputError& error : result.errors)
    errors.push_back({{"file", error.file}, {"message", error.message}});
  json dependencies = json::array();
  for (const DependencyVerdict& verdict : result.verdicts) {
    const lockfile::LockedDependency& dependency = verdict.dependency;
    json findings = json::array();
    for (const Finding& finding : verdict.findings) findings.push_back(FindingJson(finding));
    json entry = {{"purl", verdict.purl},
                  {"version", dependency.purl.version},
                  {"file", dependency.file},
                  {"line", dependency.line},
                  {"origin", lockfile::OriginName(dependency.origin)},
                  {"outcome", OutcomeName(verdict.outcome)},
                  {"fails", verdict.Fails()},
                  {"score", verdict.score ? json(*verdict.score) : json(nullptr)},
                  {"findings", std::move(findings)},
                  {"explanation", verdict.explanation}};
    if (!dependency.origin_detail.empty()) entry["origin_detail"] = dependency.origin_detail;
    if (!dependency.note.empty()) entry["note"] = dependency.note;
    if (!verdict.detail.empty()) entry["detail"] = verdict.detail;
    dependencies.push_back(std::move(entry));
  }
  return {{"passed", ExitCodeOf(result) == kExitPassed},
          {"exit_code", ExitCodeOf(result)},
          {"summary",
           {{"text", SummaryLine(result)},
            {"dependencies", totals.dependencies},
            {"failing", totals.failing},
            {"warnings", totals.warnings},
            {"judged", totals.judged},
            {"pending", totals.pending},
            {"not_found", totals.not_found},
            {"not_registry", totals.not_registry},
            {"unscored", totals.unscored},
            {"invalid", totals.invalid}}},
          {"policy", std::move(policy)},
          {"files", result.files},
          {"errors", std::move(errors)},
          {"dependencies", std::move(dependencies)}};
}

std::string RenderMarkdown(const CheckResult& result) {
  int code = ExitCodeOf(result);
  std::string out = fmt::format("### pkgtrust check: {}\n\n{}\n\n",
                                code == kExitPassed       ? "passed"
                                : code == kExitInputError ? "files could not be read"
                                                          : "the policy is violated",
                                SummaryLine(result));
  for (const InputError& error : result.errors)
    out += fmt::format("- **Unreadable**: `{}`\n", Cell(error.message));
  if (!result.errors.empty()) out += "\n";
  std::string findings;
  for (const DependencyVerdict& verdict : result.verdicts)
    for (const Finding& finding : verdict.findings) {
      std::string verdict_text =
          finding.fails ? "**fails**" : (finding.ignored.empty() ? "warns" : "ignored");
      std::string reason = finding.message;
      if (!finding.ignored.empty()) reason += " (" + finding.ignored + ")";
      if (!finding.expired.empty()) reason += " (" + finding.expired + ")";
      findings += fmt::format("| {} | `{}` | {} | {} | `{}` |\n", verdict_text, Cell(verdict.purl),
                              ConcernName(finding.concern), Cell(reason), Cell(Where(verdict.dependency)));
    }
  if (!findings.empty())
    out += "| verdict | package | concern | reason | locked at |\n|---|---|---|---|---|\n" + findings + "\n";
  out +=
      "<details><summary>Every dependency</summary>\n\n| package | score | outcome | locked at "
      "|\n|---|---|---|---|\n";
  for (const DependencyVerdict& verdict : result.verdicts)
    out += fmt::format("| `{}` | {} | {} | `{}` |\n", Cell(verdict.purl),
                       verdict.score ? fmt::format("{:.1f}", *verdict.score) : "-",
                       Cell(std::string(OutcomeName(verdict.outcome)) +
                            (verdict.detail.empty() ? "" : ": " + verdict.detail)),
                       Cell(Where(verdict.dependency)));
  out += "\n</details>\n";
  return out;
}

}  // namespace pkgtrust::check
