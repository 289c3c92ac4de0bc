#include "pkgtrust/api/api.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <unordered_map>

#include "feed_events.hpp"
#include "pkgtrust/api/change_stream.hpp"
#include "pkgtrust/core/json_limits.hpp"
#include "pkgtrust/core/log.hpp"
#include "pkgtrust/core/metrics.hpp"
#include "pkgtrust/core/package_name.hpp"
#include "pkgtrust/core/percent_encoding.hpp"
#include "pkgtrust/core/purl.hpp"
#include "pkgtrust/pipeline/executor.hpp"
#include "pkgtrust/pipeline/ingest_handlers.hpp"
#include "report.hpp"

namespace pkgtrust::api {

using json = nlohmann::json;
using core::PackageKey;
using core::PackageState;
using Steady = std::chrono::steady_clock;

namespace {

enum class Route { kPackage, kPurl, kQuery, kRefresh, kSearch, kFeed, kChanges, kHealth, kReady, kMetrics, kOther };
constexpr std::array<const char*, 11> kRouteNames = {
    "package", "package_by_purl", "query",  "refresh", "search", "feed",
    "changes", "healthz",         "readyz", "metrics", "other"};

ServerResponse JsonResponse(int status, const json& body) {
  ServerResponse response;
  response.status = status;
  response.body = body.dump(-1, ' ', false, json::error_handler_t::replace);
  return response;
}

ServerResponse WithRetryAfter(ServerResponse response, int seconds) {
  response.headers.emplace_back("Retry-After", std::to_string(seconds));
  return response;
}

// The query string as decoded name -> value (the last of repeated names wins).
core::Result<std::map<std::string, std::string>> ParseQuery(std::string_view query) {
  std::map<std::string, std::string> params;
  while (!query.empty()) {
    std::size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (pair.empty()) continue;
    std::size_t eq = pair.find('=');
    auto name = core::PercentDecode(pair.substr(0, eq), true);
    auto value = core::PercentDecode(eq == std::string_view::npos ? "" : pair.substr(eq + 1), true);
    if (!name.ok() || !value.ok())
      return core::Status::InvalidArgument("the query string has a bad %-escape");
    params[*name] = *value;
  }
  return params;
}

// The token a client presented: "Authorization: Bearer <t>"; with `query_token_allowed`
// (the webhook only: package-feeds' publisher cannot set a header) also ?token=<t>. Other
// routes take the header only, so the admin token never ends up in proxy logs.
std::string PresentedToken(const ServerRequest& request, const std::map<std::string, std::string>& params,
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
bool TokenMatches(std::string_view presented, std::string_view expected) {
  if (presented.size() != expected.size()) return false;
  unsigned char diff = 0;
  for (std::size_t i = 0; i < expected.size(); ++i)
    diff |= static_cast<unsigned char>(presented[i] ^ expected[i]);
  return diff == 0;
}

ServerResponse StoreError(const core::Status& status) {
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
core::Status CheckVersion(std::string_view version) {
  if (version.size() > 256) return core::Status::InvalidArgument("the version is longer than 256 bytes");
  for (char c : version)
    if (static_cast<unsigned char>(c) < 0x21 || c == 0x7f)
      return core::Status::InvalidArgument("the version has spaces or control characters");
  return core::Status::Ok();
}

}  // namespace

class Api::Impl {
 public:
  Impl(ApiConfig config, store::PackageStore& store, pipeline::Pipeline& pipeline, bus::Transport& transport,
       const core::Clock& clock)
      : config_(std::move(config)),
        store_(store),
        pipeline_(pipeline),
        transport_(transport),
        clock_(clock),
        renderer_(2, "api-work") {}

  ~Impl() {
    waiters_.Stop();
    renderer_.Stop();
  }

  void Handle(ServerRequest request, Responder respond);
  void OnStageEvent(const pipeline::StageEvent& event);

  ApiConfig config_;
  store::PackageStore& store_;
  pipeline::Pipeline& pipeline_;
  bus::Transport& transport_;
  const core::Clock& clock_;
  PackageWaiters waiters_;
  // Store reads of batch queries and searches, and answers for requests whose wait ended:
  // off the HTTP threads and the threads that notify.
  pipeline::ThreadPoolExecutor renderer_;
  std::atomic<bool> ready_{false};
  ChangeFeed* change_feed_ = nullptr;  // set before the server starts
  std::mutex collectors_mu_;
  std::vector<std::function<void(std::string&)>> collectors_;

 private:
  // --- routes
  void GetPackage(const ServerRequest& request, std::string_view rest,
                  const std::map<std::string, std::string>& params, Responder respond);
  void GetByPurl(const ServerRequest& request, const std::map<std::string, std::string>& params,
                 Responder respond);
  void Query(const ServerRequest& request, const std::map<std::string, std::string>& params,
             Responder respond);
  void Refresh(const ServerRequest& request, std::string_view rest,
               const std::map<std::string, std::string>& params, Responder respond);
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
  // Answers for one package: at once when its report is fresh, otherwise after a run or
  // the wait.
  // With a `version`, the answer also says what is known of that version (report.hpp).
  void Lookup(const PackageKey& key, std::chrono::milliseconds wait, const std::string& request_id,
              Responder respond, std::string version = {});
  bool IsFresh(const store::PackageRecord& record) const;
  // The answer for a package as stored now: 200 report, 404, or 202 (202 also when absent).
  ServerResponse Render(const PackageKey& key, const std::optional<store::PackageRecord>& record,
                        std::string_view version = {});
  // Adds "version": VersionSection to a report's JSON text (read from the store).
  void AddVersion(const PackageKey& key, std::string_view version, std::string& report_text);
  // The report as JSON text (cached).
  core::Result<std::shared_ptr<const std::string>> ReportText(const store::PackageRecord& record);
  // A complete, fresh report built less than report_cache_ttl ago, without reading the
  // database; null otherwise. Changes made in this process drop the entry at once.
  std::shared_ptr<const std::string> CachedReport(const PackageKey& key);
  json RenderEntry(const PackageKey& key, const std::optional<store::PackageRecord>& record, bool& pending,
                   std::string_view version);
  core::Result<std::chrono::milliseconds> WaitParam(const std::map<std::string, std::string>& params,
                                                    const json* body_wait = nullptr) const;
  // The package a path names, or the error to answer: 400 invalid_parameter for a bad
  // %-escape, 400 invalid_package for an unknown ecosystem or a name it does not allow.
  core::Result<PackageKey> KeyFromPath(std::string_view rest, ServerResponse* error) const;

  void Count(Route route, int status, Steady::time_point start);
  // The client's X-Request-Id (logged with the work it starts), else one of ours.
  std::string RequestId(const ServerRequest& request, std::string_view prefix);

  // Report cache, validated against the package row.
  struct CacheEntry {
    std::int64_t generation;
    PackageState state;
    core::Millis state_since;
    Steady::time_point built;
    std::shared_ptr<const std::string> text;
  };
  std::mutex cache_mu_;
  std::unordered_map<PackageKey, CacheEntry, core::PackageKeyHash> cache_;

  // Metrics.
  std::mutex counts_mu_;
  std::map<std::pair<Route, int>, std::int64_t> responses_;
  std::array<core::LatencyHistogram, kRouteNames.size()> route_latency_;
  core::LatencyHistogram ondemand_latency_;
  std::atomic<std::int64_t> ondemand_runs_{0}, ondemand_timeouts_{0}, shed_{0};
  std::atomic<std::int64_t> feed_accepted_{0}, feed_ignored_{0}, feed_rejected_{0};
  std::atomic<std::int64_t> feed_unauthorized_{0};  // bodies refused for a missing or wrong token
  std::atomic<std::int64_t> request_ids_{0};
};

// ------------------------------------------------------------------ dispatch

void Api::Impl::Count(Route route, int status, Steady::time_point start) {
  route_latency_[static_cast<std::size_t>(route)].Observe(
      std::chrono::duration<double>(Steady::now() - start).count());
  std::lock_guard lock(counts_mu_);
  responses_[{route, status}]++;
}

void Api::Impl::Handle(ServerRequest request, Responder respond) {
  const std::string& path = request.path;
  const std::string& method = request.method;
  auto start = Steady::now();
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
  else if (path == "/v1/search")
    route = Route::kSearch;
  else if (path == "/v1/feeds/package-feeds")
    route = Route::kFeed;
  else if (path == "/v1/changes")
    route = Route::kChanges;
  else if (path.starts_with("/v1/packages/"))
    route = path.ends_with(":refresh") ? Route::kRefresh : Route::kPackage;

  OnceResponder once([this, route, start, respond = std::move(respond)](ServerResponse response) {
    Count(route, response.status, start);
    respond(std::move(response));
  });

  auto params = ParseQuery(request.query);
  if (!params.ok()) return once(ErrorResponse(400, "invalid_parameter", params.status().message()));
  std::string_view expected_method = "GET";
  if (route == Route::kQuery || route == Route::kFeed || route == Route::kRefresh) expected_method = "POST";
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
      case Route::kSearch:
        return Search(*params, once);
      case Route::kFeed:
        return Feed(request, *params, once);
      case Route::kChanges:
        return Changes(request, *params, once);
      case Route::kRefresh:
        return Refresh(request, std::string_view(path).substr(13), *params, once);
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
  if (change_feed_ == nullptr)
    return respond(ErrorResponse(503, "unavailable", "the change stream is not running in this process"));
  if (change_feed_->subscribers() >= static_cast<std::int64_t>(config_.max_subscribers))
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
  ServerResponse response;
  response.content_type = "text/event-stream";
  response.headers = {{"Cache-Control", "no-cache"}, {"X-Accel-Buffering", "no"}};
  response.stream = MakeChangeSubscription(*change_feed_, std::move(filter).value(), resume_from);
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

// ------------------------------------------------------------------ packages

core::Result<PackageKey> Api::Impl::KeyFromPath(std::string_view rest, ServerResponse* error) const {
  auto fail = [error](const char* code, core::Status status) {
    *error = ErrorResponse(400, code, status.message());
    return status;
  };
  std::size_t slash = rest.find('/');
  if (slash == std::string_view::npos || slash + 1 == rest.size())
    return fail("invalid_package",
                core::Status::InvalidArgument("the path must be /v1/packages/{ecosystem}/{name}"));
  auto ecosystem_text = core::PercentDecode(rest.substr(0, slash));
  auto name = core::PercentDecode(rest.substr(slash + 1));
  if (!ecosystem_text.ok() || !name.ok())
    return fail("invalid_parameter",
                core::Status::InvalidArgument(
                    "the path has a bad %-escape ('%' must be followed by two hex digits)"));
  auto ecosystem = core::ParseEcosystemOrError(*ecosystem_text);
  if (!ecosystem.ok()) return fail("invalid_package", ecosystem.status());
  auto key = core::MakePackageKey(*ecosystem, *name);
  if (!key.ok()) return fail("invalid_package", key.status());
  return key;
}

core::Result<std::chrono::milliseconds> Api::Impl::WaitParam(const std::map<std::string, std::string>& params,
                                                             const json* body_wait) const {
  double seconds = std::chrono::duration<double>(config_.default_wait).count();
  std::string text;
  if (body_wait && !body_wait->is_null()) {
    if (!body_wait->is_number()) return core::Status::InvalidArgument("'wait' must be a number of seconds");
    seconds = body_wait->get<double>();
  } else if (auto it = params.find("wait"); it != params.end()) {
    char* end = nullptr;
    seconds = std::strtod(it->second.c_str(), &end);
    if (it->second.empty() || *end != '\0')
      return core::Status::InvalidArgument(fmt::format("wait '{}' is not a number of seconds", it->second));
  }
  double max = std::chrono::duration<double>(config_.max_wait).count();
  if (!(seconds >= 0 && seconds <= max))
    return core::Status::InvalidArgument(fmt::format("wait must be between 0 and {} seconds", max));
  return std::chrono::milliseconds(std::llround(seconds * 1000));
}

bool Api::Impl::IsFresh(const store::PackageRecord& record) const {
  core::Millis age = clock_.NowMillis() - record.state_since;
  if (record.state == PackageState::kComplete)
    return config_.refresh_after.count() == 0 || age < config_.refresh_after.count();
  if (record.state == PackageState::kNotFound) return age < config_.not_found_recheck.count();
  return false;
}

std::shared_ptr<const std::string> Api::Impl::CachedReport(const PackageKey& key) {
  std::lock_guard lock(cache_mu_);
  auto it = cache_.find(key);
  if (it == cache_.end() || it->second.state != PackageState::kComplete ||
      Steady::now() - it->second.built >= config_.report_cache_ttl)
    return nullptr;
  store::PackageRecord record;
  record.state = it->second.state;
  record.state_since = it->second.state_since;
  return IsFresh(record) ? it->second.text : nullptr;
}

core::Result<std::shared_ptr<const std::string>> Api::Impl::ReportText(const store::PackageRecord& record) {
  auto now = Steady::now();
  {
    std::lock_guard lock(cache_mu_);
    auto it = cache_.find(record.key);
    if (it != cache_.end() && it->second.generation == record.generation &&
        it->second.state == record.state && it->second.state_since == record.state_since &&
        now - it->second.built < config_.report_cache_ttl)
      return it->second.text;
  }
  auto facts = store_.GetFacts(record.key);
  if (!facts.ok()) return facts.status();
  auto report = BuildReport(record, *facts);
  if (!report.ok()) return report.status();
  auto text =
      std::make_shared<const std::string>(report->dump(-1, ' ', false, json::error_handler_t::replace));
  std::lock_guard lock(cache_mu_);
  // A full cache starts over: simple, and every entry is cheap to rebuild.
  if (cache_.size() >= config_.report_cache_entries) cache_.clear();
  cache_[record.key] = {record.generation, record.state, record.state_since, now, text};
  return text;
}

void Api::Impl::AddVersion(const PackageKey& key, std::string_view version, std::string& report_text) {
  auto facts = store_.GetFacts(key);
  if (!facts.ok() || report_text.empty() || report_text.back() != '}') return;
  report_text.pop_back();
  report_text += R"(,"version":)";
  report_text += VersionSection(key, *facts, version).dump(-1, ' ', false, json::error_handler_t::replace);
  report_text += '}';
}

ServerResponse Api::Impl::Render(const PackageKey& key, const std::optional<store::PackageRecord>& record,
                                 std::string_view version) {
  if (!record) {
    store::PackageRecord pending;
    pending.key = key;
    return WithRetryAfter(JsonResponse(202, PendingBody(pending, config_.retry_after_seconds)),
                          config_.retry_after_seconds);
  }
  if (record->state == PackageState::kNotFound)
    return ErrorResponse(404, "package_not_found",
                         fmt::format("{} package '{}' does not exist in its registry",
                                     core::EcosystemName(key.ecosystem), key.name));
  // Complete, or an older report while a new run is under way.
  auto text = ReportText(*record);
  if (text.ok()) {
    ServerResponse response;
    response.body = **text;
    if (!version.empty()) AddVersion(key, version, response.body);
    return response;
  }
  if (record->state == PackageState::kComplete) {
    core::Log(core::LogLevel::kError, "api", "{}: complete without a report: {}", key.ToString(),
              text.status().message());
    return ErrorResponse(500, "report_unavailable", text.status().message());
  }
  return WithRetryAfter(JsonResponse(202, PendingBody(*record, config_.retry_after_seconds)),
                        config_.retry_after_seconds);
}

// A request restarts only the run it saw: none (a run that appeared and finished since is
// answered as it is), or a finished one that was stale. A run it saw in flight is joined, and
// if that run finished in the meantime its result is the answer: restarting it would fetch the
// package a second time for every request that polled while it ran.
namespace {
void RestartOnlyWhatWasSeen(store::EnqueueRequest& request, const std::optional<store::PackageRecord>& seen) {
  if (seen && core::IsInFlight(seen->state)) {
    request.restart_finished = false;
    return;
  }
  request.restart_finished = true;
  request.restart_generation = seen ? seen->generation : 0;
}
}  // namespace

void Api::Impl::Lookup(const PackageKey& key, std::chrono::milliseconds wait, const std::string& request_id,
                       Responder respond, std::string version) {
  if (auto cached = CachedReport(key)) {
    ServerResponse response;
    response.body = *cached;
    if (!version.empty()) AddVersion(key, version, response.body);
    return respond(std::move(response));
  }
  auto record = store_.Get(key);
  if (!record.ok()) return respond(StoreError(record.status()));
  if (*record && IsFresh(**record)) return respond(Render(key, *record, version));
  if (waiters_.Waiting() >= config_.max_waiting_requests) {
    shed_.fetch_add(1, std::memory_order_relaxed);
    return respond(WithRetryAfter(
        ErrorResponse(429, "overloaded", "too many requests are waiting for packages; retry shortly"), 1));
  }
  // Wait first, then submit: a run that finishes in between still wakes this request.
  ondemand_runs_.fetch_add(1, std::memory_order_relaxed);
  auto start = Steady::now();
  OnceResponder once(std::move(respond));
  auto answer = [this, key, start, once, version] {
    renderer_.Post([this, key, start, once, version] {
      auto now = store_.Get(key);
      ServerResponse response = now.ok() ? Render(key, *now, version) : StoreError(now.status());
      if (response.status == 202) ondemand_timeouts_.fetch_add(1, std::memory_order_relaxed);
      ondemand_latency_.Observe(std::chrono::duration<double>(Steady::now() - start).count());
      once(std::move(response));
    });
  };
  waiters_.Wait({key.ToString()}, start + wait, answer);
  store::EnqueueRequest request;
  request.key = key;
  request.priority = core::Priority::kPriority;
  RestartOnlyWhatWasSeen(request, *record);
  auto submitted = pipeline_.SubmitOne(std::move(request), request_id);
  if (!submitted.ok()) return once(StoreError(submitted.status()));
  // Another request's run finished since the read above: answer with its result.
  if (submitted->outcome == store::EnqueueOutcome::kUnchanged) waiters_.Notify(key.ToString());
}

void Api::Impl::GetPackage(const ServerRequest& request, std::string_view rest,
                           const std::map<std::string, std::string>& params, Responder respond) {
  ServerResponse key_error;
  auto key = KeyFromPath(rest, &key_error);
  if (!key.ok()) return respond(std::move(key_error));
  auto wait = WaitParam(params);
  if (!wait.ok()) return respond(ErrorResponse(400, "invalid_parameter", wait.status().message()));
  std::string version = params.contains("version") ? params.at("version") : "";
  if (params.contains("version") && version.empty())
    return respond(ErrorResponse(400, "invalid_parameter", "version must not be empty"));
  if (auto s = CheckVersion(version); !s.ok()) return respond(ErrorResponse(400, "invalid_parameter", s.message()));
  Lookup(*key, *wait, RequestId(request, "api"), std::move(respond), std::move(version));
}

void Api::Impl::GetByPurl(const ServerRequest& request, const std::map<std::string, std::string>& params,
                          Responder respond) {
  auto it = params.find("purl");
  if (it == params.end())
    return respond(ErrorResponse(400, "invalid_parameter", "GET /v1/packages needs ?purl=pkg:<type>/<name>"));
  auto purl = core::ParsePurl(it->second);
  if (!purl.ok()) return respond(ErrorResponse(400, "invalid_purl", purl.status().message()));
  auto key = core::PackageKeyFromPurl(*purl);
  if (!key.ok()) return respond(ErrorResponse(400, "invalid_purl", key.status().message()));
  auto wait = WaitParam(params);
  if (!wait.ok()) return respond(ErrorResponse(400, "invalid_parameter", wait.status().message()));
  std::string version = purl->version;
  if (auto it = params.find("version"); it != params.end()) {
    if (!version.empty() && it->second != version)
      return respond(ErrorResponse(400, "invalid_parameter",
                                   "the purl names version " + version.substr(0, 60) + " and ?version= another"));
    version = it->second;
    if (version.empty()) return respond(ErrorResponse(400, "invalid_parameter", "version must not be empty"));
  }
  if (auto s = CheckVersion(version); !s.ok()) return respond(ErrorResponse(400, "invalid_purl", s.message()));
  Lookup(*key, *wait, RequestId(request, "api"), std::move(respond), std::move(version));
}

json Api::Impl::RenderEntry(const PackageKey& key, const std::optional<store::PackageRecord>& record,
                            bool& pending, std::string_view version) {
  ServerResponse response = Render(key, record, version);
  json body = json::parse(response.body, nullptr, false);
  if (response.status == 202) pending = true;
  if (response.status == 404 || response.status >= 500) {
    json entry = {{"ecosystem", core::EcosystemName(key.ecosystem)},
                  {"name", key.name},
                  {"purl", PurlOf(key)},
                  {"status", response.status == 404 ? "not_found" : "error"}};
    entry["error"] = body.value("error", json::object());
    return entry;
  }
  return body;
}

void Api::Impl::Query(const ServerRequest& request, const std::map<std::string, std::string>& params,
                      Responder respond) {
  if (!core::JsonNestingWithin(request.body))
    return respond(ErrorResponse(
        400, "invalid_json", fmt::format("the body nests arrays or objects deeper than {} levels", core::kMaxJsonDepth)));
  json body = json::parse(request.body, nullptr, false);
  if (body.is_discarded()) return respond(ErrorResponse(400, "invalid_json", "the body is not valid JSON"));
  if (!body.is_object() || !body.contains("packages") || !body["packages"].is_array())
    return respond(ErrorResponse(400, "invalid_body", R"(the body must be {"packages": [...]})"));
  const json& items = body["packages"];
  if (items.size() > config_.max_query_packages)
    return respond(ErrorResponse(
        413, "too_many_packages",
        fmt::format("{} packages in one query; the limit is {}", items.size(), config_.max_query_packages)));
  auto wait = WaitParam(params, body.contains("wait") ? &body["wait"] : nullptr);
  if (!wait.ok()) return respond(ErrorResponse(400, "invalid_parameter", wait.status().message()));

  // Each entry: {"ecosystem", "name"[, "version"]}, {"purl"}, or a purl string; a purl's
  // @version (or "version") asks for that version too.
  struct Entry {
    json input;
    std::optional<PackageKey> key;
    std::string error;
    std::string version;
  };
  auto entries = std::make_shared<std::vector<Entry>>();
  for (const json& item : items) {
    Entry entry{item, std::nullopt, {}, {}};
    core::Result<PackageKey> key = core::Status::InvalidArgument(
        R"(an entry must be {"ecosystem": ..., "name": ...}, {"purl": ...} or a purl string)");
    std::string purl_text;
    if (item.is_string()) purl_text = item.get<std::string>();
    if (item.is_object() && item.contains("purl") && item["purl"].is_string()) purl_text = item["purl"];
    if (!purl_text.empty()) {
      auto purl = core::ParsePurl(purl_text);
      key = purl.ok() ? core::PackageKeyFromPurl(*purl) : core::Result<PackageKey>(purl.status());
      if (purl.ok()) entry.version = purl->version;
    } else if (item.is_object() && item.contains("ecosystem") && item["ecosystem"].is_string() &&
               item.contains("name") && item["name"].is_string()) {
      auto ecosystem = core::ParseEcosystemOrError(item["ecosystem"].get<std::string>());
      key = ecosystem.ok() ? core::MakePackageKey(*ecosystem, item["name"].get<std::string>())
                           : core::Result<PackageKey>(ecosystem.status());
    }
    if (item.is_object() && item.contains("version")) {
      if (!item["version"].is_string() || item["version"].get<std::string>().empty())
        key = core::Status::InvalidArgument("\"version\" must be a non-empty string");
      else if (!entry.version.empty() && entry.version != item["version"].get<std::string>())
        key = core::Status::InvalidArgument("the purl names one version and \"version\" another");
      else
        entry.version = item["version"].get<std::string>();
    }
    if (auto s = CheckVersion(entry.version); key.ok() && !s.ok()) key = s;
    if (key.ok())
      entry.key = *key;
    else
      entry.error = key.status().message();
    entries->push_back(std::move(entry));
  }

  // Reading a thousand packages takes a while: on the API's pool, not the HTTP thread.
  std::string request_id = RequestId(request, "query");
  renderer_.Post([this, entries, wait = *wait, request_id, respond = std::move(respond)]() mutable {
    std::vector<std::string> waiting;
    std::vector<store::EnqueueRequest> runs;
    std::unordered_map<PackageKey, bool, core::PackageKeyHash> seen;
    for (const Entry& entry : *entries) {
      if (!entry.key || !seen.emplace(*entry.key, true).second) continue;
      auto record = store_.Get(*entry.key);
      if (!record.ok()) return respond(StoreError(record.status()));
      if (*record && IsFresh(**record)) continue;
      waiting.push_back(entry.key->ToString());
      store::EnqueueRequest run;
      run.key = *entry.key;
      run.priority = core::Priority::kPriority;
      RestartOnlyWhatWasSeen(run, *record);
      runs.push_back(std::move(run));
    }
    if (!runs.empty() && waiters_.Waiting() >= config_.max_waiting_requests) {
      shed_.fetch_add(1, std::memory_order_relaxed);
      return respond(WithRetryAfter(
          ErrorResponse(429, "overloaded", "too many requests are waiting for packages; retry shortly"), 1));
    }
    OnceResponder once(std::move(respond));
    // A query that starts runs is on-demand work: its time to the answer is measured as such.
    bool ondemand = !runs.empty();
    if (ondemand) ondemand_runs_.fetch_add(1, std::memory_order_relaxed);
    auto start = Steady::now();
    auto answer = [this, entries, once, ondemand, start] {
      renderer_.Post([this, entries, once, ondemand, start] {
        json results = json::array();
        bool pending = false;
        for (const Entry& entry : *entries) {
          if (!entry.key) {
            results.push_back({{"input", entry.input},
                               {"status", "invalid"},
                               {"error", {{"code", "invalid_package"}, {"message", entry.error}}}});
            continue;
          }
          auto record = store_.Get(*entry.key);
          if (!record.ok()) return once(StoreError(record.status()));
          results.push_back(RenderEntry(*entry.key, *record, pending, entry.version));
        }
        ServerResponse response = JsonResponse(200, {{"results", std::move(results)}});
        if (pending) response = WithRetryAfter(std::move(response), config_.retry_after_seconds);
        if (ondemand) {
          if (pending) ondemand_timeouts_.fetch_add(1, std::memory_order_relaxed);
          ondemand_latency_.Observe(std::chrono::duration<double>(Steady::now() - start).count());
        }
        once(std::move(response));
      });
    };
    if (runs.empty()) return answer();
    waiters_.Wait(std::move(waiting), Steady::now() + wait, answer);
    auto submitted = pipeline_.Submit(std::move(runs), request_id);
    if (!submitted.ok()) return once(StoreError(submitted.status()));
    for (const store::EnqueueResult& result : *submitted)
      if (result.outcome == store::EnqueueOutcome::kUnchanged) waiters_.Notify(result.record.key.ToString());
  });
}

void Api::Impl::Refresh(const ServerRequest& request, std::string_view rest,
                        const std::map<std::string, std::string>& params, Responder respond) {
  constexpr std::string_view kSuffix = ":refresh";  // the route ends with it
  if (config_.admin_token.empty())
    return respond(
        ErrorResponse(403, "admin_disabled", "refresh is disabled: the server has no admin token set"));
  if (!TokenMatches(PresentedToken(request, params, /*query_token_allowed=*/false), config_.admin_token))
    return respond(
        ErrorResponse(401, "unauthorized", "refresh needs the admin token (Authorization: Bearer ...)"));
  ServerResponse key_error;
  auto key = KeyFromPath(rest.substr(0, rest.size() - kSuffix.size()), &key_error);
  if (!key.ok()) return respond(std::move(key_error));
  store::EnqueueRequest run;
  run.key = *key;
  run.priority = core::Priority::kPriority;
  auto submitted = pipeline_.SubmitOne(std::move(run), RequestId(request, "refresh"));
  if (!submitted.ok()) return respond(StoreError(submitted.status()));
  const store::PackageRecord& record = submitted->record;
  respond(
      WithRetryAfter(JsonResponse(202, {{"ecosystem", core::EcosystemName(key->ecosystem)},
                                        {"name", key->name},
                                        {"purl", PurlOf(*key)},
                                        {"status", core::PackageStateName(record.state)},
                                        {"generation", record.generation},
                                        {"started", submitted->outcome == store::EnqueueOutcome::kStarted}}),
                     config_.retry_after_seconds));
}

void Api::Impl::Search(const std::map<std::string, std::string>& params, Responder respond) {
  auto eco_it = params.find("ecosystem");
  if (eco_it == params.end())
    return respond(
        ErrorResponse(400, "invalid_parameter", "search needs ?ecosystem= (npm, pypi, crates, maven, go)"));
  auto ecosystem = core::ParseEcosystemOrError(eco_it->second);
  if (!ecosystem.ok()) return respond(ErrorResponse(400, "invalid_parameter", ecosystem.status().message()));
  std::string prefix = params.contains("prefix") ? params.at("prefix") : "";
  if (prefix.size() > 512)
    return respond(ErrorResponse(400, "invalid_parameter", "prefix is longer than 512 bytes"));
  // Stored names are normalized; normalize the prefix the same way when it is a valid name.
  if (auto normalized = core::NormalizePackageName(*ecosystem, prefix); normalized.ok()) prefix = *normalized;
  int limit = 20;
  if (auto it = params.find("limit"); it != params.end()) {
    char* end = nullptr;
    long value = std::strtol(it->second.c_str(), &end, 10);
    if (it->second.empty() || *end != '\0' || value < 1 || value > 100)
      return respond(ErrorResponse(400, "invalid_parameter", "limit must be a whole number from 1 to 100"));
    limit = static_cast<int>(value);
  }
  std::string after = params.contains("after") ? params.at("after") : "";
  renderer_.Post([this, ecosystem = *ecosystem, prefix, after, limit, respond = std::move(respond)] {
    SearchStore(ecosystem, prefix, after, limit, respond);
  });
}

// Search's reads: a page of names, then each one's stored score (on the API's pool).
void Api::Impl::SearchStore(core::Ecosystem ecosystem, const std::string& prefix, const std::string& after,
                            int limit, const Responder& respond) {
  auto records = store_.ListByPrefix(ecosystem, prefix, after, static_cast<std::size_t>(limit) + 1);
  if (!records.ok()) return respond(StoreError(records.status()));
  json packages = json::array();
  bool more = records->size() > static_cast<std::size_t>(limit);
  if (more) records->pop_back();
  for (const store::PackageRecord& record : *records) {
    json item = {{"ecosystem", core::EcosystemName(record.key.ecosystem)},
                 {"name", record.key.name},
                 {"purl", PurlOf(record.key)},
                 {"status", core::PackageStateName(record.state)},
                 {"score", nullptr}};
    auto score = store_.GetFact(record.key, pipeline::kScoreFact);
    if (score.ok() && *score) {
      json parsed = json::parse(**score, nullptr, false);
      if (parsed.is_object()) {
        item["score"] = parsed.value("score", json(nullptr));
        item["flags"] = parsed.value("flags", json::object());
      }
    }
    packages.push_back(std::move(item));
  }
  respond(JsonResponse(200, {{"packages", std::move(packages)},
                             {"next_after", more ? json(records->back().key.name) : json(nullptr)}}));
}

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
  json errors = json::array();
  for (const auto& r : batch.rejected) errors.push_back({{"index", r.index}, {"message", r.message}});
  std::size_t accepted = batch.accepted.size();
  if (accepted > 0) {
    // Durable before the answer: Submit returns once the transaction has committed.
    auto submitted = pipeline_.Submit(std::move(batch.accepted), RequestId(request, "feed"));
    if (!submitted.ok()) return respond(StoreError(submitted.status()));
  }
  feed_accepted_.fetch_add(static_cast<std::int64_t>(accepted), std::memory_order_relaxed);
  feed_ignored_.fetch_add(static_cast<std::int64_t>(batch.ignored), std::memory_order_relaxed);
  feed_rejected_.fetch_add(static_cast<std::int64_t>(batch.rejected.size()), std::memory_order_relaxed);
  json body = {{"accepted", accepted},
               {"ignored", batch.ignored},
               {"rejected", batch.rejected.size()},
               {"errors", std::move(errors)}};
  if (accepted == 0 && !batch.rejected.empty()) {
    body["error"] = {{"code", "invalid_events"},
                     {"message", fmt::format("no event was accepted; event {}: {}", batch.rejected[0].index,
                                             batch.rejected[0].message)}};
    return respond(JsonResponse(400, body));
  }
  respond(JsonResponse(200, body));
}

// ------------------------------------------------------------------ operations

void Api::Impl::Ready(Responder respond) {
  if (!ready_)
    return respond(WithRetryAfter(ErrorResponse(503, "not_ready", "starting up or shutting down"), 1));
  auto probe = store_.Get(PackageKey{core::Ecosystem::kNpm, "pkgtrust-readiness-probe"});
  if (!probe.ok()) return respond(StoreError(probe.status()));
  if (core::Status transport = transport_.Health(); !transport.ok())
    return respond(WithRetryAfter(ErrorResponse(503, "transport_not_ready", transport.message()), 10));
  respond(JsonResponse(200, {{"status", "ready"}}));
}

void Api::Impl::Metrics(Responder respond) {
  std::string out;
  out.reserve(16 * 1024);
  auto label = [](std::string_view name, std::string_view value) {
    return fmt::format("{}=\"{}\"", name, core::PrometheusLabelValue(value));
  };
  core::AppendPrometheusHeader(out, "pkgtrust_http_responses_total", "counter",
                               "HTTP responses by route and status.");
  {
    std::lock_guard lock(counts_mu_);
    for (const auto& [key, n] : responses_)
      core::AppendPrometheusSample(out, "pkgtrust_http_responses_total",
                                   fmt::format("route=\"{}\",code=\"{}\"",
                                               kRouteNames[static_cast<std::size_t>(key.first)], key.second),
                                   static_cast<double>(n));
  }
  core::AppendPrometheusHeader(out, "pkgtrust_http_request_duration_seconds", "histogram",
                               "Time from a request to its answer, by route.");
  for (std::size_t i = 0; i < kRouteNames.size(); ++i)
    if (route_latency_[i].Count() > 0)
      route_latency_[i].AppendPrometheus(out, "pkgtrust_http_request_duration_seconds",
                                         label("route", kRouteNames[i]));
  core::AppendPrometheusHeader(
      out, "pkgtrust_ondemand_duration_seconds", "histogram",
      "Requests that started or joined a run: time to the answer (report, 404 or 202).");
  ondemand_latency_.AppendPrometheus(out, "pkgtrust_ondemand_duration_seconds", "");
  core::AppendPrometheusHeader(out, "pkgtrust_ondemand_requests_total", "counter",
                               "Requests (single or batch) that started or joined a package run.");
  core::AppendPrometheusSample(out, "pkgtrust_ondemand_requests_total", "",
                               static_cast<double>(ondemand_runs_));
  core::AppendPrometheusHeader(out, "pkgtrust_ondemand_timeouts_total", "counter",
                               "On-demand requests answered 202 because the wait ran out.");
  core::AppendPrometheusSample(out, "pkgtrust_ondemand_timeouts_total", "",
                               static_cast<double>(ondemand_timeouts_));
  core::AppendPrometheusHeader(out, "pkgtrust_waiting_requests", "gauge",
                               "Requests waiting for a package run.");
  core::AppendPrometheusSample(out, "pkgtrust_waiting_requests", "", static_cast<double>(waiters_.Waiting()));
  core::AppendPrometheusHeader(out, "pkgtrust_shed_requests_total", "counter",
                               "Requests answered 429 because too many were waiting.");
  core::AppendPrometheusSample(out, "pkgtrust_shed_requests_total", "", static_cast<double>(shed_));
  core::AppendPrometheusHeader(out, "pkgtrust_webhook_events_total", "counter",
                               "package-feeds events by outcome (rejected counts whole bad bodies too).");
  core::AppendPrometheusSample(out, "pkgtrust_webhook_events_total", "outcome=\"accepted\"",
                               static_cast<double>(feed_accepted_));
  core::AppendPrometheusSample(out, "pkgtrust_webhook_events_total", "outcome=\"ignored\"",
                               static_cast<double>(feed_ignored_));
  core::AppendPrometheusSample(out, "pkgtrust_webhook_events_total", "outcome=\"rejected\"",
                               static_cast<double>(feed_rejected_));
  core::AppendPrometheusHeader(out, "pkgtrust_webhook_unauthorized_total", "counter",
                               "package-feeds requests refused for a missing or wrong token.");
  core::AppendPrometheusSample(out, "pkgtrust_webhook_unauthorized_total", "",
                               static_cast<double>(feed_unauthorized_));

  core::AppendPrometheusHeader(out, "pkgtrust_stage_in_flight", "gauge", "Work in flight per stage.");
  for (const auto& stage : pipeline_.stages())
    core::AppendPrometheusSample(out, "pkgtrust_stage_in_flight", label("stage", stage->config().name),
                                 static_cast<double>(stage->Stats().in_flight));
  core::AppendPrometheusHeader(out, "pkgtrust_stage_messages_total", "counter", "Stage messages by outcome.");
  for (const auto& stage : pipeline_.stages()) {
    pipeline::StageStats s = stage->Stats();
    std::string stage_label = label("stage", stage->config().name);
    std::pair<const char*, std::int64_t> outcomes[] = {
        {"completed", s.completed}, {"failed", s.failed},        {"retried", s.retried},
        {"stale", s.stale},         {"duplicate", s.duplicates}, {"malformed", s.malformed},
        {"postponed", s.postponed}};
    for (const auto& [outcome, n] : outcomes)
      core::AppendPrometheusSample(out, "pkgtrust_stage_messages_total",
                                   fmt::format("{},outcome=\"{}\"", stage_label, outcome),
                                   static_cast<double>(n));
  }
  bus::TransportStats transport = transport_.Stats();
  core::AppendPrometheusHeader(out, "pkgtrust_queue_messages", "gauge", "Messages per queue by state.");
  for (const auto& [queue, q] : transport.queues) {
    std::string queue_label = label("queue", queue);
    core::AppendPrometheusSample(out, "pkgtrust_queue_messages", queue_label + ",state=\"visible\"",
                                 static_cast<double>(q.visible));
    core::AppendPrometheusSample(out, "pkgtrust_queue_messages", queue_label + ",state=\"delayed\"",
                                 static_cast<double>(q.delayed));
    core::AppendPrometheusSample(out, "pkgtrust_queue_messages", queue_label + ",state=\"in_flight\"",
                                 static_cast<double>(q.in_flight));
  }
  core::AppendPrometheusHeader(out, "pkgtrust_queue_dead_lettered_total", "counter",
                               "Messages dead-lettered.");
  for (const auto& [queue, q] : transport.queues)
    core::AppendPrometheusSample(out, "pkgtrust_queue_dead_lettered_total", label("queue", queue),
                                 static_cast<double>(q.dead_lettered));
  core::AppendPrometheusHeader(out, "pkgtrust_messages_unroutable_total", "counter",
                               "Published messages no queue's filter policy matched.");
  core::AppendPrometheusSample(out, "pkgtrust_messages_unroutable_total", "",
                               static_cast<double>(transport.unroutable));
  if (auto counts = store_.CountByState(); counts.ok()) {
    core::AppendPrometheusHeader(out, "pkgtrust_packages", "gauge",
                                 "Packages by state (complete and failed included).");
    for (PackageState state : core::kAllPackageStates) {
      auto it = counts->find(state);
      core::AppendPrometheusSample(out, "pkgtrust_packages", label("state", core::PackageStateName(state)),
                                   it == counts->end() ? 0.0 : static_cast<double>(it->second));
    }
  }
  {
    std::lock_guard lock(collectors_mu_);
    for (const auto& collector : collectors_) collector(out);
  }
  ServerResponse response;
  response.content_type = "text/plain; version=0.0.4; charset=utf-8";
  response.body = std::move(out);
  respond(std::move(response));
}

void Api::Impl::OnStageEvent(const pipeline::StageEvent& event) {
  bool finished = (event.kind == pipeline::StageEvent::Kind::kCompleted &&
                   (event.to == PackageState::kComplete || event.to == PackageState::kNotFound)) ||
                  event.kind == pipeline::StageEvent::Kind::kFailed;
  if (event.kind == pipeline::StageEvent::Kind::kCompleted || finished) {
    std::lock_guard lock(cache_mu_);
    cache_.erase(event.key);
  }
  if (finished) waiters_.Notify(event.key.ToString());
}

// ------------------------------------------------------------------ Api

Api::Api(ApiConfig config, store::PackageStore& store, pipeline::Pipeline& pipeline,
         bus::Transport& transport, const core::Clock& clock)
    : impl_(std::make_unique<Impl>(std::move(config), store, pipeline, transport, clock)) {}
Api::~Api() = default;
void Api::Handle(ServerRequest request, Responder respond) {
  impl_->Handle(std::move(request), std::move(respond));
}
void Api::OnStageEvent(const pipeline::StageEvent& event) { impl_->OnStageEvent(event); }
void Api::AddMetricsCollector(std::function<void(std::string&)> collector) {
  std::lock_guard lock(impl_->collectors_mu_);
  impl_->collectors_.push_back(std::move(collector));
}
void Api::SetReady(bool ready) { impl_->ready_ = ready; }
void Api::SetChangeFeed(ChangeFeed* feed) { impl_->change_feed_ = feed; }
std::int64_t Api::Subscribers() const { return impl_->change_feed_ ? impl_->change_feed_->subscribers() : 0; }
void Api::StopWaiting() { impl_->waiters_.Stop(); }

}  // namespace pkgtrust::api
