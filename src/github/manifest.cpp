#include "pkgtrust/github/manifest.hpp"

#include <openssl/evp.h>

#include <optional>
#include <pugixml.hpp>

#include "core/json_document.hpp"
#include "pkgtrust/core/package_name.hpp"

namespace pkgtrust::github {
namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

bool IsWordChar(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-'; }

// A quoted string at the start of `s` ("..." or '...'), or nullopt.
std::optional<std::string> Quoted(std::string_view s) {
  if (s.empty() || (s.front() != '"' && s.front() != '\'')) return std::nullopt;
  std::size_t end = s.find(s.front(), 1);
  if (end == std::string_view::npos) return std::nullopt;
  return std::string(s.substr(1, end - 1));
}

// The value of `key = ...` in one of `sections` of a TOML or INI file: the quoted string
// (TOML) or the rest of the line (INI, `quoted` false). Enough for a manifest's name; a
// real TOML parser would be needed for anything nested.
std::string KeyInSection(std::string_view text, std::initializer_list<std::string_view> sections,
                         std::string_view key, bool quoted) {
  std::string_view section;
  bool wanted = false;
  while (!text.empty()) {
    std::size_t newline = text.find('\n');
    std::string_view line = Trim(text.substr(0, newline));
    text = newline == std::string_view::npos ? std::string_view() : text.substr(newline + 1);
    if (line.starts_with("[")) {
      std::size_t close = line.find(']');
      section = line.starts_with("[[") || close == std::string_view::npos ? std::string_view()
                                                                          : Trim(line.substr(1, close - 1));
      wanted = false;
      for (std::string_view s : sections) wanted = wanted || section == s;
      continue;
    }
    if (!wanted || !line.starts_with(key)) continue;
    std::string_view rest = Trim(line.substr(key.size()));
    if (rest.empty() || (rest.front() != '=' && rest.front() != ':')) continue;  // "name_x = ..."
    rest = Trim(rest.substr(1));
    if (quoted) {
      if (auto value = Quoted(rest)) return *value;
      return {};  // `name.workspace = true`, a variable: not readable here
    }
    std::size_t comment = rest.find(" #");
    return std::string(Trim(rest.substr(0, comment)));
  }
  return {};
}

// setup.py: the first literal `name="..."` (a whole word, so `package_name = ...` is not it),
// after `setup(` when the file has one.
std::string SetupPyName(std::string_view text) {
  std::size_t from = text.find("setup(");
  if (from == std::string_view::npos) from = 0;
  for (std::size_t at = text.find("name", from); at != std::string_view::npos;
       at = text.find("name", at + 4)) {
    if (at > 0 && (IsWordChar(text[at - 1]) || text[at - 1] == '.')) continue;
    if (at + 4 < text.size() && IsWordChar(text[at + 4])) continue;
    std::string_view rest = Trim(text.substr(at + 4));
    if (rest.empty() || rest.front() != '=' || rest.starts_with("==")) continue;
    if (auto value = Quoted(Trim(rest.substr(1)))) return *value;
  }
  return {};
}

std::string PomName(std::string_view text) {
  pugi::xml_document doc;
  if (!doc.load_buffer(text.data(), text.size())) return {};
  pugi::xml_node project = doc.child("project");
  std::string artifact(Trim(project.child_value("artifactId")));
  std::string group(Trim(project.child_value("groupId")));
  if (group.empty()) group = Trim(project.child("parent").child_value("groupId"));
  if (artifact.empty() || group.empty()) return {};
  return group + ":" + artifact;
}

std::string GoModName(std::string_view text) {
  while (!text.empty()) {
    std::size_t newline = text.find('\n');
    std::string_view line = Trim(text.substr(0, newline));
    text = newline == std::string_view::npos ? std::string_view() : text.substr(newline + 1);
    if (!line.starts_with("module") || line.size() < 7 || (line[6] != ' ' && line[6] != '\t')) continue;
    std::string_view rest = Trim(line.substr(7));
    if (auto quoted = Quoted(rest)) return *quoted;
    return std::string(Trim(rest.substr(0, rest.find("//"))));
  }
  return {};
}

std::string Join(std::string_view directory, std::string_view file) {
  std::string out(directory);
  while (!out.empty() && out.back() == '/') out.pop_back();
  while (!out.empty() && out.front() == '/') out.erase(0, 1);
  return out.empty() ? std::string(file) : out + "/" + std::string(file);
}

// Base64 as the contents API sends it (with line breaks); nullopt when it is not base64.
std::optional<std::string> DecodeBase64(std::string_view text) {
  std::string out(text.size() / 4 * 3 + 4, '\0');
  EVP_ENCODE_CTX* ctx = EVP_ENCODE_CTX_new();
  if (!ctx) return std::nullopt;
  EVP_DecodeInit(ctx);
  int written = 0, final_written = 0;
  bool ok = EVP_DecodeUpdate(ctx, reinterpret_cast<unsigned char*>(out.data()), &written,
                             reinterpret_cast<const unsigned char*>(text.data()),
                             static_cast<int>(text.size())) >= 0 &&
            EVP_DecodeFinal(ctx, reinterpret_cast<unsigned char*>(out.data()) + written, &final_written) >= 0;
  EVP_ENCODE_CTX_free(ctx);
  if (!ok) return std::nullopt;
  out.resize(static_cast<std::size_t>(written + final_written));
  return out;
}

}  // namespace

core::Result<std::string> ContentsFileText(std::string_view body) {
  core::JsonDocument doc(body);
  core::JsonValue j = doc.root();
  if (!j.is_object()) return core::Status::InvalidArgument("the contents answer is not a JSON object");
  if (std::string type = core::StringAt(j, "type"); type != "file")
    return core::Status::InvalidArgument("not a file (" + type + ")");
  if (core::StringAt(j, "encoding") != "base64")  // "none": over 1 MB, the API sends no content
    return core::Status::InvalidArgument("the file is too large for the contents API");
  auto text = DecodeBase64(core::StringAt(j, "content"));
  if (!text) return core::Status::InvalidArgument("the file's content is not valid base64");
  return std::move(*text);
}

std::vector<std::string> ManifestPaths(const core::PackageKey& package, std::string_view subdirectory) {
  const std::string& name = package.name;
  std::string last =
      name.substr(name.find_last_of("/:") == std::string::npos ? 0 : name.find_last_of("/:") + 1);
  std::vector<std::string> paths;
  auto add = [&](std::string path) {
    for (const std::string& p : paths)
      if (p == path) return;
    paths.push_back(std::move(path));
  };
  switch (package.ecosystem) {
    case core::Ecosystem::kNpm:
      add(Join(subdirectory, "package.json"));
      if (subdirectory.empty()) add("packages/" + last + "/package.json");  // the usual monorepo layout
      break;
    case core::Ecosystem::kPypi:
      for (const char* file : {"pyproject.toml", "setup.cfg", "setup.py"}) add(Join(subdirectory, file));
      break;
    case core::Ecosystem::kCrates: {
      add(Join(subdirectory, "Cargo.toml"));
      if (subdirectory.empty()) {  // a workspace with the crate in a folder of its name
        add(name + "/Cargo.toml");
        std::string underscored = name;
        for (char& c : underscored)
          if (c == '-') c = '_';
        add(underscored + "/Cargo.toml");
      }
      break;
    }
    case core::Ecosystem::kMaven:
      add(Join(subdirectory, "pom.xml"));
      if (subdirectory.empty()) add(last + "/pom.xml");  // a multi-module build
      break;
    case core::Ecosystem::kGo:
      add(Join(subdirectory, "go.mod"));
      // github.com/o/r/v2 may live in the repository's v2/ folder.
      if (subdirectory.empty() && last.size() >= 2 && last[0] == 'v' &&
          last.find_first_not_of("0123456789", 1) == std::string::npos)
        add(last + "/go.mod");
      break;
  }
  return paths;
}

std::string DeclaredPackageName(std::string_view path, std::string_view text) {
  std::string_view file =
      path.substr(path.find_last_of('/') == std::string_view::npos ? 0 : path.find_last_of('/') + 1);
  if (file == "package.json") {
    core::JsonDocument doc(text);
    return core::StringAt(doc.root(), "name");
  }
  if (file == "pyproject.toml") return KeyInSection(text, {"project", "tool.poetry"}, "name", true);
  if (file == "setup.cfg") return KeyInSection(text, {"metadata"}, "name", false);
  if (file == "setup.py") return SetupPyName(text);
  if (file == "Cargo.toml") return KeyInSection(text, {"package"}, "name", true);
  if (file == "pom.xml") return PomName(text);
  if (file == "go.mod") return GoModName(text);
  return {};
}

bool DeclaresPackage(const core::PackageKey& package, std::string_view declared) {
  if (declared.empty()) return false;
  auto normalized = core::NormalizePackageName(package.ecosystem, declared);
  return normalized.ok() && *normalized == package.name;
}

}  // namespace pkgtrust::github
