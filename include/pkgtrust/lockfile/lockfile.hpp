// Lockfiles, manifests and SBOMs read into the packages they lock: text in, purls out.
// `pkgtrust check` and POST /v1/check read a repository's files through here; nothing
// here fetches or scores (docs/check.md lists the formats and what each contributes).
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pkgtrust/core/purl.hpp"
#include "pkgtrust/core/status.hpp"

namespace pkgtrust::lockfile {

enum class Format {
  kPackageLock,     // package-lock.json, npm-shrinkwrap.json (lockfileVersion 1, 2, 3)
  kYarnLock,        // yarn.lock, classic v1 and berry
  kPnpmLock,        // pnpm-lock.yaml, lockfileVersion 5.x to 9
  kBunLock,         // bun.lock (JSON with trailing commas)
  kRequirements,    // requirements*.txt (pinned ==, -r includes)
  kPoetryLock,      // poetry.lock
  kPipfileLock,     // Pipfile.lock
  kUvLock,          // uv.lock
  kPdmLock,         // pdm.lock
  kPylock,          // pylock.toml, pylock.*.toml (PEP 751)
  kCargoLock,       // Cargo.lock
  kGoMod,           // go.mod (its go.sum is not needed)
  kGoSum,           // go.sum, read alone when no go.mod is beside it
  kPomXml,          // pom.xml (declared dependencies, properties of the same file)
  kGradleLockfile,  // gradle.lockfile, *.lockfile of Gradle
  kCycloneDx,       // CycloneDX JSON SBOM (*.cdx.json, bom.json)
  kSpdx,            // SPDX JSON SBOM (*.spdx.json)
};

inline constexpr Format kAllFormats[] = {
    Format::kPackageLock, Format::kYarnLock,    Format::kPnpmLock, Format::kBunLock, Format::kRequirements,
    Format::kPoetryLock,  Format::kPipfileLock, Format::kUvLock,   Format::kPdmLock, Format::kPylock,
    Format::kCargoLock,   Format::kGoMod,       Format::kGoSum,    Format::kPomXml,  Format::kGradleLockfile,
    Format::kCycloneDx,   Format::kSpdx};

// The name `--format` takes and output shows: "package-lock", "yarn", "pnpm", "bun",
// "requirements", "poetry", "pipfile", "uv", "pdm", "pylock", "cargo", "gomod", "gosum",
// "pom", "gradle", "cyclonedx", "spdx".
std::string_view FormatName(Format format);
std::optional<Format> FormatFromName(std::string_view name);
// The format a file's name says it has (the last path segment), or nullopt.
std::optional<Format> DetectFormat(std::string_view path);

// Where a locked package comes from. Only kRegistry packages are looked up.
enum class Origin { kRegistry, kGit, kPath, kUrl, kWorkspace };
std::string_view OriginName(Origin origin);  // "registry", "git", "path", "url", "workspace"

struct LockedDependency {
  // type, namespace, name and version. The five scored ecosystems' types ("npm", "pypi",
  // "cargo", "maven", "golang") with names as their registry spells them; an SBOM may bring
  // other types ("composer", "deb"), which are listed but not scored.
  core::Purl purl;
  Origin origin = Origin::kRegistry;
  std::string origin_detail;  // the git URL (and commit), the path or the URL
  std::string file;           // the file it was read from, as named (an included one's for `-r`)
  int line = 0;               // 1-based line where it is locked; 0 when unknown
  std::string note;           // what the file says about it: "dev", environment markers, ...
};

struct LockfileInput {
  std::string path;  // as named on the command line or found by the walk
  std::string text;
  // Reads another file named relative to `path`'s folder (requirements' `-r`), or fails.
  // Empty: includes are an error.
  std::function<core::Result<std::string>(const std::string& relative)> read_relative;
};

// The packages a file locks, deduplicated (the same purl from the same source once, at its first
// line), in the order of the file. A file that cannot be read as its format is
// InvalidArgument "<path>:<line>: <what was expected>" (line omitted when unknown).
core::Result<std::vector<LockedDependency>> ParseLockfile(Format format, const LockfileInput& input);

}  // namespace pkgtrust::lockfile
