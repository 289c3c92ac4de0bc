// Maven pom.xml: the dependencies the project declares, with versions resolved as far as
// this one file allows (its `<properties>`, `${project.*}`, its own `<dependencyManagement>`).
// A pom is a manifest, not a lockfile: transitive dependencies and versions inherited from
// a parent POM that is not read here stay unknown, and say so in the note.
#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <optional>
#include <pugixml.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "lockfile/format_parsers.hpp"

namespace pkgtrust::lockfile {

namespace {

using Properties = std::map<std::string, std::string, std::less<>>;

// Properties may name properties. A chain deeper than kMaxInterpolationDepth is taken for
// a cycle. Breadth needs bounds too: eight properties that each name the previous one ten
// times expand a pom of 700 bytes to a gigabyte, so an expansion longer than
// kMaxInterpolatedSize, or needing more than kMaxSubstitutions (which also counts
// properties that expand to nothing), is not a version.
constexpr int kMaxInterpolationDepth = 16;
constexpr std::size_t kMaxInterpolatedSize = 4096;
constexpr int kMaxSubstitutions = 256;

std::string Text(const pugi::xml_node& node, const char* child) {
  return std::string(Trim(node.child(child).text().get()));
}

// Why a value could not be interpolated.
enum class Unresolved { kUndefined, kTooLarge };

class Interpolation {
 public:
  explicit Interpolation(const Properties& properties) : properties_(properties) {}

  // `text` with every `${name}` replaced, or nullopt: a name is not defined in this file (a
  // parent POM's property, a system property, a cycle) or the expansion passes the bounds.
  std::optional<std::string> Expand(std::string_view text, int depth = 0) {
    std::string out;
    while (true) {
      std::size_t open = text.find("${");
      std::size_t close = open == std::string_view::npos ? open : text.find('}', open);
      if (close == std::string_view::npos) {
        out += text;
        return out;
      }
      out += text.substr(0, open);
      if (++substitutions_ > kMaxSubstitutions) return Fail(Unresolved::kTooLarge);
      auto found = properties_.find(text.substr(open + 2, close - open - 2));
      if (found == properties_.end() || depth >= kMaxInterpolationDepth) return Fail(Unresolved::kUndefined);
      std::optional<std::string> value = Expand(found->second, depth + 1);
      if (!value) return std::nullopt;
      out += *value;
      if (out.size() > kMaxInterpolatedSize) return Fail(Unresolved::kTooLarge);
      text = text.substr(close + 1);
    }
  }

  Unresolved why() const { return why_; }

 private:
  std::nullopt_t Fail(Unresolved why) {
    why_ = why;
    return std::nullopt;
  }

  const Properties& properties_;
  int substitutions_ = 0;
  Unresolved why_ = Unresolved::kUndefined;
};

std::optional<std::string> Interpolate(std::string_view text, const Properties& properties) {
  return Interpolation(properties).Expand(text);
}

Properties ReadProperties(const pugi::xml_node& project) {
  Properties properties;
  pugi::xml_node parent = project.child("parent");
  for (const char* field : {"groupId", "artifactId", "version"}) {
    std::string own = Text(project, field);
    std::string inherited = Text(parent, field);
    // The project's groupId and version default to the parent's, as Maven does.
    std::string value = own.empty() && std::string_view(field) != "artifactId" ? inherited : own;
    properties[fmt::format("project.{}", field)] = value;
    properties[fmt::format("pom.{}", field)] = value;  // the Maven 2 spelling
    properties[fmt::format("project.parent.{}", field)] = inherited;
  }
  for (const pugi::xml_node& property : project.child("properties").children()) {
    if (property.type() == pugi::node_element)
      properties[property.name()] = std::string(Trim(property.text().get()));
  }
  return properties;
}

// The versions this file's `<dependencyManagement>` sets, by "group:artifact" as written
// after interpolation (an `import` scope entry is a BOM to read, not a version to use).
std::map<std::string, std::string> ReadManagedVersions(const pugi::xml_node& project,
                                                       const Properties& properties) {
  std::map<std::string, std::string> managed;
  for (const pugi::xml_node& dependency :
       project.child("dependencyManagement").child("dependencies").children("dependency")) {
    std::optional<std::string> group = Interpolate(Text(dependency, "groupId"), properties);
    std::optional<std::string> artifact = Interpolate(Text(dependency, "artifactId"), properties);
    std::string version = Text(dependency, "version");
    if (group && artifact && !version.empty())
      managed.emplace(fmt::format("{}:{}", *group, *artifact), version);
  }
  return managed;
}

// A Maven version range: "[1.2.3]" pins one version; any other range is resolved by Maven
// against the repository at build time, so the file does not say which version is used.
// (scalibr takes a range's lower bound; a risk check would then report a version that may
// not be the one built, so the version is left empty and the range kept in the note.)
std::optional<std::string> PinnedVersion(const std::string& version) {
  if (version.empty() || (version.front() != '[' && version.front() != '(')) return version;
  if (version.size() > 2 && version.front() == '[' && version.back() == ']' &&
      version.find(',') == std::string::npos)
    return version.substr(1, version.size() - 2);
  return std::nullopt;
}

struct PomContext {
  const LineIndex& lines;
  const std::map<std::string, std::string>& managed;
};

void ReadDependencies(const PomContext& context, const pugi::xml_node& dependencies,
                      const Properties& properties, std::string_view extra_note,
                      std::vector<LockedDependency>* out) {
  for (const pugi::xml_node& element : dependencies.children("dependency")) {
    std::string group = Interpolate(Text(element, "groupId"), properties).value_or(Text(element, "groupId"));
    std::string artifact =
        Interpolate(Text(element, "artifactId"), properties).value_or(Text(element, "artifactId"));
    // Maven rejects a dependency without both; there is no package to name.
    if (group.empty() || artifact.empty()) continue;
    std::string note;
    std::string raw_version = Text(element, "version");
    if (raw_version.empty()) {
      auto managed = context.managed.find(fmt::format("{}:{}", group, artifact));
      if (managed != context.managed.end()) raw_version = managed->second;
    }
    std::string version;
    Interpolation interpolation(properties);
    if (raw_version.empty()) {
      note = "version managed by the parent POM";
    } else if (std::optional<std::string> resolved = interpolation.Expand(raw_version); !resolved) {
      note = interpolation.why() == Unresolved::kTooLarge
                 ? fmt::format("version {} expands past {} characters or {} properties; not read",
                               raw_version, kMaxInterpolatedSize, kMaxSubstitutions)
                 : fmt::format("version {} is not defined in this file", raw_version);
    } else if (std::optional<std::string> pinned = PinnedVersion(*resolved); !pinned) {
      note = fmt::format("version range {}", *resolved);
    } else {
      version = std::move(*pinned);
    }
    std::string scope = Interpolate(Text(element, "scope"), properties).value_or("");
    if (scope != "compile") AppendNote(note, scope);
    if (Text(element, "optional") == "true") AppendNote(note, "optional");
    AppendNote(note, extra_note);
    int line = element.offset_debug() >= 0
                   ? context.lines.LineAt(static_cast<std::size_t>(element.offset_debug()))
                   : 0;
    // A system-scope jar is read from the disk, not from a repository.
    std::string system_path = scope == "system" ? Text(element, "systemPath") : std::string();
    LockedDependency dependency =
        system_path.empty()
            ? Dependency(core::Ecosystem::kMaven, fmt::format("{}:{}", group, artifact), version, line)
            : Dependency(core::Ecosystem::kMaven, fmt::format("{}:{}", group, artifact), version, line,
                         Origin::kPath, system_path);
    dependency.note = std::move(note);
    out->push_back(std::move(dependency));
  }
}

}  // namespace

// The project itself and its `<parent>` are not dependencies; nor are build plugins and
// their dependencies (they run at build time and are declared apart). Dependencies of
// profiles are listed with the profile named, as a profile may be active in the build.
// Type and classifier do not change the package, so they are not part of the purl.
Dependencies ParsePomXml(const LockfileInput& input) {
  pugi::xml_document document;
  pugi::xml_parse_result parsed =
      document.load_buffer(input.text.data(), input.text.size(), pugi::parse_default);
  LineIndex lines(input.text);
  if (parsed.status == pugi::status_no_document_element)
    return ParseError(input, 0, "expected a Maven POM (a <project> element)");
  if (!parsed) {
    int line = parsed.offset >= 0 ? lines.LineAt(static_cast<std::size_t>(parsed.offset)) : 0;
    return ParseError(input, line, fmt::format("not valid XML: {}", parsed.description()));
  }
  pugi::xml_node project = document.document_element();
  if (std::string_view(project.name()) != "project") {
    return ParseError(
        input, lines.LineAt(static_cast<std::size_t>(std::max<std::ptrdiff_t>(0, project.offset_debug()))),
        fmt::format("expected a Maven POM (a <project> element), not <{}>", project.name()));
  }
  Properties properties = ReadProperties(project);
  std::map<std::string, std::string> managed = ReadManagedVersions(project, properties);
  PomContext context{lines, managed};
  std::vector<LockedDependency> dependencies;
  ReadDependencies(context, project.child("dependencies"), properties, {}, &dependencies);
  for (const pugi::xml_node& profile : project.child("profiles").children("profile")) {
    Properties profile_properties = properties;
    for (const pugi::xml_node& property : profile.child("properties").children()) {
      if (property.type() == pugi::node_element)
        profile_properties[property.name()] = std::string(Trim(property.text().get()));
    }
    ReadDependencies(context, profile.child("dependencies"), profile_properties,
                     fmt::format("profile {}", Text(profile, "id")), &dependencies);
  }
  return dependencies;
}

}  // namespace pkgtrust::lockfile
