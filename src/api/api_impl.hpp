// The API's private parts shared by its route files: the Impl class, the route table and
// the small helpers every route uses. api.cpp is the router (dispatch, the change stream
// route, the Api facade); package_routes.cpp, feed_route.cpp and operations_routes.cpp
// hold the routes by purpose.
#pragma once

#include <fmt/format.h>

#include <array>
#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "pkgtrust/api/api.hpp"
#include "pkgtrust/api/change_stream.hpp"
#include "pkgtrust/core/executor.hpp"
#include "pkgtrust/core/metrics.hpp"
#include "pkgtrust/core/percent_encoding.hpp"
#include "pkgtrust/pipeline/package_lookup.hpp"
#include "pkgtrust/pipeline/report.hpp"

namespace pkgtrust::api {

using json = nlohmann::json;
using core::PackageKey;
using core::PackageState;
using Steady = std::chrono::steady_clock;
using pipeline::PendingBody;
using pipeline::PurlOf;

enum class Route {
  kPackage,
  kPurl,
  kQuery,
  kCheck,
  kRefresh,
  kVersions,
  kSearch,
  kFeed,
  kChanges,
  kHealth,
  kReady,
  kMetrics,
  kOther
};
inline constexpr std::array<const char*, 13> kRouteNames = {
    "package", "package_by_purl", "query",   "check",  "refresh", "versions", "search",
    "feed",    "changes",         "healthz", "readyz", "metrics", "other"};

inline ServerResponse JsonResponse(int status, const json& body) {
  ServerResponse response;
  response.status = status;
  response.body = body.dump(-1, ' ', false, json::error_handler_t::replace);
  return response;
}

inline ServerResponse WithRetryAfter(ServerResponse response, int seconds) {
  response.headers.emplace_back("Retry-After", std::to_string(seconds));
  return response;
}

// The query string as decoded name -> value (the last of repeated names wins).
inline core::Result<std::map<std::string, std::string>> ParseQuery(std::string_view query) {
  return core::ParseQueryString(query);
}

// The token a client presented: "Authorization: Bearer <t>"; with `query_token_allowed`
// (the webhook only: package-feeds' publisher cannot set a header) also ?token=<t>. Other
// routes take the header only, so the admin token never ends up in proxy logs.
inline std::string PresentedToken(const ServerRequest& request,
                                  const std::map<std::string, std::string>& params,
                                  bool query_token_allowed) {
  if (const std::string* auth = request.Header("authorization")) {
    constexpr std::string_view kBearer = "Bearer ";
    if (auth->size() > kBearer.size() && auth->compare(0, kBearer.size(), kBearer) == 0)
      return auth->substr(kBearer.size());
  }
  if (!query_token_allowed) return {};
  auto it = params.find("token");
  return it == params.end() ? std::string() : it->second;
}

// Compares without an early exit, so response timing does not reveal a token's prefix.
inline bool TokenMatches(std::string_view presented, std::string_view expected) {
  if (presented.size() != expected.size()) return false;
  unsigned char diff = 0;
  for (std::size_t i = 0; i < expected.size(); ++i)
    diff |= static_cast<unsigned char>(presented[i] ^ expected[i]);
  return diff == 0;
}

inline ServerResponse StoreError(const core::Status& status) {
  return WithRetryAfter(
      ErrorResponse(503, "store_unavailable", "the database is not answering: " + status.message()), 1);
}

// Calls the wrapped responder once; later calls are ignored (a wait that times out after
// an error was already answered).
class OnceResponder {
 public:
  explicit OnceResponder(Responder respond) : state_(std::make_shared<State>()) {
    state_->respond = std::move(respond);
  }
  void operator()(ServerResponse response) const {
    if (state_->answered.exchange(true)) return;
    state_->respond(std::move(response));
  }

 private:
  struct State {
    std::atomic<bool> answered{false};
    Responder respond;
  };
  std::shared_ptr<State> state_;
};

// A version asked for (?version=, a purl's @version): any text a registry could use, bounded.
inline core::Status CheckVersion(std::string_view version) {
  if (version.size() > 256) return core::Status::InvalidArgument("the version is longer than 256 bytes");
  for (char c : version)
    if (static_cast<unsigned char>(c) < 0x21 || c == 0x7f)
      return core::Status::InvalidArgument("the version has spaces or control characters");
  return core::Status::Ok();
}

class Api::Impl {
 public:
  Impl(ApiConfig config, store::Store& store, pipeline::Pipeline& pipeline, pipeline::PackageLookup& lookup)
      : config_(std::move(config)),
        store_(store),
        pipeline_(pipeline),
        lookup_(lookup),
        renderer_(2, "api-work") {}

  ~Impl() { renderer_.Stop(); }

  void Handle(ServerRequest request, Responder respond);

  ApiConfig config_;
  store::Store& store_;
  pipeline::Pipeline& pipeline_;
  pipeline::PackageLookup& lookup_;
  // Store reads of batch queries and searches: off the HTTP threads.
  core::ThreadPoolExecutor renderer_;
  std::atomic<bool> ready_{false};
  ChangeStream* change_stream_ = nullptr;  // set before the server starts
  std::vector<std::pair<std::string, RequestHandler*>> mounted_;  // Mount(): set before serving
  RequestHandler* fallback_ = nullptr;                            // SetFallback(): set before serving
  std::mutex collectors_mu_;               // guards collectors_ and readiness_checks_
  std::vector<std::function<void(std::string&)>> collectors_;
  std::vector<std::pair<std::string, std::function<core::Status()>>>
      readiness_checks_;  // (error code, check)

 private:
  // --- routes
  void GetPackage(const ServerRequest& request, std::string_view rest,
                  const std::map<std::string, std::string>& params, Responder respond);
  void GetByPurl(const ServerRequest& request, const std::map<std::string, std::string>& params,
                 Responder respond);
  void Query(const ServerRequest& request, const std::map<std::string, std::string>& params,
             Responder respond);
  // POST /v1/check (check_route.cpp): a lockfile's text in, the check's verdicts out.
  void Check(const ServerRequest& request, const std::map<std::string, std::string>& params,
             Responder respond);
  void Refresh(const ServerRequest& request, std::string_view rest,
               const std::map<std::string, std::string>& params, Responder respond);
  void Versions(std::string_view rest, const std::map<std::string, std::string>& params, Responder respond);
  void Search(const std::map<std::string, std::string>& params, Responder respond);
  void SearchStore(core::Ecosystem ecosystem, const std::string& prefix, const std::string& after, int limit,
                   const Responder& respond);
  void Feed(const ServerRequest& request, const std::map<std::string, std::string>& params,
            Responder respond);
  void Changes(const ServerRequest& request, const std::map<std::string, std::string>& params,
               Responder respond);
  void Ready(Responder respond);
  void Metrics(Responder respond);

  // --- packages
  // Answers for one package through the lookup: at once when its report is fresh,
  // otherwise after a run or the wait. With a `version`, the answer also says what is
  // known of that version (pipeline/report.hpp).
  void AnswerPackage(const PackageKey& key, std::chrono::milliseconds wait, const std::string& request_id,
                     Responder respond, std::string version = {});
  // A lookup's answer as HTTP: 200 report, 404, 202 pending, 429, 500 or 503.
  ServerResponse ToResponse(const pipeline::LookupAnswer& answer) const;
  // One entry of a batch query's results; `pending` is set when it is still pending.
  json QueryEntry(const pipeline::LookupAnswer& answer, bool& pending) const;
  core::Result<std::chrono::milliseconds> WaitParam(const std::map<std::string, std::string>& params,
                                                    const json* body_wait = nullptr) const;
  // The package a path names, or the error to answer: 400 invalid_parameter for a bad
  // %-escape, 400 invalid_package for an unknown ecosystem or a name it does not allow.
  core::Result<PackageKey> KeyFromPath(std::string_view rest, ServerResponse* error) const;

  void Count(Route route, int status, Steady::time_point start);
  // The client's X-Request-Id (logged with the work it starts), else one of ours.
  std::string RequestId(const ServerRequest& request, std::string_view prefix);

  // Metrics.
  std::mutex counts_mu_;
  std::map<std::pair<Route, int>, std::int64_t> responses_;
  std::array<core::LatencyHistogram, kRouteNames.size()> route_latency_;
  std::atomic<std::int64_t> feed_accepted_{0}, feed_ignored_{0}, feed_rejected_{0};
  std::atomic<std::int64_t> feed_unauthorized_{0};  // bodies refused for a missing or wrong token
  std::atomic<std::int64_t> request_ids_{0};
};

}  // namespace pkgtrust::api
