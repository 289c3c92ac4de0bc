// The package-feeds webhook body (DESIGN.md): one event object, or an array of them,
// each {"name", "version", "created_date" (RFC 3339), "type" (feed name), "schema_ver",
// and since 1.1 "artifact_id"}. Events of feeds we do not score are ignored, not errors.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "pkgtrust/store/store.hpp"

namespace pkgtrust::api {

struct FeedBatch {
  std::string error;  // the body as a whole is unusable (not JSON, not an object or array)
  std::vector<store::EnqueueRequest> accepted;
  std::size_t ignored = 0;  // events of feeds we do not score (nuget, rubygems, ...)
  struct Rejected {
    std::size_t index;  // position in the body (0 for a single object)
    std::string message;
  };
  std::vector<Rejected> rejected;
};

FeedBatch ParseFeedEvents(std::string_view body);

}  // namespace pkgtrust::api
