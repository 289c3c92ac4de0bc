// The package routes: one package, a purl, a batch query, refresh, search.
#include "api_impl.hpp"
#include "pkgtrust/core/json_limits.hpp"
#include "pkgtrust/core/package_name.hpp"
#include "pkgtrust/core/percent_encoding.hpp"
#include "pkgtrust/core/purl.hpp"
#include "pkgtrust/pipeline/stage_handlers.hpp"

namespace pkgtrust::api {

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

ServerResponse Api::Impl::ToResponse(const pipeline::LookupAnswer& answer) const {
  using Kind = pipeline::LookupAnswer::Kind;
  const PackageKey& key = answer.key;
  switch (answer.kind) {
    case Kind::kReport: {
      ServerResponse response;
      response.body = *answer.report;
      return response;
    }
    case Kind::kNotFound:
      return ErrorResponse(404, "package_not_found",
                           fmt::format("{} package '{}' does not exist in its registry",
                                       core::EcosystemName(key.ecosystem), key.name));
    case Kind::kStoreError:
      return StoreError(answer.error);
    case Kind::kReportError:
      return ErrorResponse(500, "report_unavailable", answer.error.message());
    case Kind::kOverloaded:
      return WithRetryAfter(
          ErrorResponse(429, "overloaded", "too many requests are waiting for packages; retry shortly"), 1);
    case Kind::kPending:
      break;
  }
  store::PackageRecord pending;
  if (answer.record)
    pending = *answer.record;
  else
    pending.key = key;
  return WithRetryAfter(JsonResponse(202, PendingBody(pending, config_.retry_after_seconds)),
                        config_.retry_after_seconds);
}

void Api::Impl::AnswerPackage(const PackageKey& key, std::chrono::milliseconds wait,
                              const std::string& request_id, Responder respond, std::string version) {
  lookup_.Lookup(
      {key, std::move(version)}, wait, request_id,
      [this, respond = std::move(respond)](pipeline::LookupAnswer answer) { respond(ToResponse(answer)); });
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
  if (auto s = CheckVersion(version); !s.ok())
    return respond(ErrorResponse(400, "invalid_parameter", s.message()));
  AnswerPackage(*key, *wait, RequestId(request, "api"), std::move(respond), std::move(version));
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
      return respond(
          ErrorResponse(400, "invalid_parameter",
                        "the purl names version " + version.substr(0, 60) + " and ?version= another"));
    version = it->second;
    if (version.empty()) return respond(ErrorResponse(400, "invalid_parameter", "version must not be empty"));
  }
  if (auto s = CheckVersion(version); !s.ok())
    return respond(ErrorResponse(400, "invalid_purl", s.message()));
  AnswerPackage(*key, *wait, RequestId(request, "api"), std::move(respond), std::move(version));
}

json Api::Impl::QueryEntry(const pipeline::LookupAnswer& answer, bool& pending) const {
  ServerResponse response = ToResponse(answer);
  json body = json::parse(response.body, nullptr, false);
  if (response.status == 202) pending = true;
  if (response.status == 404 || response.status >= 500) {
    json entry = {{"ecosystem", core::EcosystemName(answer.key.ecosystem)},
                  {"name", answer.key.name},
                  {"purl", PurlOf(answer.key)},
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
        400, "invalid_json",
        fmt::format("the body nests arrays or objects deeper than {} levels", core::kMaxJsonDepth)));
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
    std::vector<pipeline::LookupRequest> requests;
    for (const Entry& entry : *entries)
      if (entry.key) requests.push_back({*entry.key, entry.version});
    lookup_.LookupMany(
        std::move(requests), wait, request_id,
        [this, entries,
         respond = std::move(respond)](core::Result<std::vector<pipeline::LookupAnswer>> answers) {
          if (!answers.ok()) {
            if (answers.status().code() == core::StatusCode::kResourceExhausted)
              return respond(ToResponse({.kind = pipeline::LookupAnswer::Kind::kOverloaded}));
            return respond(StoreError(answers.status()));
          }
          json results = json::array();
          bool pending = false;
          std::size_t next = 0;  // the answers are in the order of the valid entries
          for (const Entry& entry : *entries) {
            if (!entry.key) {
              results.push_back({{"input", entry.input},
                                 {"status", "invalid"},
                                 {"error", {{"code", "invalid_package"}, {"message", entry.error}}}});
              continue;
            }
            results.push_back(QueryEntry((*answers)[next++], pending));
          }
          ServerResponse response = JsonResponse(200, {{"results", std::move(results)}});
          if (pending) response = WithRetryAfter(std::move(response), config_.retry_after_seconds);
          respond(std::move(response));
        });
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
  std::vector<store::EnqueueRequest> runs;
  runs.push_back(std::move(run));
  pipeline_.SubmitAsync(
      std::move(runs), RequestId(request, "refresh"),
      [this, key = *key,
       respond = std::move(respond)](core::Result<std::vector<store::EnqueueResult>> submitted) {
        if (!submitted.ok()) return respond(StoreError(submitted.status()));
        lookup_.Forget(key);  // the next GET sees the run in flight, not the cached report
        const store::EnqueueResult& result = submitted->front();
        respond(WithRetryAfter(
            JsonResponse(202, {{"ecosystem", core::EcosystemName(key.ecosystem)},
                               {"name", key.name},
                               {"purl", PurlOf(key)},
                               {"status", core::PackageStateName(result.record.state)},
                               {"generation", result.record.generation},
                               {"started", result.outcome == store::EnqueueOutcome::kStarted}}),
            config_.retry_after_seconds));
      });
}

// GET /v1/packages/{ecosystem}/{name}:versions: the version timeline, from the stored facts
// only (no run is started: the page asks for the report first).
void Api::Impl::Versions(std::string_view rest, const std::map<std::string, std::string>& params,
                         Responder respond) {
  constexpr std::string_view kSuffix = ":versions";  // the route ends with it
  ServerResponse key_error;
  auto key = KeyFromPath(rest.substr(0, rest.size() - kSuffix.size()), &key_error);
  if (!key.ok()) return respond(std::move(key_error));
  std::size_t limit = 100;
  for (const auto& [name, value] : params) {
    if (name != "limit")
      return respond(
          ErrorResponse(400, "invalid_parameter",
                        fmt::format("unknown parameter '{}' (expected limit)", name.substr(0, 60))));
    char* end = nullptr;
    long parsed = std::strtol(value.c_str(), &end, 10);
    if (value.empty() || *end != '\0' || parsed < 1 || parsed > 1000)
      return respond(ErrorResponse(400, "invalid_parameter", "limit must be a whole number from 1 to 1000"));
    limit = static_cast<std::size_t>(parsed);
  }
  renderer_.Post([this, key = *key, limit, respond = std::move(respond)] {
    auto facts = store_.GetFacts(key);
    if (!facts.ok()) return respond(StoreError(facts.status()));
    auto timeline = pipeline::BuildVersionTimeline(key, *facts, limit);
    if (!timeline.ok())
      return respond(ErrorResponse(
          404, "package_not_read",
          fmt::format(
              "{} package '{}' has not been read from its registry yet; GET /v1/packages/{}/{} reads it",
              core::EcosystemName(key.ecosystem), key.name, core::EcosystemName(key.ecosystem), key.name)));
    respond(JsonResponse(200, *timeline));
  });
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
    auto score = store_.GetFact(record.key, store::kScoreFact);
    if (score.ok() && *score)
      if (json summary = pipeline::ScoreSummary(**score); summary.is_object()) item.update(summary);
    packages.push_back(std::move(item));
  }
  respond(JsonResponse(200, {{"packages", std::move(packages)},
                             {"next_after", more ? json(records->back().key.name) : json(nullptr)}}));
}

}  // namespace pkgtrust::api
