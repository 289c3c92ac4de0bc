// What the gateway knows of a package when a client asks for it, gathered for the policy
// (policy.hpp) without waiting for any stage: the advisories in force from the store, the
// typosquat check on the name against the popular lists, and the stored report's score
// when there is one.
#pragma once

#include <cstdint>

#include "pkgtrust/core/ecosystem.hpp"
#include "pkgtrust/core/status.hpp"
#include "pkgtrust/gateway/policy.hpp"
#include "pkgtrust/scoring/typosquat.hpp"
#include "pkgtrust/store/store.hpp"

namespace pkgtrust::gateway {

// `popular` may be null (no typosquat check); `own_downloads` (a month, -1 unknown) is the
// package's own popularity where the upstream says. Withdrawn advisories are left out; an
// unreadable stored score counts as none. A store error is returned, never read as "clean".
core::Result<PackageKnowledge> KnowledgeOf(store::Store& store, const scoring::PopularPackages* popular,
                                           const core::PackageKey& key, std::int64_t own_downloads = -1);

}  // namespace pkgtrust::gateway
