// yarn.lock in both dialects. Classic (v1, "# yarn lockfile v1") is yarn's own line
// format, not YAML: an unindented header of comma-separated descriptors ending in ':',
// then indented `key "value"` fields. Berry (Yarn 2+, with a `__metadata:` entry) is YAML:
// a mapping from descriptors to {version, resolution, ...}. Each entry is one locked
// package. The project itself (berry's `workspace:.`) is skipped; other workspace members
// are listed as kWorkspace, as in the pnpm and bun readers.
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "lockfile/format_parsers.hpp"
#include "pkgtrust/core/percent_encoding.hpp"

namespace pkgtrust::lockfile {

namespace {

bool IsHttpUrl(std::string_view text) { return text.starts_with("https://") || text.starts_with("http://"); }

// The host of "scheme://[user@]host/...", lower case is not needed: lockfiles write it so.
std::string_view HostOf(std::string_view url) {
  std::size_t scheme = url.find("://");
  if (scheme == std::string_view::npos) return {};
  std::string_view rest = url.substr(scheme + 3);
  rest = rest.substr(0, rest.find_first_of("/?#"));
  std::size_t at = rest.rfind('@');
  return at == std::string_view::npos ? rest : rest.substr(at + 1);
}

bool IsGitHost(std::string_view host) {
  return host == "github.com" || host == "gitlab.com" || host == "bitbucket.org";
}

// A git source as yarn spells it: besides npm's spellings (IsGitSpec), the shorthand
// "owner/repo#ref", a URL of a repository or a GitHub codeload archive.
bool IsYarnGitSpec(std::string_view spec) {
  if (IsGitSpec(spec)) return true;
  if (IsHttpUrl(spec)) {
    std::string_view host = HostOf(spec);
    std::string_view path = spec.substr(0, spec.find('#'));
    return host == "codeload.github.com" || IsGitHost(host) || path.ends_with(".git") ||
           spec.find("#commit=") != std::string_view::npos;
  }
  // "owner/repo" and "owner/repo#ref": no protocol, one slash, not a path.
  return !spec.empty() && spec.find(':') == std::string_view::npos &&
         spec.find('/') != std::string_view::npos && !spec.starts_with('.') && !spec.starts_with('/') &&
         !spec.starts_with('~') && !spec.starts_with('@');
}

// The repository and commit a git source names, as "<url>#<commit>": archives of GitHub and
// GitLab become their repository, berry's "#commit=<sha>" becomes "#<sha>", and a token in
// an https URL ("https://token@github.com/...") is dropped so reports do not repeat it.
std::string GitDetail(std::string_view url) {
  std::string text(url);
  if (IsHttpUrl(text)) {
    std::size_t start = text.find("://") + 3;
    std::size_t host_end = text.find_first_of("/?#", start);
    std::size_t at = text.rfind('@', host_end);
    if (at != std::string::npos && at >= start) text.erase(start, at + 1 - start);
  }
  if (std::optional<std::string> repository = RepositoryOfCodeload(text)) return std::move(*repository);
  std::size_t archive = text.find("/repository/archive");
  std::size_t ref = text.find("?ref=");
  if (archive != std::string::npos && ref != std::string::npos)  // GitLab
    return text.substr(0, archive) + "#" + text.substr(ref + 5);
  std::size_t hash = text.find('#');
  if (hash != std::string::npos) {
    std::string_view fragment = std::string_view(text).substr(hash + 1);
    for (std::string_view key : {"commit=", "commit:"}) {
      std::size_t commit = fragment.find(key);
      if (commit == std::string_view::npos) continue;
      std::string_view sha = fragment.substr(commit + key.size());
      sha = sha.substr(0, sha.find('&'));
      return text.substr(0, hash + 1) + std::string(sha);
    }
  }
  return text;
}

bool IsLocalPath(std::string_view spec) {
  return spec.starts_with("./") || spec.starts_with("../") || spec.starts_with('/') || spec.starts_with("~/");
}

// --- classic v1 ---------------------------------------------------------------------

// A quoted string ("a \"b\"") or a bare word, starting at `*pos`, which moves past it.
std::string ReadToken(std::string_view line, std::size_t* pos) {
  std::string token;
  std::size_t i = *pos;
  if (i < line.size() && line[i] == '"') {
    for (++i; i < line.size() && line[i] != '"'; ++i) {
      if (line[i] == '\\' && i + 1 < line.size()) ++i;
      token += line[i];
    }
    if (i < line.size()) ++i;  // the closing quote
  } else {
    while (i < line.size() && line[i] != ' ' && line[i] != '\t') token += line[i++];
  }
  *pos = i;
  return token;
}

// `"a@^1", a@^1.2, "b, c":` -> {"a@^1", "a@^1.2", "b, c"}.
std::vector<std::string> ReadDescriptors(std::string_view header) {
  std::vector<std::string> descriptors;
  std::string current;
  bool quoted = false;
  for (std::size_t i = 0; i < header.size(); ++i) {
    char c = header[i];
    if (quoted && c == '\\' && i + 1 < header.size()) {
      current += header[++i];
    } else if (c == '"') {
      quoted = !quoted;
    } else if (c == ',' && !quoted) {
      descriptors.push_back(std::move(current));
      current.clear();
    } else if (c != ' ' || quoted || !current.empty()) {
      current += c;
    }
  }
  while (!current.empty() && current.back() == ' ') current.pop_back();
  descriptors.push_back(std::move(current));
  return descriptors;
}

struct ClassicEntry {
  int line = 0;
  std::string descriptor;  // the first one of the header
  std::string version;
  std::string resolved;
};

// Where a v1 entry of the package `name` comes from: the range the project asked for says
// what kind of source it is (a file, a git repository, a URL); `resolved` says which
// registry served the rest.
PackageSource ClassicSource(std::string_view name, std::string_view range, std::string_view resolved) {
  if (range.starts_with("file:") || range.starts_with("link:"))
    return {Origin::kPath, std::string(range.substr(5))};
  if (IsLocalPath(range)) return {Origin::kPath, std::string(range)};
  if (IsYarnGitSpec(range) || (IsYarnGitSpec(resolved) && !IsNpmRegistryTarball(resolved, name)))
    return {Origin::kGit, GitDetail(resolved.empty() ? range : resolved)};
  if (IsHttpUrl(range)) return {Origin::kUrl, std::string(resolved.empty() ? range : resolved)};
  if (resolved.empty() || IsNpmRegistryTarball(resolved, name)) return {};
  if (resolved.starts_with("file:")) return {Origin::kPath, std::string(resolved.substr(5))};
  return {Origin::kUrl, std::string(resolved)};
}

LockedDependency ClassicDependency(const ClassicEntry& entry) {
  auto [name, range] = SplitAtVersion(entry.descriptor);
  std::string alias;
  if (range.starts_with("npm:")) {  // "my-alias@npm:real-name@^1.0.0" installs real-name
    auto [real_name, real_range] = SplitAtVersion(range.substr(4));
    if (!real_range.empty()) {
      alias = std::string(name);
      name = real_name;
      range = real_range;
    }
  }
  PackageSource source = ClassicSource(name, range, entry.resolved);
  LockedDependency dependency =
      Dependency(core::Ecosystem::kNpm, name, entry.version, entry.line, source.origin, source.detail);
  if (!alias.empty()) AppendNote(dependency.note, "alias " + alias);
  return dependency;
}

Dependencies ParseClassic(const LockfileInput& input) {
  std::vector<ClassicEntry> entries;
  std::string_view text = input.text;
  int line_number = 0;
  for (std::size_t start = 0; start < text.size();) {
    std::size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(start, end - start);
    start = end + 1;
    ++line_number;
    if (line.ends_with('\r')) line.remove_suffix(1);
    std::size_t first = line.find_first_not_of(" \t");
    if (first == std::string_view::npos || line[first] == '#') continue;
    if (first == 0) {
      if (!line.ends_with(':'))
        return ParseError(input, line_number, "expected an entry header (`name@range:`) ending in `:`");
      ClassicEntry entry;
      entry.line = line_number;
      entry.descriptor = ReadDescriptors(line.substr(0, line.size() - 1)).front();
      entries.push_back(std::move(entry));
      continue;
    }
    if (entries.empty())
      return ParseError(input, line_number, "expected an entry header before indented fields");
    if (first != 2) continue;  // deeper: the entry's dependency lists
    std::size_t pos = first;
    std::string key = ReadToken(line, &pos);
    if (key.ends_with(':')) key.pop_back();  // tolerate `version: 1.0.0`
    if (pos < line.size() && line[pos] == ':') ++pos;
    pos = line.find_first_not_of(" \t", pos);
    if (pos == std::string_view::npos) continue;  // a nested mapping follows
    std::string value = ReadToken(line, &pos);
    if (key == "version") entries.back().version = std::move(value);
    if (key == "resolved") entries.back().resolved = std::move(value);
  }
  std::vector<LockedDependency> out;
  out.reserve(entries.size());
  for (const ClassicEntry& entry : entries) out.push_back(ClassicDependency(entry));
  return out;
}

// --- berry (v2+) ----------------------------------------------------------------------

// %XX escapes decoded; the text as written when it holds a '%' that is not one.
std::string PercentDecoded(std::string_view text) {
  core::Result<std::string> decoded = core::PercentDecode(text);
  return decoded.ok() ? std::move(decoded).value() : std::string(text);
}

// "path::locator=..." and "path#path::hash=..." -> "path".
std::string_view BerryPath(std::string_view reference) {
  return reference.substr(0, std::min(reference.find("::"), reference.find('#')));
}

struct BerryPackage {
  std::string name;
  std::string version;  // from the resolution, for registry packages
  PackageSource source;
  bool patched = false;
  bool root = false;
};

// A resolution "name@<protocol>:<reference>". `patch:` wraps the resolution of the package
// it patches ("typescript@npm%3A5.0.0#..."): that package is what gets downloaded.
BerryPackage ReadResolution(std::string_view resolution, int depth = 0) {
  auto [name, reference] = SplitAtVersion(resolution);
  BerryPackage package;
  package.name = std::string(name);
  if (reference.starts_with("npm:")) {
    package.version = std::string(reference.substr(4));
  } else if (reference.starts_with("patch:") && depth < 4) {
    std::string_view inner = reference.substr(6);
    package = ReadResolution(PercentDecoded(inner.substr(0, inner.find('#'))), depth + 1);
    package.patched = true;
  } else if (reference.starts_with("workspace:")) {
    std::string_view path = reference.substr(10);
    package.source = {Origin::kWorkspace, std::string(path)};
    package.root = path == ".";
  } else if (reference.starts_with("link:") || reference.starts_with("file:") ||
             reference.starts_with("exec:")) {
    package.source = {Origin::kPath, std::string(BerryPath(reference.substr(5)))};
  } else if (reference.starts_with("portal:")) {
    package.source = {Origin::kPath, std::string(BerryPath(reference.substr(7)))};
  } else if (IsYarnGitSpec(reference)) {
    package.source = {Origin::kGit, GitDetail(reference)};
  } else {
    package.source = {Origin::kUrl, std::string(reference)};
  }
  return package;
}

Dependencies ParseBerry(const LockfileInput& input) {
  YAML::Node root;
  try {
    root = YAML::Load(input.text);
  } catch (const YAML::Exception& error) {
    return ParseError(input, error.mark.is_null() ? 0 : error.mark.line + 1, "not valid YAML: " + error.msg);
  }
  if (!root.IsMap()) return ParseError(input, 1, "expected a mapping from package descriptors to entries");
  std::vector<LockedDependency> out;
  for (const auto& member : root) {
    const YAML::Node& key = member.first;
    const YAML::Node& entry = member.second;
    int line = key.Mark().line + 1;
    if (!key.IsScalar()) return ParseError(input, line, "expected a package descriptor as key");
    if (key.Scalar() == "__metadata") continue;
    if (!entry.IsMap())
      return ParseError(input, line, "expected the fields of `" + key.Scalar() + "` (version, resolution)");
    std::string descriptor = ReadDescriptors(key.Scalar()).front();
    std::string resolution = ScalarAt(entry, "resolution");
    BerryPackage package = ReadResolution(resolution.empty() ? descriptor : resolution);
    if (package.root) continue;  // the project itself
    std::string version = ScalarAt(entry, "version");
    if (version.empty()) version = package.version;
    LockedDependency dependency = Dependency(core::Ecosystem::kNpm, package.name, version, line,
                                             package.source.origin, package.source.detail);
    std::string_view asked_name = SplitAtVersion(descriptor).first;
    if (asked_name != package.name) AppendNote(dependency.note, "alias " + std::string(asked_name));
    if (package.patched) AppendNote(dependency.note, "patched");
    out.push_back(std::move(dependency));
  }
  return out;
}

// Berry files start with comments and then `__metadata:`; classic files say so in a
// comment. A file with neither (only comments, say) is read as classic.
bool IsBerry(std::string_view text) {
  return text.starts_with("__metadata:") || text.find("\n__metadata:") != std::string_view::npos;
}

}  // namespace

Dependencies ParseYarnLock(const LockfileInput& input) {
  return IsBerry(input.text) ? ParseBerry(input) : ParseClassic(input);
}

}  // namespace pkgtrust::lockfile
