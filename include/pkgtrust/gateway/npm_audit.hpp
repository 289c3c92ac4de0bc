// `npm audit` through the gateway: npm's bulk advisory endpoint
// (POST /-/npm/v1/security/advisories/bulk), answered from the imported malicious-package
// advisories. npm sends {"name": ["version", ...], ...} for its whole tree and judges each
// installed version against each advisory's `vulnerable_versions` range itself.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "pkgtrust/core/ecosystem.hpp"
#include "pkgtrust/core/status.hpp"
#include "pkgtrust/gateway/policy.hpp"

namespace pkgtrust::gateway {

// The npm semver range of the versions an OSV record names: "*" for every version, listed
// versions and SEMVER/ECOSYSTEM ranges joined with " || " (">=1.0.0 <1.0.5",
// ">=2.0.0 <=2.0.3"). Empty when it names nothing npm can express.
std::string NpmVulnerableRange(const scoring::OsvAffected& affected);

// npm's numeric advisory id for an OSV id: a stable 31-bit hash (npm keys advisories by
// number; the OSV id is in the title and the URL).
std::int64_t NpmAdvisoryNumber(std::string_view osv_id);

// Requests with more packages than this are refused (npm sends one entry per package).
inline constexpr std::size_t kMaxAuditPackages = 50'000;

using AdvisoriesOf =
    std::function<core::Result<std::vector<PackageKnowledge::Advisory>>(const core::PackageKey&)>;

// The bulk answer: for each package, the advisories that name at least one of the versions
// sent. A body that is not such an object is an InvalidArgument naming what is wrong; a
// name npm could not publish is skipped; an error reading advisories is returned.
core::Result<std::string> AnswerNpmAuditBulk(std::string_view body, const AdvisoriesOf& advisories_of);

}  // namespace pkgtrust::gateway
