// The PyPI side of the gateway's metadata: a project's simple-index page, read from the
// upstream as PEP 691 JSON, filtered by the policy version by version, its file URLs
// rewritten to go through the gateway, and written in the form the client asked for: PEP 503
// HTML or PEP 691 JSON (pip, uv and poetry ask for JSON first). Hashes, `requires-python`,
// PEP 592 yanked marks and PEP 658/714 metadata marks are kept.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "pkgtrust/core/clock.hpp"
#include "pkgtrust/core/status.hpp"
#include "pkgtrust/gateway/policy.hpp"

namespace pkgtrust::gateway {

enum class PypiForm { kHtml, kJson };

// PEP 691 content negotiation: the form the Accept header rates highest (by its q values;
// JSON when they tie, as PyPI does); HTML when it names neither.
PypiForm PypiFormFor(std::string_view accept);
// The Content-Type of the answer: PEP 691's JSON type; for HTML, PEP 691's HTML type when
// the client named it, else "text/html" (pip before 22.2 asks for text/html and refuses
// anything else).
std::string_view PypiContentType(PypiForm form, std::string_view accept);

// The version a distribution file belongs to: the longest of `versions` that follows the
// project's name in `filename` (the name compared normalized, as PEP 503 does), or, without
// a list, the wheel's second field or what follows the name in an sdist. Empty when the
// file does not start with the project's name.
std::string PypiFileVersion(std::string_view project, std::string_view filename,
                            const std::vector<std::string>& versions = {});

struct FileDecision {
  std::string filename;
  std::string version;
  Decision decision;
};

struct PypiIndex {
  std::string body;
  std::vector<FileDecision> removed;  // files taken out, with why
  std::vector<FileDecision> warned;   // files kept with a warning (or a block in monitor mode)
  std::size_t kept = 0;               // files left
  // When the policy refuses every file, they stay listed as yanked with the refusal as the
  // reason (pip and uv print it; their downloads answer 403): how many. Still in `removed`.
  std::size_t yanked_refused = 0;
};

// `decide` is asked for each file with its version and its own upload time (PyPI lets new
// files join an old release), and for each listed version with its first upload (whether it
// stays in "versions"); each pair once. A file no listed version claims is removed (rule
// "unknown_version"), as is one whose URL does not start with `files_base` (rule
// "file_host"); kept files get `gateway_files_base` instead. With nothing left but files the
// policy refused, those are listed as yanked (see PypiIndex::yanked_refused).
core::Result<PypiIndex> FilterPypiIndex(
    std::string_view upstream, PypiForm form, std::string_view files_base,
    std::string_view gateway_files_base,
    const std::function<Decision(std::string_view version, core::Millis published)>& decide);

}  // namespace pkgtrust::gateway
