// package-feeds webhook bodies: every body is a batch of accepted, ignored and rejected
// events, or one error; the numbers add up.
#include <cstdlib>

#include "api/feed_events.hpp"
#include "fuzz_support.hpp"

using namespace pkgtrust;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  api::FeedBatch batch = api::ParseFeedEvents(fuzz::AsText(data, size));
  if (!batch.error.empty() && (!batch.accepted.empty() || batch.ignored || !batch.rejected.empty()))
    std::abort();
  return 0;
}
