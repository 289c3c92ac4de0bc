// The parser of each format and the small pieces they share. Private to lockfile/: the
// dispatcher (lockfile.cpp) sets each dependency's file and deduplicates.
#pragma once

#include <algorithm>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "pkgtrust/core/ecosystem.hpp"
#include "pkgtrust/lockfile/lockfile.hpp"

namespace YAML {
class Node;
}

namespace pkgtrust::lockfile {

using Dependencies = core::Result<std::vector<LockedDependency>>;

// Where a lockfile says its package comes from, and what else to note about it.
struct PackageSource {
  Origin origin = Origin::kRegistry;
  std::string detail;  // LockedDependency::origin_detail
  std::string note;
};

Dependencies ParsePackageLock(const LockfileInput& input);
Dependencies ParseYarnLock(const LockfileInput& input);
Dependencies ParsePnpmLock(const LockfileInput& input);
Dependencies ParseBunLock(const LockfileInput& input);
Dependencies ParseRequirements(const LockfileInput& input);
Dependencies ParsePoetryLock(const LockfileInput& input);
Dependencies ParsePipfileLock(const LockfileInput& input);
Dependencies ParseUvLock(const LockfileInput& input);
Dependencies ParsePdmLock(const LockfileInput& input);
Dependencies ParsePylock(const LockfileInput& input);
Dependencies ParseCargoLock(const LockfileInput& input);
Dependencies ParseGoMod(const LockfileInput& input);
Dependencies ParseGoSum(const LockfileInput& input);
Dependencies ParsePomXml(const LockfileInput& input);
Dependencies ParseGradleLockfile(const LockfileInput& input);
Dependencies ParseCycloneDx(const LockfileInput& input);
Dependencies ParseSpdx(const LockfileInput& input);

// Line numbers for byte offsets of one text (the JSON readers know offsets, not lines), and
// the search that finds a JSON reader's members in the text. Not safe for concurrent use
// (searches spend a budget).
class LineIndex {
 public:
  explicit LineIndex(std::string_view text);
  // 1-based line of the byte at `offset` (offsets past the end: the last line).
  int LineAt(std::size_t offset) const;

  // The line of the next JSON object member `"key": <value>` at or after `*from`, whose
  // value starts with `opener` ('{', '['; 0 for any value); `*from` moves into that value.
  // simdjson keeps no offsets, so the readers walk the DOM in the order of the text and
  // search each member from where the previous one was found. The key is matched as
  // written: one written with escapes ("node_modules\/a") is not found, and the answer is
  // 0 with `*from` unchanged.
  int FindMember(std::string_view key, char opener, std::size_t* from);
  // The same for a member whose value is the string `value`, compared decoded: writers
  // escape differently ("\/" from PHP, "\u0026" from Go).
  int FindStringMember(std::string_view key, std::string_view value, std::size_t* from);

  // Bytes the searches of every LineIndex on this thread have looked at. For tests, which
  // count work instead of timing it.
  static std::size_t BytesSearchedOnThisThread();

 private:
  template <typename AcceptValue>
  int FindMemberWhere(std::string_view key, std::size_t* from, AcceptValue accept);

  std::string_view text_;
  std::vector<std::size_t> line_starts_;
  // What searches that find nothing may still scan. Each of them reads the rest of the
  // text, so a file of escaped keys would cost a scan per entry (quadratic: half a minute
  // for 20,000 entries); once the budget is spent, every search answers 0 at once.
  std::size_t failed_search_budget_;
};

// A package from one of the five scored ecosystems' registries. `name` as the lockfile
// spells it (npm "@scope/name", maven "group:artifact", go the module path); pypi names
// are normalized as the pypi purl type asks (PEP 503).
LockedDependency Dependency(core::Ecosystem ecosystem, std::string_view name, std::string_view version,
                            int line, Origin origin = Origin::kRegistry, std::string_view origin_detail = {});

// InvalidArgument "<path>:<line>: <what>" (without the line when it is 0).
core::Status ParseError(const LockfileInput& input, int line, std::string_view what);

// Adds `fact` to a LockedDependency::note, after `separator` when the note has some already
// (requirements.txt's notes use "; ": they hold markers); an empty `fact` adds nothing.
void AppendNote(std::string& note, std::string_view fact, std::string_view separator = ", ");

// Whether an http(s) URL is the tarball of the npm package `name` ("@scope/name" or
// "name") laid out as npm registries lay them out: a path ending
// "/<name>/-/<unscoped name>-<version>.tgz" (the scope's slash may be written "%2f", and
// GitLab's registry writes the scoped name in the file part too). npmjs.org and
// yarnpkg.com do, and so do the mirrors and company registries (Artifactory, Nexus,
// Verdaccio, GitLab's) that serve npm's packages: judging by the host instead would make
// every package of a company that installs through a mirror a URL dependency, which a
// check skips. Any other URL is not a registry's: "https://example.com/pkg.tgz", or a
// GitLab archive ("https://gitlab.com/a/lib/-/archive/v1/lib-v1.tar.gz"), whose "/-/" is
// not followed by the package's tarball.
bool IsNpmRegistryTarball(std::string_view url, std::string_view name);

// A git source in the spellings npm, yarn and bun write: "git+https://", "git://",
// "git@host:", "ssh://", and the hosted shorthands "github:", "gitlab:", "bitbucket:",
// "gist:". (yarn's lockfiles also write repository URLs and "owner/repo"; yarn_lock.cpp
// adds those.)
bool IsGitSpec(std::string_view spec);

// "https://codeload.github.com/<owner>/<repo>/tar.gz/<commit>", the archive GitHub
// shorthands resolve to, as the repository and commit it is:
// "https://github.com/<owner>/<repo>#<commit>"; nullopt for any other URL.
std::optional<std::string> RepositoryOfCodeload(std::string_view url);

// `text` without the spaces, tabs, line breaks, form feeds and vertical tabs around it.
std::string_view Trim(std::string_view text);

// The scalar at `key` of a YAML mapping; empty when `map` is not a mapping or the value is
// missing or not a scalar (yarn berry, pnpm).
std::string ScalarAt(const YAML::Node& map, const char* key);

// Whether an index URL (uv.lock, pylock.toml, Pipfile.lock) is PyPI's, with or without
// trailing slashes.
bool IsPypiIndex(std::string_view url);

// The first line and what was expected where `json` (which simdjson refused) stops being
// JSON. nlohmann's parser is run for this: it keeps the offset simdjson does not give.
// Should it accept the text (simdjson refuses some valid documents, nesting deeper than
// it allows), the line is 0 and `what` is `simdjson_error`.
struct JsonSyntaxError {
  int line = 0;
  std::string what;
};
JsonSyntaxError FindJsonSyntaxError(std::string_view json, std::string_view simdjson_error);

// The ParseError for `json` (the text of `input`, or what it was made into) that simdjson
// refused: "not valid JSON: <what>" at the line FindJsonSyntaxError finds, or, with
// `expected`, "<expected> (not valid JSON: <what>)".
core::Status InvalidJson(const LockfileInput& input, std::string_view json, std::string_view simdjson_error,
                         std::string_view expected = {});

// "@scope/name@spec" -> {"@scope/name", "spec"}: split at the first '@' after a scope's.
// Without such an '@' (a bare "name"), the name is all of `text` and the spec is empty.
std::pair<std::string_view, std::string_view> SplitAtVersion(std::string_view text);

// Calls `visit(line, number)` (a core::Status) for each line of `text`, numbered from 1,
// stopping at the first error.
template <typename Visit>
core::Status ForEachLine(std::string_view text, Visit visit) {
  int number = 0;
  for (std::size_t start = 0; start <= text.size();) {
    std::size_t end = std::min(text.find('\n', start), text.size());
    if (core::Status status = visit(text.substr(start, end - start), ++number); !status.ok()) return status;
    start = end + 1;
  }
  return core::Status::Ok();
}

}  // namespace pkgtrust::lockfile
