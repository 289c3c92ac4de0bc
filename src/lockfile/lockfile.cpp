#include "pkgtrust/lockfile/lockfile.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <set>
#include <tuple>
#include <utility>

#include "lockfile/format_parsers.hpp"
#include "pkgtrust/core/package_name.hpp"

namespace pkgtrust::lockfile {

namespace {

struct FormatInfo {
  Format format;
  std::string_view name;
  Dependencies (*parse)(const LockfileInput&);
};

constexpr FormatInfo kFormats[] = {
    {Format::kPackageLock, "package-lock", ParsePackageLock},
    {Format::kYarnLock, "yarn", ParseYarnLock},
    {Format::kPnpmLock, "pnpm", ParsePnpmLock},
    {Format::kBunLock, "bun", ParseBunLock},
    {Format::kRequirements, "requirements", ParseRequirements},
    {Format::kPoetryLock, "poetry", ParsePoetryLock},
    {Format::kPipfileLock, "pipfile", ParsePipfileLock},
    {Format::kUvLock, "uv", ParseUvLock},
    {Format::kPdmLock, "pdm", ParsePdmLock},
    {Format::kPylock, "pylock", ParsePylock},
    {Format::kCargoLock, "cargo", ParseCargoLock},
    {Format::kGoMod, "gomod", ParseGoMod},
    {Format::kGoSum, "gosum", ParseGoSum},
    {Format::kPomXml, "pom", ParsePomXml},
    {Format::kGradleLockfile, "gradle", ParseGradleLockfile},
    {Format::kCycloneDx, "cyclonedx", ParseCycloneDx},
    {Format::kSpdx, "spdx", ParseSpdx},
};

const FormatInfo& InfoOf(Format format) {
  for (const FormatInfo& info : kFormats)
    if (info.format == format) return info;
  return kFormats[0];  // unreachable: every Format is listed
}

}  // namespace

std::string_view FormatName(Format format) { return InfoOf(format).name; }

std::optional<Format> FormatFromName(std::string_view name) {
  for (const FormatInfo& info : kFormats)
    if (info.name == name) return info.format;
  return std::nullopt;
}

std::optional<Format> DetectFormat(std::string_view path) {
  std::size_t slash = path.find_last_of('/');
  std::string_view file = slash == std::string_view::npos ? path : path.substr(slash + 1);
  std::string_view folder = slash == std::string_view::npos ? std::string_view() : path.substr(0, slash);
  folder =
      folder.substr(folder.find_last_of('/') == std::string_view::npos ? 0 : folder.find_last_of('/') + 1);
  if (file == "package-lock.json" || file == "npm-shrinkwrap.json") return Format::kPackageLock;
  if (file == "yarn.lock") return Format::kYarnLock;
  if (file == "pnpm-lock.yaml") return Format::kPnpmLock;
  if (file == "bun.lock") return Format::kBunLock;
  if (file == "poetry.lock") return Format::kPoetryLock;
  if (file == "Pipfile.lock") return Format::kPipfileLock;
  if (file == "uv.lock") return Format::kUvLock;
  if (file == "pdm.lock") return Format::kPdmLock;
  if (file == "pylock.toml" || (file.starts_with("pylock.") && file.ends_with(".toml")))
    return Format::kPylock;
  if (file == "Cargo.lock") return Format::kCargoLock;
  if (file == "go.mod") return Format::kGoMod;
  if (file == "go.sum") return Format::kGoSum;
  if (file == "pom.xml") return Format::kPomXml;
  if (file == "gradle.lockfile" || file.ends_with("-gradle.lockfile")) return Format::kGradleLockfile;
  if (file == "bom.json" || file.ends_with(".cdx.json") || file.ends_with(".bom.json"))
    return Format::kCycloneDx;
  if (file.ends_with(".spdx.json")) return Format::kSpdx;
  // pip-compile's habits: requirements.txt, requirements-dev.txt, dev-requirements.txt,
  // and any .txt in a folder named requirements (requirements/main.txt).
  if (file.ends_with(".txt") &&
      (file.starts_with("requirements") || file.ends_with("requirements.txt") || folder == "requirements"))
    return Format::kRequirements;
  return std::nullopt;
}

std::string_view OriginName(Origin origin) {
  switch (origin) {
    case Origin::kRegistry:
      return "registry";
    case Origin::kGit:
      return "git";
    case Origin::kPath:
      return "path";
    case Origin::kUrl:
      return "url";
    case Origin::kWorkspace:
      return "workspace";
  }
  return "registry";
}

LineIndex::LineIndex(std::string_view text) : text_(text) {
  line_starts_.push_back(0);
  for (std::size_t i = text.find('\n'); i != std::string_view::npos; i = text.find('\n', i + 1))
    line_starts_.push_back(i + 1);
}

int LineIndex::LineAt(std::size_t offset) const {
  auto it = std::upper_bound(line_starts_.begin(), line_starts_.end(), offset);
  return static_cast<int>(it - line_starts_.begin());
}

int LineIndex::FindLine(std::string_view needle, std::size_t* from) const {
  std::size_t at = text_.find(needle, *from);
  if (at == std::string_view::npos) return 0;
  *from = at + needle.size();
  return LineAt(at);
}

LockedDependency Dependency(core::Ecosystem ecosystem, std::string_view name, std::string_view version,
                            int line, Origin origin, std::string_view origin_detail) {
  std::string spelled(name);
  if (ecosystem == core::Ecosystem::kPypi) {
    auto normalized = core::NormalizePackageName(ecosystem, name);
    if (normalized.ok()) spelled = *normalized;
  }
  LockedDependency dependency;
  dependency.purl = core::PurlFromPackageKey({ecosystem, std::move(spelled)}, version);
  dependency.origin = origin;
  dependency.origin_detail = std::string(origin_detail);
  dependency.line = line;
  return dependency;
}

core::Status ParseError(const LockfileInput& input, int line, std::string_view what) {
  if (line <= 0) return core::Status::InvalidArgument(fmt::format("{}: {}", input.path, what));
  return core::Status::InvalidArgument(fmt::format("{}:{}: {}", input.path, line, what));
}

void AppendNote(std::string& note, std::string_view fact, std::string_view separator) {
  if (fact.empty()) return;
  if (!note.empty()) note += separator;
  note += fact;
}

bool IsNpmRegistryTarball(std::string_view url) {
  return (url.starts_with("https://") || url.starts_with("http://")) &&
         url.find("/-/") != std::string_view::npos;
}

core::Result<std::vector<LockedDependency>> ParseLockfile(Format format, const LockfileInput& input) {
  Dependencies parsed = InfoOf(format).parse(input);
  if (!parsed.ok()) return parsed.status();
  std::vector<LockedDependency> unique;
  // The source is part of the key: packages of one name locked from different commits,
  // paths or URLs (bun's aliases of three git commits, whose purls have no version) are
  // different code, and each needs its own verdict.
  std::set<std::tuple<std::string, Origin, std::string>> seen;
  for (LockedDependency& dependency : *parsed) {
    if (!seen.emplace(core::FormatPurl(dependency.purl), dependency.origin, dependency.origin_detail).second)
      continue;
    if (dependency.file.empty()) dependency.file = input.path;  // an included file names itself
    unique.push_back(std::move(dependency));
  }
  return unique;
}

}  // namespace pkgtrust::lockfile
