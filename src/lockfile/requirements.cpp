// pip's requirements.txt, read by hand as pip reads it: `\` joins lines, `#` after
// whitespace starts a comment, options such as `--hash` follow a requirement, `-r FILE`
// includes another file. Only `name==version` (or `===`) pins a version; every other
// requirement is listed without one, since a check cannot judge a version nobody locked.
#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "lockfile/format_parsers.hpp"

namespace pkgtrust::lockfile {

namespace {

// Deeper than any real project nests requirement files; stops includes whose names grow
// without repeating (`sub/r.txt` including `sub/r.txt` names `sub/sub/r.txt`, ...).
constexpr int kMaxIncludeDepth = 32;
constexpr std::string_view kExpectedRequirement = "expected a requirement such as `name==1.0`";
constexpr std::string_view kNotPinned = "not pinned";

// Options pip accepts on a line of their own that say nothing about which packages are
// installed (indexes, binary preferences, hash checking).
// clang-format off
constexpr std::string_view kGlobalOptions[] = {
    "-i", "--index-url", "--extra-index-url", "--no-index", "-f", "--find-links",
    "--no-binary", "--only-binary", "--prefer-binary", "--require-hashes", "--pre", "--trusted-host",
    "--use-feature", "--global-option", "--config-settings", "-C", "--install-option", "--hash"};
// clang-format on

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v'; }

// pip's comment rule: `#` at the start or after whitespace; `sha256:abc#` is not one.
std::size_t CommentStart(std::string_view line) {
  for (std::size_t i = 0; i < line.size(); ++i)
    if (line[i] == '#' && (i == 0 || IsSpace(line[i - 1]))) return i;
  return std::string_view::npos;
}

struct LogicalLine {
  std::string text;  // continuations joined, comment removed, trimmed
  int line = 0;      // its first physical line
};

// As pip's join_lines: a line ending in `\` continues on the next one, unless it holds a
// comment (which would swallow the backslash). A `\` on the last line ends the file.
std::vector<LogicalLine> LogicalLines(std::string_view text) {
  std::vector<LogicalLine> lines;
  std::string pending;
  int pending_line = 0;
  int number = 0;
  for (std::size_t start = 0; start < text.size();) {
    std::size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(start, end - start);
    start = end + 1;
    ++number;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (pending_line == 0) pending_line = number;
    std::size_t comment = CommentStart(line);
    if (comment == std::string_view::npos && !line.empty() && line.back() == '\\') {
      line.remove_suffix(1);
      pending.append(line);
      continue;
    }
    pending.append(line.substr(0, comment));
    std::string_view joined = Trim(pending);
    if (!joined.empty()) lines.push_back({std::string(joined), pending_line});
    pending.clear();
    pending_line = 0;
  }
  if (!Trim(pending).empty()) lines.push_back({std::string(Trim(pending)), pending_line});
  return lines;
}

// "--requirement=a.txt" -> {"--requirement", "a.txt"}; "-ra.txt" -> {"-r", "a.txt"}.
std::pair<std::string_view, std::string_view> SplitOption(std::string_view line) {
  std::size_t name_end = 2;
  if (line.starts_with("--")) {
    while (name_end < line.size() && !IsSpace(line[name_end]) && line[name_end] != '=') ++name_end;
  }
  name_end = std::min(name_end, line.size());
  std::string_view value = line.substr(name_end);
  if (!value.empty() && value.front() == '=') value.remove_prefix(1);
  return {line.substr(0, name_end), Trim(value)};
}

bool IsNameChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
}

std::string_view StripArchiveExtension(std::string_view file) {
  for (std::string_view extension : {".whl", ".tar.gz", ".tar.bz2", ".tgz", ".zip", ".tar"})
    if (file.ends_with(extension)) return file.substr(0, file.size() - extension.size());
  return file;
}

bool IsArchive(std::string_view file) { return StripArchiveExtension(file).size() != file.size(); }

// A requirement written as a URL or a path rather than a name (`./pkg`, `https://...whl`).
bool LooksLikeUrlOrPath(std::string_view requirement) {
  // `name @ URL` and `name[extra]@URL` are names with a direct reference.
  std::size_t at = 0;
  while (at < requirement.size() && IsNameChar(requirement[at])) ++at;
  std::string_view rest = Trim(requirement.substr(at));
  if (rest.starts_with('[')) rest = Trim(rest.substr(std::min(rest.find(']'), rest.size() - 1) + 1));
  if (at > 0 && rest.starts_with('@')) return false;
  std::string_view first = requirement.substr(0, requirement.find_first_of(" \t;"));
  return first.starts_with('.') || first.starts_with('~') || first.find('/') != std::string_view::npos ||
         first.find('\\') != std::string_view::npos || first.find("://") != std::string_view::npos ||
         IsArchive(first);
}

struct Source {
  Origin origin = Origin::kUrl;
  std::string detail;
  std::string name;     // from `#egg=`, the archive's file name or the last path segment
  std::string version;  // from a wheel's or sdist's file name
};

// Where a URL or path requirement comes from, and the name and version it shows.
Source ReadSource(std::string_view location, bool editable) {
  Source source;
  std::string_view fragment;
  if (std::size_t hash = location.find('#'); hash != std::string_view::npos) {
    fragment = location.substr(hash + 1);
    location = location.substr(0, hash);
  }
  if (std::size_t egg = fragment.find("egg="); egg != std::string_view::npos) {
    std::string_view name = fragment.substr(egg + 4);
    source.name = std::string(name.substr(0, name.find('&')));
  }
  std::string_view ref;
  if (location.starts_with("git+")) {
    // "git+https://host/repo.git@v1.0": the ref follows the last path segment (an `@`
    // before it is the user of "git+ssh://git@host/...").
    location.remove_prefix(4);
    std::size_t at = location.rfind('@');
    if (at != std::string_view::npos && at > location.rfind('/')) {
      ref = location.substr(at + 1);
      location = location.substr(0, at);
    }
    source.origin = Origin::kGit;
    source.detail = ref.empty() ? std::string(location) : fmt::format("{}#{}", location, ref);
  } else if (location.starts_with("file:")) {
    source.origin = Origin::kPath;
    source.detail = std::string(location);
  } else if (location.find("://") != std::string_view::npos) {
    source.origin = Origin::kUrl;  // an archive, or another VCS (hg+, svn+, bzr+)
    source.detail = std::string(location);
  } else {
    // A local folder or archive; editable folders are the project's own code.
    source.origin = editable ? Origin::kWorkspace : Origin::kPath;
    source.detail = std::string(location);
  }

  std::string_view path = location.substr(0, location.find('?'));
  while (path.ends_with('/') || path.ends_with('\\')) path.remove_suffix(1);
  std::string_view last =
      path.substr(path.find_last_of("/\\") == std::string_view::npos ? 0 : path.find_last_of("/\\") + 1);
  if (IsArchive(last)) {
    // Wheels are "name-version-tags.whl" with '-' escaped in the name, so the first '-'
    // ends it; sdists are "name-version.tar.gz", where an old name may hold '-' but a
    // version never does, so the last '-' ends it.
    std::string_view stem = StripArchiveExtension(last);
    std::size_t dash = last.ends_with(".whl") ? stem.find('-') : stem.rfind('-');
    if (dash != std::string_view::npos) {
      std::string_view version = stem.substr(dash + 1);
      if (last.ends_with(".whl")) version = version.substr(0, version.find('-'));
      if (source.name.empty()) source.name = std::string(stem.substr(0, dash));
      source.version = std::string(version);
    }
  }
  if (source.name.empty() && last != "." && last != "..") {
    if (last.ends_with(".git")) last.remove_suffix(4);
    source.name = std::string(StripArchiveExtension(last));
  }
  return source;
}

struct Requirement {
  std::string name;
  std::string version;  // empty unless pinned
  std::string note;
  Origin origin = Origin::kRegistry;
  std::string detail;
};

// Notes join with "; ", as requirements.txt writes a marker after its requirement: a
// marker may itself hold commas (`python_version in "3.8, 3.9"`).
constexpr std::string_view kNoteSeparator = "; ";

// The pinned version among comma-separated clauses (`== 1.0`, `===1.0`), or empty. A
// wildcard (`==2.8.*`) or an environment variable (`==${V}`) pins nothing we can check.
// Text after a clause's version is not part of it (`==1.0 junk`): it goes to `ignored`.
std::optional<std::string> PinnedVersion(std::string_view specifiers, std::string& ignored) {
  constexpr std::string_view kOperators[] = {"===", "==", "!=", "~=", ">=", "<=", ">", "<"};
  std::string pinned;
  while (!specifiers.empty()) {
    std::size_t comma = specifiers.find(',');
    std::string_view clause = Trim(specifiers.substr(0, comma));
    specifiers = comma == std::string_view::npos ? std::string_view() : specifiers.substr(comma + 1);
    std::string_view op;
    for (std::string_view candidate : kOperators) {
      if (clause.starts_with(candidate)) {
        op = candidate;
        break;
      }
    }
    if (op.empty()) return std::nullopt;
    std::string_view version = Trim(clause.substr(op.size()));
    std::size_t space = version.find_first_of(" \t");
    if (space != std::string_view::npos) {
      ignored = std::string(Trim(version.substr(space)));
      version = version.substr(0, space);
    }
    bool exact = op == "===" || (op == "==" && version.find('*') == std::string_view::npos);
    if (exact && version.find("${") == std::string_view::npos && !version.empty())
      pinned = std::string(version);
  }
  return pinned;
}

// One requirement (options already cut off), or nullopt when it is not one. A local
// folder without a name of its own (`-e .`) is named after the folder it stands for,
// from `folder` (the requirements file's); the name stays empty when that is unknown too.
std::optional<Requirement> ReadRequirement(std::string_view text, bool editable,
                                           const std::filesystem::path& folder) {
  Requirement requirement;
  if (text.empty()) return std::nullopt;  // `-e` without a location
  if (editable || LooksLikeUrlOrPath(text)) {
    std::string_view location = text.substr(0, text.find_first_of(" \t;"));
    std::string_view marker = Trim(text.substr(location.size()));
    if (marker.starts_with(';')) marker = Trim(marker.substr(1));
    Source source = ReadSource(location, editable);
    if (source.name.empty() && (source.origin == Origin::kPath || source.origin == Origin::kWorkspace)) {
      std::filesystem::path path = (folder / std::filesystem::path(location)).lexically_normal();
      if (path.filename().empty()) path = path.parent_path();
      std::string last = path.filename().generic_string();
      if (last != "." && last != "..") source.name = last;
    } else if (source.name.empty()) {
      return std::nullopt;
    }
    requirement = {source.name, source.version, {}, source.origin, source.detail};
    if (editable) AppendNote(requirement.note, "editable", kNoteSeparator);
    AppendNote(requirement.note, marker, kNoteSeparator);
    return requirement;
  }

  std::size_t at = 0;
  while (at < text.size() && IsNameChar(text[at])) ++at;
  if (at == 0 || !std::isalnum(static_cast<unsigned char>(text[0]))) return std::nullopt;
  requirement.name = std::string(text.substr(0, at));
  std::string_view rest = Trim(text.substr(at));
  if (rest.starts_with('[')) {
    std::size_t close = rest.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    rest = Trim(rest.substr(close + 1));
  }
  std::string_view marker;
  if (std::size_t semicolon = rest.find(';'); semicolon != std::string_view::npos) {
    marker = Trim(rest.substr(semicolon + 1));
    rest = Trim(rest.substr(0, semicolon));
  }
  if (rest.starts_with('@')) {
    // PEP 508 direct reference: `name @ https://...`.
    std::string_view location = Trim(rest.substr(1));
    if (location.empty()) return std::nullopt;
    Source source = ReadSource(location.substr(0, location.find_first_of(" \t")), false);
    requirement.origin = source.origin;
    requirement.detail = source.detail;
    requirement.version = source.version;
  } else {
    if (rest.starts_with('(') && rest.ends_with(')')) rest = Trim(rest.substr(1, rest.size() - 2));
    std::string ignored;
    std::optional<std::string> pinned = PinnedVersion(rest, ignored);
    if (!pinned) return std::nullopt;
    requirement.version = std::move(*pinned);
    if (requirement.version.empty()) AppendNote(requirement.note, kNotPinned, kNoteSeparator);
    if (!ignored.empty())
      AppendNote(requirement.note, fmt::format("ignored text: {}", ignored), kNoteSeparator);
  }
  AppendNote(requirement.note, marker, kNoteSeparator);
  return requirement;
}

// Per-requirement options (`--hash=...`, `-C x`) start at the first whitespace-led `-`;
// a `-` inside a name (`foo-Client`, `foo--hash`) does not.
std::string_view CutOptions(std::string_view line) {
  for (std::size_t i = 1; i < line.size(); ++i)
    if (line[i] == '-' && IsSpace(line[i - 1])) return Trim(line.substr(0, i));
  return line;
}

bool IsGlobalOption(std::string_view name) {
  for (std::string_view option : kGlobalOptions)
    if (name == option) return true;
  return false;
}

class RequirementsReader {
 public:
  explicit RequirementsReader(const LockfileInput& input) : input_(input) {}

  // Reads the top file; included files are read as their `-r` lines come.
  Dependencies ReadAll() {
    std::string self = std::filesystem::path(input_.path).filename().generic_string();
    read_.insert(self);
    core::Status status = Read(input_.text, self, input_.path, 0);
    if (!status.ok()) return status;
    return std::move(dependencies_);
  }

 private:
  // Reads one file's text; `relative` names it from the top file's folder (for further
  // includes), `shown` as messages and LockedDependency::file name it.
  core::Status Read(std::string_view text, const std::string& relative, const std::string& shown, int depth) {
    LockfileInput named;  // only its path: ParseError names the file being read
    named.path = shown;
    for (const LogicalLine& line : LogicalLines(text)) {
      std::string_view content = line.text;
      bool editable = false;
      if (content.starts_with('-')) {
        auto [option, value] = SplitOption(content);
        if (option == "-r" || option == "--requirement") {
          core::Status status = Include(value, relative, named, line.line, depth);
          if (!status.ok()) return status;
          continue;
        }
        // A constraints file only limits the versions of what other lines ask for; its
        // entries are not installed by themselves, so it is not read.
        if (option == "-c" || option == "--constraint" || IsGlobalOption(option)) continue;
        if (option != "-e" && option != "--editable") {
          return ParseError(
              named, line.line,
              fmt::format("expected a requirement or a pip option such as `-r FILE`, got `{}`", content));
        }
        editable = true;
        content = value;
      }
      std::string_view requirement_text = CutOptions(content);
      std::optional<Requirement> requirement =
          ReadRequirement(requirement_text, editable, std::filesystem::path(shown).parent_path());
      if (!requirement)
        return ParseError(named, line.line,
                          fmt::format("{}, got `{}`", kExpectedRequirement, requirement_text));
      if (requirement->name.empty()) continue;  // `-e .` of a file named without its folder
      LockedDependency dependency =
          Dependency(core::Ecosystem::kPypi, requirement->name, requirement->version, line.line,
                     requirement->origin, requirement->detail);
      dependency.note = std::move(requirement->note);
      if (depth > 0) dependency.file = shown;
      dependencies_.push_back(std::move(dependency));
    }
    return core::Status::Ok();
  }

  core::Status Include(std::string_view name, const std::string& from, const LockfileInput& named, int line,
                       int depth) {
    if (name.empty()) return ParseError(named, line, "expected a file name after `-r`");
    if (name.find("://") != std::string_view::npos)
      return ParseError(named, line, fmt::format("expected a local file after `-r`, got the URL `{}`", name));
    std::filesystem::path relative_path =
        (std::filesystem::path(from).parent_path() / std::filesystem::path(name)).lexically_normal();
    std::string relative = relative_path.generic_string();
    // An include loop (a.txt -> b.txt -> a.txt), or a file included twice, adds no
    // packages the first reading did not; so a file already read is not read again,
    // and a loop simply ends there (pip itself would recurse until it fails).
    if (!read_.insert(relative).second) return core::Status::Ok();
    if (depth + 1 > kMaxIncludeDepth)
      return ParseError(named, line,
                        fmt::format("expected at most {} nested `-r` includes", kMaxIncludeDepth));
    if (!input_.read_relative)
      return ParseError(named, line,
                        fmt::format("cannot read `-r {}`: no other files are available here", name));
    core::Result<std::string> text = input_.read_relative(relative);
    if (!text.ok())
      return ParseError(named, line, fmt::format("cannot read `-r {}`: {}", name, text.status().message()));
    std::string shown = (std::filesystem::path(input_.path).parent_path() / relative_path)
                            .lexically_normal()
                            .generic_string();
    // An error inside names both places: "top.txt:3: included.txt:7: expected ...".
    return Read(*text, relative, shown, depth + 1).WithContext(fmt::format("{}:{}", named.path, line));
  }

  const LockfileInput& input_;
  std::set<std::string> read_;  // files read so far, named from the top file's folder
  std::vector<LockedDependency> dependencies_;
};

}  // namespace

Dependencies ParseRequirements(const LockfileInput& input) { return RequirementsReader(input).ReadAll(); }

}  // namespace pkgtrust::lockfile
