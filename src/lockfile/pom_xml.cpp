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

// Properties may name properties; deeper chains than this are taken for a cycle.
constexpr int kMaxInterpolationDepth = 16;

std::string Trimmed(std::string_view text) {
  constexpr std::string_view kSpaces = " \t\r\n";
  std::size_t begin = text.find_first_not_of(kSpaces);
  if (begin == std::string_view::npos) return {};
  return std::string(text.substr(begin, text.find_last_not_of(kSpaces) - begin + 1));
}

std::string Text(const pugi::xml_node& node, const char* child) {
  return Trimmed(node.child(child).text().get());
}

// `text` with every `${name}` replaced, or nullopt (and `*missing` the first name that is
// not defined in this file: a parent POM's property, a system property, a cycle).
std::optional<std::string> Interpolate(std::string_view text, const Properties& properties,
                                       std::string* missing, int depth = 0) {
  std::string out;
  while (true) {
    std::size_t open = text.find("${");
    std::size_t close = open == std::string_view::npos ? open : text.find('}', open);
    if (close == std::string_view::npos) {
      out += text;
      return out;
    }
    out += text.substr(0, open);
    std::string_view name = text.substr(open + 2, close - open - 2);
    auto found = properties.find(name);
    std::optional<std::string> value;
    if (found != properties.end() && depth < kMaxInterpolationDepth)
      value = Interpolate(found->second, properties, missing, depth + 1);
    if (!value) {
      if (missing->empty()) *missing = std::string(name);
      return std::nullopt;
    }
    out += *value;
    text = text.substr(close + 1);
  }
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
    if (property.type() == pugi::node_element) properties[property.name()] = Trimmed(property.text().get());
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
    std::string missing;
    std::optional<std::string> group = Interpolate(Text(dependency, "groupId"), properties, &missing);
    std::optional<std::string> artifact = Interpolate(Text(dependency, "artifactId"), properties, &missing);
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
    std::string missing;
    std::string group =
        Interpolate(Text(element, "groupId"), properties, &missing).value_or(Text(element, "groupId"));
    std::string artifact =
        Interpolate(Text(element, "artifactId"), properties, &missing).value_or(Text(element, "artifactId"));
    // Maven rejects a dependency without both; there is no package to name.
    if (group.empty() || artifact.empty()) continue;
    std::string note;
    std::string raw_version = Text(element, "version");
    if (raw_version.empty()) {
      auto managed = context.managed.find(fmt::format("{}:{}", group, artifact));
      if (managed != context.managed.end()) raw_version = managed->second;
    }
    std::string version;
    missing.clear();
    if (raw_version.empty()) {
      note = "version managed by the parent POM";
    } else if (std::optional<std::string> resolved = Interpolate(raw_version, properties, &missing);
               !resolved) {
      note = fmt::format("version {} is not defined in this file", raw_version);
    } else if (std::optional<std::string> pinned = PinnedVersion(*resolved); !pinned) {
      note = fmt::format("version range {}", *resolved);
    } else {
      version = std::move(*pinned);
    }
    std::string scope = Interpolate(Text(element, "scope"), properties, &missing).value_or("");
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
        profile_properties[property.name()] = Trimmed(property.text().get());
    }
    ReadDependencies(context, profile.child("dependencies"), profile_properties,
                     fmt::format("profile {}", Text(profile, "id")), &dependencies);
  }
  return dependencies;
}

}  // namespace pkgtrust::lockfile
