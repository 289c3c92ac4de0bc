// The npm side of the gateway's metadata: an upstream packument filtered by the policy and
// rewritten so that its tarballs are fetched through the gateway, in the form the client
// asked for (npm's registry API: the full document, or the abbreviated "corgi" one that
// `npm install` asks for with `Accept: application/vnd.npm.install-v1+json`).
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "pkgtrust/core/clock.hpp"
#include "pkgtrust/core/status.hpp"
#include "pkgtrust/gateway/policy.hpp"

namespace pkgtrust::gateway {

enum class NpmForm { kFull, kAbbreviated };

// The abbreviated form when the Accept header names it (npm sends it with a quality after
// `application/json`); the full form otherwise.
NpmForm NpmFormFor(std::string_view accept);

struct VersionDecision {
  std::string version;
  Decision decision;
};

struct NpmMetadata {
  std::string body;                      // the packument for the client (minified JSON)
  std::vector<VersionDecision> removed;  // versions taken out, with why
  std::vector<VersionDecision> warned;   // versions kept with a warning (or a block in monitor mode)
  std::size_t kept = 0;                  // versions left; 0: the package answers 403
};

// Filters `upstream` (a full packument) version by version with `decide` (the version and
// its publish time from `time`, 0 when absent). A kept version's `dist.tarball` must start
// with `upstream_base` (the registry the gateway fetches from) and is rewritten to start
// with `gateway_base` instead; a version whose tarball points anywhere else is removed (rule
// "tarball_host"), never followed. `time` loses the removed versions; a `dist-tags` entry
// that named a removed version steps back to the highest version left at or below it of the
// same kind (release or pre-release), else moves to the highest version left (a release when
// there is one), and is dropped when nothing is left.
// Bytes the parser may read past the end of the document (never used): when the caller's
// buffer has this many more (a string's capacity beyond its size), the document is read in
// place; otherwise it is copied first.
inline constexpr std::size_t kJsonPadding = 64;

// `readable_after`: bytes readable after `upstream` ends (see kJsonPadding). The document is
// read without building a tree, so the filter's memory stays near the answer's size plus
// half the body's. Values are copied as the upstream wrote them: one that is malformed makes
// the answer malformed too (the client refuses it). A repeated member is written once, with
// what was filtered.
core::Result<NpmMetadata> FilterNpmPackument(
    std::string_view upstream, NpmForm form, std::string_view upstream_base, std::string_view gateway_base,
    const std::function<Decision(std::string_view version, core::Millis published)>& decide,
    std::size_t readable_after = 0);

}  // namespace pkgtrust::gateway
