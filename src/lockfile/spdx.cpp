// SPDX 2.2 and 2.3 JSON SBOMs: every package with a `purl` external reference. A package
// named only by a CPE or a download location has no package URL to check, so it is
// skipped. Tag-value, YAML, RDF and SPDX 3 documents are other formats and are refused.
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

constexpr std::string_view kExpected = "expected an SPDX JSON document";

// The package's first purl reference. The category is not checked: writers file purls
// under PACKAGE-MANAGER, PACKAGE_MANAGER or even SECURITY.
std::string PurlOf(simdjson::dom::element package) {
  simdjson::dom::array references;
  if (!core::AsArray(package["externalRefs"], references)) return {};
  for (simdjson::dom::element reference : references) {
    if (core::StringAt(reference, "referenceType") == "purl")
      return core::StringAt(reference, "referenceLocator");
  }
  return {};
}

}  // namespace

// Every package with a purl is listed, the document's own subject included when it has
// one (SPDX does not mark it apart from its contents the way CycloneDX's metadata does).
Dependencies ParseSpdx(const LockfileInput& input) {
  core::JsonDocument document(input.text);
  if (!document.ok()) {
    // Name the encodings SPDX also comes in, so the message says what to do.
    std::string_view text = input.text;
    std::string_view found = text.find("SPDXVersion:") != std::string_view::npos   ? "tag-value"
                             : text.find("<rdf:RDF") != std::string_view::npos     ? "RDF/XML"
                             : text.find("spdxVersion:") != std::string_view::npos ? "YAML"
                                                                                   : "";
    if (!found.empty())
      return ParseError(input, 0, fmt::format("{} (this is SPDX {}, which is not read)", kExpected, found));
    return InvalidJson(input, input.text, document.error(), kExpected);
  }
  simdjson::dom::object root;
  if (!core::AsObject(document.root(), root) ||
      !core::StringAt(document.root(), "spdxVersion").starts_with("SPDX-2."))
    return ParseError(input, 0, fmt::format("{} (an object with \"spdxVersion\": \"SPDX-2.x\")", kExpected));
  LineIndex lines(input.text);
  std::vector<LockedDependency> dependencies;
  simdjson::dom::array packages;
  if (!core::AsArray(document.root()["packages"], packages)) return dependencies;
  std::size_t cursor = 0;
  for (simdjson::dom::element package : packages) {
    std::string purl_text = PurlOf(package);
    if (purl_text.empty()) continue;
    core::Result<core::Purl> purl = core::ParsePurl(purl_text);
    if (!purl.ok()) continue;  // one unreadable reference does not hide the other packages
    LockedDependency dependency;
    dependency.purl = Respelled(std::move(*purl));
    // At its `"SPDXID": "<id>"`. The same identifier in `documentDescribes` or a
    // relationship is not that member's value and is passed over.
    std::string id = core::StringAt(package, "SPDXID");
    if (!id.empty()) dependency.line = lines.FindStringMember("SPDXID", id, &cursor);
    dependencies.push_back(std::move(dependency));
  }
  return dependencies;
}

}  // namespace pkgtrust::lockfile
