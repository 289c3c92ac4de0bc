// The parser of each format and the small pieces they share. Private to lockfile/: the
// dispatcher (lockfile.cpp) sets each dependency's file and deduplicates.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "pkgtrust/core/ecosystem.hpp"
#include "pkgtrust/lockfile/lockfile.hpp"

namespace pkgtrust::lockfile {

using Dependencies = core::Result<std::vector<LockedDependency>>;

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

// Line numbers for byte offsets of one text (the JSON readers know offsets, not lines).
class LineIndex {
 public:
  explicit LineIndex(std::string_view text);
  // 1-based line of the byte at `offset` (offsets past the end: the last line).
  int LineAt(std::size_t offset) const;
  // The line of the first occurrence of `needle` at or after `*from`, which moves past it;
  // 0 (and `*from` unchanged) when there is none.
  int FindLine(std::string_view needle, std::size_t* from) const;

 private:
  std::string_view text_;
  std::vector<std::size_t> line_starts_;
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

// Whether an http(s) URL is a tarball laid out as npm registries lay them out,
// "<registry>/<name>/-/<file>.tgz". npmjs.org and yarnpkg.com do, and so do the mirrors and
// company registries (Artifactory, Nexus, Verdaccio, GitLab's) that serve npm's packages:
// judging by the host instead would make every package of a company that installs through
// a mirror a URL dependency, which a check skips. A tarball URL outside that layout
// ("https://example.com/pkg.tgz") is not a registry's.
bool IsNpmRegistryTarball(std::string_view url);

}  // namespace pkgtrust::lockfile
