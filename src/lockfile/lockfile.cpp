#include "pkgtrust/lockfile/lockfile.hpp"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cstdint>
#include <nlohmann/json.hpp>
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
static_assert(std::size(kFormats) == std::size(kAllFormats), "every Format needs a FormatInfo");

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

namespace {

constexpr std::string_view kJsonSpaces = " \t\r\n";

thread_local std::size_t bytes_searched = 0;

// Appends the UTF-8 bytes of `code_point`.
void AppendUtf8(std::uint32_t code_point, std::string* out) {
  if (code_point < 0x80) {
    *out += static_cast<char>(code_point);
  } else if (code_point < 0x800) {
    *out += static_cast<char>(0xC0 | (code_point >> 6));
    *out += static_cast<char>(0x80 | (code_point & 0x3F));
  } else if (code_point < 0x10000) {
    *out += static_cast<char>(0xE0 | (code_point >> 12));
    *out += static_cast<char>(0x80 | ((code_point >> 6) & 0x3F));
    *out += static_cast<char>(0x80 | (code_point & 0x3F));
  } else {
    *out += static_cast<char>(0xF0 | (code_point >> 18));
    *out += static_cast<char>(0x80 | ((code_point >> 12) & 0x3F));
    *out += static_cast<char>(0x80 | ((code_point >> 6) & 0x3F));
    *out += static_cast<char>(0x80 | (code_point & 0x3F));
  }
}

bool ReadHex4(std::string_view text, std::size_t at, std::uint32_t* value) {
  if (at + 4 > text.size()) return false;
  *value = 0;
  for (char c : text.substr(at, 4)) {
    int digit = c >= '0' && c <= '9'   ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                       : -1;
    if (digit < 0) return false;
    *value = *value * 16 + static_cast<std::uint32_t>(digit);
  }
  return true;
}

// Whether the JSON string whose text starts at `at` (after its opening quote) decodes to
// `value`. Decoding stops once it is longer than `value`.
bool StringEquals(std::string_view text, std::size_t at, std::string_view value) {
  std::string decoded;
  while (at < text.size() && decoded.size() <= value.size()) {
    char c = text[at++];
    if (c == '"') return decoded == value;
    if (c != '\\') {
      decoded += c;
      continue;
    }
    if (at >= text.size()) return false;
    char escape = text[at++];
    std::uint32_t code_point = 0;
    switch (escape) {
      case 'b':
        decoded += '\b';
        break;
      case 'f':
        decoded += '\f';
        break;
      case 'n':
        decoded += '\n';
        break;
      case 'r':
        decoded += '\r';
        break;
      case 't':
        decoded += '\t';
        break;
      case 'u': {
        if (!ReadHex4(text, at, &code_point)) return false;
        at += 4;
        std::uint32_t low = 0;
        if (code_point >= 0xD800 && code_point < 0xDC00 && text.substr(at, 2) == "\\u" &&
            ReadHex4(text, at + 2, &low) && low >= 0xDC00 && low < 0xE000) {
          code_point = 0x10000 + ((code_point - 0xD800) << 10) + (low - 0xDC00);
          at += 6;
        }
        AppendUtf8(code_point, &decoded);
        break;
      }
      default:
        decoded += escape;  // '"', '\\' and '/'
    }
  }
  return false;
}

// Records where the parse stopped and why; builds nothing, so a large file costs no DOM.
class SyntaxErrorSax : public nlohmann::json_sax<nlohmann::json> {
 public:
  bool null() override { return true; }
  bool boolean(bool) override { return true; }
  bool number_integer(number_integer_t) override { return true; }
  bool number_unsigned(number_unsigned_t) override { return true; }
  bool number_float(number_float_t, const string_t&) override { return true; }
  bool string(string_t&) override { return true; }
  bool binary(binary_t&) override { return true; }
  bool start_object(std::size_t) override { return true; }
  bool key(string_t&) override { return true; }
  bool end_object() override { return true; }
  bool start_array(std::size_t) override { return true; }
  bool end_array() override { return true; }
  bool parse_error(std::size_t position, const std::string&,
                   const nlohmann::json::exception& error) override {
    failed = true;
    byte = position;
    // "[json.exception.parse_error.101] parse error at line 3, column 5: syntax error while
    // parsing object - unexpected '}'; expected string literal": the part after the position.
    std::string_view message = error.what();
    std::size_t column = message.find(", column ");
    std::size_t colon = column == std::string_view::npos ? column : message.find(": ", column);
    what = colon == std::string_view::npos ? message : message.substr(colon + 2);
    return false;
  }

  bool failed = false;
  std::size_t byte = 0;  // 1-based: the count of bytes read up to the error
  std::string what;
};

}  // namespace

// Twice the text, so that a few keys written with escapes do not cost the lines of all the
// members after them; the floor does the same for small texts.
LineIndex::LineIndex(std::string_view text) : text_(text), failed_search_budget_(2 * text.size() + 65536) {
  line_starts_.push_back(0);
  for (std::size_t i = text.find('\n'); i != std::string_view::npos; i = text.find('\n', i + 1))
    line_starts_.push_back(i + 1);
}

int LineIndex::LineAt(std::size_t offset) const {
  auto it = std::upper_bound(line_starts_.begin(), line_starts_.end(), offset);
  return static_cast<int>(it - line_starts_.begin());
}

template <typename AcceptValue>
int LineIndex::FindMemberWhere(std::string_view key, std::size_t* from, AcceptValue accept) {
  if (failed_search_budget_ == 0 || *from > text_.size()) return 0;
  std::string needle = fmt::format("\"{}\"", key);
  for (std::size_t at = *from;;) {
    std::size_t found = text_.find(needle, at);
    if (found == std::string_view::npos) {
      std::size_t scanned = text_.size() - *from;
      bytes_searched += scanned;
      failed_search_budget_ -= std::min(failed_search_budget_, scanned);
      return 0;
    }
    at = found + needle.size();
    // A key is followed by its colon; a string value or an array element that spells the
    // key is not, and is passed over.
    std::size_t colon = text_.find_first_not_of(kJsonSpaces, at);
    if (colon == std::string_view::npos || text_[colon] != ':') continue;
    std::size_t value = text_.find_first_not_of(kJsonSpaces, colon + 1);
    if (value == std::string_view::npos || !accept(value)) continue;
    bytes_searched += value - *from;
    *from = value + 1;
    return LineAt(found);
  }
}

int LineIndex::FindMember(std::string_view key, char opener, std::size_t* from) {
  return FindMemberWhere(key, from, [&](std::size_t value) { return opener == 0 || text_[value] == opener; });
}

int LineIndex::FindStringMember(std::string_view key, std::string_view value, std::size_t* from) {
  return FindMemberWhere(
      key, from, [&](std::size_t at) { return text_[at] == '"' && StringEquals(text_, at + 1, value); });
}

std::size_t LineIndex::BytesSearchedOnThisThread() { return bytes_searched; }

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

bool IsNpmRegistryTarball(std::string_view url, std::string_view name) {
  std::size_t scheme = url.starts_with("https://") ? 8 : url.starts_with("http://") ? 7 : 0;
  std::size_t path_start = scheme == 0 ? std::string_view::npos : url.find('/', scheme);
  if (path_start == std::string_view::npos || name.empty()) return false;
  std::string_view path = url.substr(path_start);
  path = path.substr(0, path.find_first_of("?#"));  // yarn v1 appends "#<sha1>"
  std::size_t dash = path.rfind("/-/");
  if (dash == std::string_view::npos) return false;
  std::string_view folder = path.substr(0, dash);
  std::string_view file = path.substr(dash + 3);
  std::size_t slash = name.starts_with('@') ? name.find('/') : std::string_view::npos;
  std::string_view unscoped = slash == std::string_view::npos ? name : name.substr(slash + 1);

  bool in_folder = folder.ends_with(fmt::format("/{}", name));
  if (in_folder && slash == std::string_view::npos) {
    // Not ".../@other/name/-/...", the tarball of another package.
    std::string_view parent = folder.substr(0, folder.size() - name.size() - 1);
    in_folder = !parent.substr(parent.rfind('/') + 1).starts_with('@');
  }
  if (!in_folder && slash != std::string_view::npos) {
    // "/@scope%2fname": compare the encoded slash without regard to case.
    std::string_view scope = name.substr(0, slash);
    std::string encoded = fmt::format("/{}%2f{}", scope, unscoped);
    if (folder.size() >= encoded.size()) {
      std::string tail(folder.substr(folder.size() - encoded.size()));
      std::size_t percent = scope.size() + 1;
      if (tail.compare(percent, 3, "%2F") == 0) tail[percent + 2] = 'f';
      in_folder = tail == encoded;
    }
  }
  if (!in_folder || !file.ends_with(".tgz")) return false;
  file.remove_suffix(4);
  // "<unscoped>-<version>", or GitLab's "@scope/name-<version>".
  for (std::string_view prefix : {unscoped, name}) {
    if (file.size() > prefix.size() + 1 && file.starts_with(prefix) && file[prefix.size()] == '-')
      return true;
  }
  return false;
}

bool IsGitSpec(std::string_view spec) {
  for (std::string_view prefix :
       {"git+", "git:", "git@", "ssh:", "github:", "gitlab:", "bitbucket:", "gist:"}) {
    if (spec.starts_with(prefix)) return true;
  }
  return false;
}

std::optional<std::string> RepositoryOfCodeload(std::string_view url) {
  constexpr std::string_view kCodeload = "https://codeload.github.com/";
  if (!url.starts_with(kCodeload)) return std::nullopt;
  std::string_view rest = url.substr(kCodeload.size());
  std::size_t archive = rest.find("/tar.gz/");
  if (archive == std::string_view::npos) return std::nullopt;
  return fmt::format("https://github.com/{}#{}", rest.substr(0, archive), rest.substr(archive + 8));
}

std::string_view Trim(std::string_view text) {
  constexpr std::string_view kSpaces = " \t\r\n\f\v";
  std::size_t begin = text.find_first_not_of(kSpaces);
  if (begin == std::string_view::npos) return {};
  return text.substr(begin, text.find_last_not_of(kSpaces) - begin + 1);
}

std::string ScalarAt(const YAML::Node& map, const char* key) {
  if (!map.IsDefined() || !map.IsMap()) return {};  // a missing key reads as an invalid node
  const YAML::Node value = map[key];
  return value.IsDefined() && value.IsScalar() ? value.Scalar() : std::string();
}

bool IsPypiIndex(std::string_view url) {
  while (url.ends_with('/')) url.remove_suffix(1);
  return url == "https://pypi.org/simple";
}

core::Status InvalidJson(const LockfileInput& input, std::string_view json, std::string_view simdjson_error,
                         std::string_view expected) {
  JsonSyntaxError error = FindJsonSyntaxError(json, simdjson_error);
  if (expected.empty()) return ParseError(input, error.line, "not valid JSON: " + error.what);
  return ParseError(input, error.line, fmt::format("{} (not valid JSON: {})", expected, error.what));
}

std::pair<std::string_view, std::string_view> SplitAtVersion(std::string_view text) {
  std::size_t at = text.find('@', text.starts_with('@') ? 1 : 0);
  if (at == std::string_view::npos) return {text, {}};
  return {text.substr(0, at), text.substr(at + 1)};
}

JsonSyntaxError FindJsonSyntaxError(std::string_view json, std::string_view simdjson_error) {
  SyntaxErrorSax sax;
  try {
    nlohmann::json::sax_parse(json.begin(), json.end(), &sax);
  } catch (const nlohmann::json::exception&) {
    // Errors reach SyntaxErrorSax::parse_error; this is only in case one does not.
  }
  if (!sax.failed) return {0, std::string(simdjson_error)};
  LineIndex lines(json);
  return {lines.LineAt(sax.byte == 0 ? 0 : sax.byte - 1), std::move(sax.what)};
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
