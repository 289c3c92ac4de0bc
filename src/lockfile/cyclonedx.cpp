// CycloneDX JSON SBOMs (spec 1.2 to 1.6): every component that names itself with a purl,
// nested components included. The SBOM's subject (`metadata.component`) is the thing
// described, not one of its dependencies, so it is not listed. XML CycloneDX is another
// format and is refused.
#include <fmt/format.h>

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/json_document.hpp"
#include "lockfile/format_parsers.hpp"
#include "lockfile/sbom_purls.hpp"

namespace pkgtrust::lockfile {

namespace {

struct Walk {
  LineIndex& lines;
  std::size_t cursor = 0;
  std::vector<LockedDependency> dependencies;
};

// A purl that cannot be read is skipped, as a component without one is.
void AddComponent(Walk* walk, std::string_view purl_text) {
  int line = walk->lines.FindStringMember("purl", purl_text, &walk->cursor);
  core::Result<core::Purl> purl = core::ParsePurl(purl_text);
  if (!purl.ok()) return;
  LockedDependency dependency;
  dependency.purl = Respelled(std::move(*purl));
  dependency.line = line;
  walk->dependencies.push_back(std::move(dependency));
}

// Fields in document order, so that a component's purl and its nested components are met
// in the order of the text.
void WalkComponents(Walk* walk, simdjson::dom::element components, int depth) {
  simdjson::dom::array array;
  // Nesting deeper than any real SBOM is cut off rather than followed into the stack.
  if (depth > 64 || !core::AsArray(components, array)) return;
  for (simdjson::dom::element component : array) {
    simdjson::dom::object object;
    if (!core::AsObject(component, object)) continue;
    for (auto [key, value] : object) {
      std::string_view purl;
      if (key == "purl" && value.get(purl) == simdjson::SUCCESS) AddComponent(walk, purl);
      if (key == "components") WalkComponents(walk, value, depth + 1);
    }
  }
}

}  // namespace

Dependencies ParseCycloneDx(const LockfileInput& input) {
  core::JsonDocument document(input.text);
  if (!document.ok()) {
    std::size_t first = input.text.find_first_not_of(" \t\r\n\xEF\xBB\xBF");
    if (first != std::string::npos && input.text[first] == '<')
      return ParseError(input, 0,
                        "expected a CycloneDX JSON document (this is XML; CycloneDX XML is not read)");
    return InvalidJson(input, input.text, document.error(), "expected a CycloneDX JSON document");
  }
  simdjson::dom::object root;
  if (!core::AsObject(document.root(), root) || core::StringAt(document.root(), "bomFormat") != "CycloneDX")
    return ParseError(input, 0,
                      "expected a CycloneDX JSON document (an object with \"bomFormat\": \"CycloneDX\")");
  LineIndex lines(input.text);
  Walk walk{lines, 0, {}};
  for (auto [key, value] : root) {
    if (key == "metadata") {
      // Not listed, but its purl may repeat a component's: step past it in the text.
      std::string subject = core::StringAt(value["component"], "purl");
      if (!subject.empty()) lines.FindStringMember("purl", subject, &walk.cursor);
    } else if (key == "components") {
      WalkComponents(&walk, value, 0);
    }
  }
  return std::move(walk.dependencies);
}

}  // namespace pkgtrust::lockfile
