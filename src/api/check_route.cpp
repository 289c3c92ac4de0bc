// POST /v1/check: the text of one lockfile, manifest or SBOM in (the body), the verdicts of
// `pkgtrust check --json` out, so that the web page and other clients check a file without
// the CLI. The file's name (?filename=) says its format unless ?format= does; the policy
// comes from parameters (fail_on, min_score, too_new_hours).
#include <sstream>

#include "api_impl.hpp"
#include "pkgtrust/check/render.hpp"
#include "pkgtrust/core/purl.hpp"

namespace pkgtrust::api {

namespace {

core::Status PolicyFromParams(const std::map<std::string, std::string>& params, check::Policy* policy) {
  policy->source = "request";
  for (const char* name : {"fail_on", "min_score", "too_new_hours"})
    if (auto it = params.find(name); it != params.end())
      if (auto set = check::SetPolicyOption(*policy, name, it->second, name); !set.ok()) return set;
  return core::Status::Ok();
}

}  // namespace

void Api::Impl::Check(const ServerRequest& request, const std::map<std::string, std::string>& params,
                      Responder respond) {
  std::string filename = params.contains("filename") ? params.at("filename") : "";
  std::optional<lockfile::Format> format;
  if (auto it = params.find("format"); it != params.end()) {
    format = lockfile::FormatFromName(it->second);
    if (!format)
      return respond(ErrorResponse(
          400, "invalid_parameter",
          fmt::format("unknown format '{}'; docs/check.md lists them", it->second.substr(0, 40))));
  } else if (!filename.empty()) {
    format = lockfile::DetectFormat(filename);
    if (!format)
      return respond(ErrorResponse(400, "invalid_parameter",
                                   fmt::format("cannot tell the format of '{}' from its name; give ?format=",
                                               filename.substr(0, 100))));
  } else {
    return respond(
        ErrorResponse(400, "invalid_parameter",
                      "POST /v1/check needs ?filename=package-lock.json (or ?format=package-lock)"));
  }
  if (filename.empty()) filename = std::string(lockfile::FormatName(*format));
  auto wait = WaitParam(params);
  if (!wait.ok()) return respond(ErrorResponse(400, "invalid_parameter", wait.status().message()));
  auto result = std::make_shared<check::CheckResult>();
  if (auto s = PolicyFromParams(params, &result->policy); !s.ok())
    return respond(ErrorResponse(400, "invalid_parameter", s.message()));

  // Reading a large lockfile and judging a thousand packages: on the API's pool.
  std::string request_id = RequestId(request, "check");
  renderer_.Post([this, result, format = *format, filename, text = request.body, wait = *wait, request_id,
                  respond = std::move(respond)]() mutable {
    // No file around it: a requirements file's `-r` includes cannot be read, and say so.
    auto parsed = lockfile::ParseLockfile(format, {filename, std::move(text), nullptr});
    if (!parsed.ok()) return respond(ErrorResponse(400, "invalid_lockfile", parsed.status().message()));
    result->files.push_back(filename);
    auto dependencies = std::make_shared<std::vector<lockfile::LockedDependency>>(std::move(*parsed));
    // Ten batch queries' worth: the lookups of one request must not crowd out everyone else's.
    std::size_t limit = 10 * config_.max_query_packages;
    auto lookups = std::make_shared<std::vector<check::Lookup>>(check::LookupsFor(*dependencies));
    if (lookups->size() > limit)
      return respond(ErrorResponse(
          413, "too_many_packages",
          fmt::format("{} distinct packages in one file; the limit is {} (10 x api.max_query_packages)",
                      lookups->size(), limit)));
    std::vector<pipeline::LookupRequest> requests;
    for (const check::Lookup& lookup : *lookups) requests.push_back({lookup.key, lookup.version});
    lookup_.LookupMany(std::move(requests), wait, request_id,
                       [this, result, dependencies, lookups, respond = std::move(respond)](
                           core::Result<std::vector<pipeline::LookupAnswer>> answers) {
                         if (!answers.ok()) {
                           if (answers.status().code() == core::StatusCode::kResourceExhausted)
                             return respond(ToResponse({.kind = pipeline::LookupAnswer::Kind::kOverloaded}));
                           return respond(StoreError(answers.status()));
                         }
                         // The entries POST /v1/packages:query answers (in the order asked), judged as the
                         // CLI judges them.
                         std::map<std::string, json> reports;
                         bool pending = false;
                         for (std::size_t i = 0; i < answers->size() && i < lookups->size(); ++i)
                           reports[(*lookups)[i].purl] = QueryEntry((*answers)[i], pending);
                         result->verdicts = check::JudgeAll(*dependencies, reports, result->policy,
                                                            core::SystemClock::Instance().NowMillis());
                         ServerResponse response = JsonResponse(200, check::RenderJson(*result));
                         if (pending)
                           response = WithRetryAfter(std::move(response), config_.retry_after_seconds);
                         respond(std::move(response));
                       });
  });
}

}  // namespace pkgtrust::api
