// The router: a request to its route, the route's metrics, the change stream route, the Api facade.
#include <charconv>

#include "api_impl.hpp"
#include "pkgtrust/core/log.hpp"
#include "pkgtrust/core/percent_encoding.hpp"

namespace pkgtrust::api {

// ------------------------------------------------------------------ dispatch

void Api::Impl::Count(Route route, int status, Steady::time_point start) {
  route_latency_[static_cast<std::size_t>(route)].Observe(
      std::chrono::duration<double>(Steady::now() - start).count());
  std::lock_guard lock(counts_mu_);
  responses_[{route, status}]++;
}

namespace {

// ".../{name}:versions". A Maven name is group:artifact, so a Maven path whose part before
// ":versions" has no ':' is the package whose artifact is named "versions" (its :versions
// route then reads ".../group:versions:versions").
bool IsVersionsPath(std::string_view path) {
  constexpr std::string_view kSuffix = ":versions", kMaven = "/v1/packages/maven/";
  if (!path.ends_with(kSuffix)) return false;
  if (!path.starts_with(kMaven)) return true;
  std::string_view name = path.substr(kMaven.size(), path.size() - kMaven.size() - kSuffix.size());
  return name.find(':') != std::string_view::npos || name.find("%3A") != std::string_view::npos ||
         name.find("%3a") != std::string_view::npos;
}

}  // namespace

void Api::Impl::Handle(ServerRequest request, Responder respond) {
  const std::string& path = request.path;
  const std::string& method = request.method;
  auto start = Steady::now();
  for (const auto& [prefix, handler] : mounted_)
    if (path.starts_with(prefix)) return handler->Handle(std::move(request), std::move(respond));
  Route route = Route::kOther;
  if (path == "/healthz")
    route = Route::kHealth;
  else if (path == "/readyz")
    route = Route::kReady;
  else if (path == "/metrics")
    route = Route::kMetrics;
  else if (path == "/v1/packages:query")
    route = Route::kQuery;
  else if (path == "/v1/packages")
    route = Route::kPurl;
  else if (path == "/v1/check")
    route = Route::kCheck;
  else if (path == "/v1/search")
    route = Route::kSearch;
  else if (path == "/v1/feeds/package-feeds")
    route = Route::kFeed;
  else if (path == "/v1/changes")
    route = Route::kChanges;
  else if (path.starts_with("/v1/packages/"))
    route = path.ends_with(":refresh") ? Route::kRefresh
            : IsVersionsPath(path)     ? Route::kVersions
                                       : Route::kPackage;
  if (route == Route::kOther && fallback_ && !path.starts_with("/v1/"))
    return fallback_->Handle(std::move(request), std::move(respond));

  OnceResponder once([this, route, start, respond = std::move(respond)](ServerResponse response) {
    Count(route, response.status, start);
    respond(std::move(response));
  });

  auto params = ParseQuery(request.query);
  if (!params.ok()) return once(ErrorResponse(400, "invalid_parameter", params.status().message()));
  std::string_view expected_method = "GET";
  if (route == Route::kQuery || route == Route::kCheck || route == Route::kFeed || route == Route::kRefresh)
    expected_method = "POST";
  if (route == Route::kOther)
    return once(
        ErrorResponse(404, "no_such_route", fmt::format("no endpoint {} {}; see docs/api.md", method, path)));
  if (method != expected_method) {
    ServerResponse r = ErrorResponse(405, "method_not_allowed",
                                     fmt::format("{} takes {}, not {}", path, expected_method, method));
    r.headers.emplace_back("Allow", std::string(expected_method));
    return once(std::move(r));
  }
  try {
    switch (route) {
      case Route::kHealth:
        return once(JsonResponse(200, {{"status", "ok"}}));
      case Route::kReady:
        return Ready(once);
      case Route::kMetrics:
        return Metrics(once);
      case Route::kQuery:
        return Query(request, *params, once);
      case Route::kPurl:
        return GetByPurl(request, *params, once);
      case Route::kCheck:
        return Check(request, *params, once);
      case Route::kSearch:
        return Search(*params, once);
      case Route::kFeed:
        return Feed(request, *params, once);
      case Route::kChanges:
        return Changes(request, *params, once);
      case Route::kRefresh:
        return Refresh(request, std::string_view(path).substr(13), *params, once);
      case Route::kVersions:
        return Versions(std::string_view(path).substr(13), *params, once);
      case Route::kPackage:
        return GetPackage(request, std::string_view(path).substr(13), *params, once);
      case Route::kOther:
        break;
    }
  } catch (const std::exception& e) {
    core::Log(core::LogLevel::kError, "api", "{} {}: {}", method, path, e.what());
    once(ErrorResponse(500, "internal", "internal error; the server log has the details"));
  }
}

// GET /v1/changes: Server-Sent Events (change_stream.hpp).
void Api::Impl::Changes(const ServerRequest& request, const std::map<std::string, std::string>& params,
                        Responder respond) {
  if (change_stream_ == nullptr)
    return respond(ErrorResponse(503, "unavailable", "the change stream is not running in this process"));
  if (change_stream_->subscribers() >= static_cast<std::int64_t>(config_.max_subscribers))
    return respond(WithRetryAfter(
        ErrorResponse(503, "too_many_subscribers",
                      fmt::format("the change stream has {} subscribers, its limit (changes.max_subscribers); "
                                  "retry later",
                                  config_.max_subscribers)),
        config_.subscriber_retry_after_seconds));
  auto filter = ChangeFilter::FromParams(params);
  if (!filter.ok()) return respond(ErrorResponse(400, "invalid_parameter", filter.status().message()));
  std::optional<std::int64_t> resume_from;
  const std::string* last_event_id = request.Header("last-event-id");
  std::string offset_text = last_event_id ? *last_event_id : "";
  if (auto it = params.find("offset"); it != params.end() && offset_text.empty()) offset_text = it->second;
  if (!offset_text.empty()) {
    std::int64_t offset = 0;
    auto [end, ec] = std::from_chars(offset_text.data(), offset_text.data() + offset_text.size(), offset);
    if (ec != std::errc() || end != offset_text.data() + offset_text.size() || offset < 0)
      return respond(ErrorResponse(400, "invalid_parameter",
                                   fmt::format("the offset (Last-Event-ID) must be a whole number, got '{}'",
                                               offset_text.substr(0, 40))));
    resume_from = offset;
  }
  // ?snapshot=false: no state, only the changes (after the last `tail` ones, 0 to 10,000).
  std::optional<std::int64_t> tail;
  if (auto it = params.find("snapshot"); it != params.end()) {
    if (it->second != "true" && it->second != "false")
      return respond(
          ErrorResponse(400, "invalid_parameter",
                        fmt::format("snapshot must be true or false, got '{}'", it->second.substr(0, 40))));
    if (it->second == "false") tail = 0;
  }
  if (auto it = params.find("tail"); it != params.end()) {
    std::int64_t value = -1;
    auto [end, ec] = std::from_chars(it->second.data(), it->second.data() + it->second.size(), value);
    if (!tail || ec != std::errc() || end != it->second.data() + it->second.size() || value < 0 ||
        value > 10'000)
      return respond(
          ErrorResponse(400, "invalid_parameter",
                        "tail goes with snapshot=false and must be a whole number from 0 to 10000"));
    tail = value;
  }
  ServerResponse response;
  response.content_type = "text/event-stream";
  response.headers = {{"Cache-Control", "no-cache"}, {"X-Accel-Buffering", "no"}};
  response.stream = MakeChangeSubscription(*change_stream_, std::move(filter).value(), resume_from, tail);
  respond(std::move(response));
}

std::string Api::Impl::RequestId(const ServerRequest& request, std::string_view prefix) {
  // Taken as given when it is a plain token (what tracing headers hold): it goes into log
  // lines, so spaces, quotes and control characters are not let in.
  const std::string* id = request.Header("x-request-id");
  if (id && !id->empty() && id->size() <= 128 &&
      std::all_of(id->begin(), id->end(), [](char c) { return c > ' ' && c < 127 && c != '"' && c != '\\'; }))
    return *id;
  return fmt::format("{}-{}", prefix, ++request_ids_);
}

// ------------------------------------------------------------------ Api

Api::Api(ApiConfig config, store::Store& store, pipeline::Pipeline& pipeline, pipeline::PackageLookup& lookup)
    : impl_(std::make_unique<Impl>(std::move(config), store, pipeline, lookup)) {}
Api::~Api() = default;
void Api::Handle(ServerRequest request, Responder respond) {
  impl_->Handle(std::move(request), std::move(respond));
}
void Api::AddMetricsCollector(std::function<void(std::string&)> collector) {
  std::lock_guard lock(impl_->collectors_mu_);
  impl_->collectors_.push_back(std::move(collector));
}
void Api::AddReadinessCheck(std::string code, std::function<core::Status()> check) {
  std::lock_guard lock(impl_->collectors_mu_);
  impl_->readiness_checks_.emplace_back(std::move(code), std::move(check));
}
void Api::Mount(std::string prefix, RequestHandler& handler) {
  impl_->mounted_.emplace_back(std::move(prefix), &handler);
}
void Api::SetFallback(RequestHandler& handler) { impl_->fallback_ = &handler; }
void Api::SetReady(bool ready) { impl_->ready_ = ready; }
void Api::SetChangeStream(ChangeStream* feed) { impl_->change_stream_ = feed; }
std::int64_t Api::Subscribers() const {
  return impl_->change_stream_ ? impl_->change_stream_->subscribers() : 0;
}

}  // namespace pkgtrust::api
