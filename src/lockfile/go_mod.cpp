// go.mod and go.sum, read by hand: both are line formats. go.mod's `require` lines are the
// module versions the build uses (since Go 1.17 including every indirect one), with
// `replace` directives applied; go.sum lists every module version whose content was hashed.
#include <fmt/format.h>

#include <algorithm>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "lockfile/format_parsers.hpp"

namespace pkgtrust::lockfile {

namespace {

constexpr std::string_view kSpaces = " \t\r";

// One line of go.mod: its words (quotes removed) and its `//` comment.
struct GoModLine {
  std::vector<std::string_view> words;
  std::string_view comment;
};

// go.sum has no comments (and its base64 hashes may hold "//"): `comments` is false there.
GoModLine SplitLine(std::string_view text, bool comments) {
  GoModLine line;
  if (std::size_t comment = text.find("//"); comments && comment != std::string_view::npos) {
    line.comment = Trim(text.substr(comment + 2));
    text = text.substr(0, comment);
  }
  while (true) {
    text = Trim(text);
    if (text.empty()) break;
    std::size_t end = text.find_first_of(kSpaces);
    std::string_view word = text.substr(0, end);
    // Module paths may be written as Go strings ("x" or `x`); none holds a space.
    if (word.size() >= 2 && (word.front() == '"' || word.front() == '`') && word.back() == word.front())
      word = word.substr(1, word.size() - 2);
    line.words.push_back(word);
    if (end == std::string_view::npos) break;
    text = text.substr(end);
  }
  return line;
}

bool IsIndirect(std::string_view comment) {
  return comment == "indirect" || comment.starts_with("indirect;");
}

// A replacement target without a version is a folder on disk (`=> ../fork`).
struct Replacement {
  std::string old_path;
  std::string old_version;  // empty: every version of old_path
  std::string new_path;
  std::string new_version;  // empty: new_path is a local folder
  int line = 0;
};

struct Requirement {
  std::string path;
  std::string version;
  bool indirect = false;
  int line = 0;
};

constexpr std::string_view kDirectives[] = {"module",  "go",      "toolchain", "godebug", "require",
                                            "replace", "exclude", "retract",   "tool",    "ignore"};

bool IsDirective(std::string_view word) {
  for (std::string_view directive : kDirectives)
    if (word == directive) return true;
  return false;
}

// The entry of a replace directive: `old [version] => new [version]`.
std::optional<Replacement> ReadReplacement(const std::vector<std::string_view>& words, int line) {
  std::size_t arrow = 0;
  while (arrow < words.size() && words[arrow] != "=>") ++arrow;
  std::size_t before = arrow, after = words.size() - arrow - 1;
  if (arrow == words.size() || before < 1 || before > 2 || after < 1 || after > 2) return std::nullopt;
  Replacement replacement;
  replacement.old_path = words[0];
  if (before == 2) replacement.old_version = words[1];
  replacement.new_path = words[arrow + 1];
  if (after == 2) replacement.new_version = words[arrow + 2];
  replacement.line = line;
  return replacement;
}

const Replacement* FindReplacement(const std::vector<Replacement>& replacements,
                                   const Requirement& requirement) {
  // A replacement naming the version wins over one for every version, as in the go command.
  const Replacement* any_version = nullptr;
  for (const Replacement& replacement : replacements) {
    if (replacement.old_path != requirement.path) continue;
    if (replacement.old_version == requirement.version) return &replacement;
    if (replacement.old_version.empty()) any_version = &replacement;
  }
  return any_version;
}

LockedDependency Resolve(const Requirement& requirement, const std::vector<Replacement>& replacements) {
  std::vector<std::string> notes;
  if (requirement.indirect) notes.push_back("indirect");
  LockedDependency dependency;
  if (const Replacement* replacement = FindReplacement(replacements, requirement)) {
    // The replacement is what the build downloads (or reads from disk), so it is the
    // package listed, at the replace line; the note keeps the module it stands for.
    notes.push_back(fmt::format("replaces {} {}", requirement.path, requirement.version));
    if (replacement->new_version.empty()) {
      // A local folder has no version; it is listed under the module path it replaces.
      dependency = Dependency(core::Ecosystem::kGo, requirement.path, "", replacement->line, Origin::kPath,
                              replacement->new_path);
    } else {
      dependency = Dependency(core::Ecosystem::kGo, replacement->new_path, replacement->new_version,
                              replacement->line);
    }
  } else {
    dependency = Dependency(core::Ecosystem::kGo, requirement.path, requirement.version, requirement.line);
  }
  for (const std::string& note : notes) AppendNote(dependency.note, note);
  return dependency;
}

}  // namespace

// The module itself (`module` line) is not a dependency, nor are the `go` and `toolchain`
// versions (scalibr lists them as a "stdlib" package; the Go toolchain is not a module
// fetched from the proxy). For go 1.16 and older, go.mod omits most indirect modules and
// scalibr adds them from go.sum; here go.sum is read only as its own format.
Dependencies ParseGoMod(const LockfileInput& input) {
  std::vector<Requirement> requirements;
  std::vector<Replacement> replacements;
  std::string_view block;  // the directive of the open `(` block, if any
  int block_line = 0;      // where it opened
  core::Status status = ForEachLine(input.text, [&](std::string_view text, int number) -> core::Status {
    GoModLine line = SplitLine(text, /*comments=*/true);
    if (line.words.empty()) return core::Status::Ok();
    std::string_view directive = block;
    std::vector<std::string_view> words = line.words;
    if (block.empty()) {
      if (!IsDirective(words[0])) {
        return ParseError(
            input, number,
            fmt::format("expected a go.mod directive (module, go, require, replace, ...), not `{}`",
                        words[0]));
      }
      directive = words[0];
      words.erase(words.begin());
      if (words.size() == 1 && words[0] == "(") {
        block = directive;
        block_line = number;
        return core::Status::Ok();
      }
    } else if (words.size() == 1 && words[0] == ")") {
      block = {};
      return core::Status::Ok();
    }
    if (directive == "require") {
      if (words.size() != 2) return ParseError(input, number, "expected `require module/path version`");
      requirements.push_back(
          {std::string(words[0]), std::string(words[1]), IsIndirect(line.comment), number});
    } else if (directive == "replace") {
      std::optional<Replacement> replacement = ReadReplacement(words, number);
      if (!replacement) {
        return ParseError(input, number, "expected `replace module/path [version] => replacement [version]`");
      }
      replacements.push_back(std::move(*replacement));
    }
    // module, go, toolchain, exclude, retract and the rest say nothing about what is used.
    return core::Status::Ok();
  });
  if (!status.ok()) return status;
  if (!block.empty())
    return ParseError(input, block_line, fmt::format("expected `)` to close the {} block", block));
  std::vector<LockedDependency> dependencies;
  for (const Requirement& requirement : requirements)
    dependencies.push_back(Resolve(requirement, replacements));
  return dependencies;
}

// `module version h1:hash` and `module version/go.mod h1:hash`: the second only hashes the
// module's go.mod, but that module version was still part of the build graph, so both count.
Dependencies ParseGoSum(const LockfileInput& input) {
  std::vector<LockedDependency> dependencies;
  core::Status status = ForEachLine(input.text, [&](std::string_view text, int number) -> core::Status {
    GoModLine line = SplitLine(text, /*comments=*/false);
    if (line.words.empty()) return core::Status::Ok();
    if (line.words.size() != 3 || !line.words[1].starts_with('v') ||
        line.words[2].find(':') == std::string_view::npos) {
      return ParseError(input, number, "expected `module/path version[/go.mod] h1:hash`");
    }
    std::string_view version = line.words[1];
    if (version.ends_with("/go.mod")) version.remove_suffix(std::string_view("/go.mod").size());
    dependencies.push_back(Dependency(core::Ecosystem::kGo, line.words[0], version, number));
    return core::Status::Ok();
  });
  if (!status.ok()) return status;
  return dependencies;  // the dispatcher keeps each module version once, at its first line
}

}  // namespace pkgtrust::lockfile
