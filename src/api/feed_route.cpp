// The package-feeds webhook route.
#include "api_impl.hpp"
#include "feed_events.hpp"

namespace pkgtrust::api {

// ------------------------------------------------------------------ webhook

void Api::Impl::Feed(const ServerRequest& request, const std::map<std::string, std::string>& params,
                     Responder respond) {
  if (!config_.feed_token.empty() &&
      !TokenMatches(PresentedToken(request, params, /*query_token_allowed=*/true), config_.feed_token)) {
    feed_unauthorized_.fetch_add(1, std::memory_order_relaxed);
    return respond(
        ErrorResponse(401, "unauthorized", "the feed token is missing or wrong (?token= or Bearer)"));
  }
  FeedBatch batch = ParseFeedEvents(request.body);
  if (!batch.error.empty()) {
    feed_rejected_.fetch_add(1, std::memory_order_relaxed);
    return respond(ErrorResponse(400, "invalid_body", batch.error));
  }
  std::vector<store::EnqueueRequest> accepted_requests = std::move(batch.accepted);
  auto parsed = std::make_shared<FeedBatch>(std::move(batch));
  auto answer = [this, batch = parsed, accepted = accepted_requests.size(), respond] {
    json errors = json::array();
    for (const auto& r : batch->rejected) errors.push_back({{"index", r.index}, {"message", r.message}});
    feed_accepted_.fetch_add(static_cast<std::int64_t>(accepted), std::memory_order_relaxed);
    feed_ignored_.fetch_add(static_cast<std::int64_t>(batch->ignored), std::memory_order_relaxed);
    feed_rejected_.fetch_add(static_cast<std::int64_t>(batch->rejected.size()), std::memory_order_relaxed);
    json body = {{"accepted", accepted},
                 {"ignored", batch->ignored},
                 {"rejected", batch->rejected.size()},
                 {"errors", std::move(errors)}};
    if (accepted == 0 && !batch->rejected.empty()) {
      body["error"] = {{"code", "invalid_events"},
                       {"message", fmt::format("no event was accepted; event {}: {}",
                                               batch->rejected[0].index, batch->rejected[0].message)}};
      return respond(JsonResponse(400, body));
    }
    respond(JsonResponse(200, body));
  };
  if (accepted_requests.empty()) return answer();
  // Durable before the answer: it is sent once the transaction has committed, from the
  // commit's callback (the I/O thread does not wait for the database).
  pipeline_.SubmitAsync(std::move(accepted_requests), RequestId(request, "feed"),
                        [answer, respond](core::Result<std::vector<store::EnqueueResult>> submitted) {
                          if (!submitted.ok()) return respond(StoreError(submitted.status()));
                          answer();
                        });
}

}  // namespace pkgtrust::api
