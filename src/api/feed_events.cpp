#include "feed_events.hpp"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "pkgtrust/core/json_limits.hpp"
#include "pkgtrust/core/package_name.hpp"
#include "pkgtrust/core/time.hpp"

namespace pkgtrust::api {

using json = nlohmann::json;

namespace {

// The feed names package-feeds publishes (each feed's FeedName constant under
// pkg/feeds/), to the ecosystem we score them as. `pypi-artifacts` sends one event per
// uploaded file of a version (its archive name in `artifact_id`); the package is the same.
// `maven` is not a name package-feeds uses; it is kept for events written by hand.
// nuget, packagist and rubygems are package-feeds feeds we do not score (ignored).
std::optional<core::Ecosystem> FeedEcosystem(std::string_view type) {
  if (type == "npm") return core::Ecosystem::kNpm;
  if (type == "pypi" || type == "pypi-artifacts") return core::Ecosystem::kPypi;
  if (type == "crates") return core::Ecosystem::kCrates;
  if (type == "goproxy") return core::Ecosystem::kGo;
  if (type == "maven-central" || type == "maven") return core::Ecosystem::kMaven;
  return std::nullopt;
}

constexpr std::size_t kMaxFieldBytes = 1024;

// An error message, or empty when the event is well formed. Fills `request` when scored.
std::string CheckEvent(const json& event, bool& ignored, store::EnqueueRequest& request) {
  if (!event.is_object()) return "an event must be a JSON object";
  for (const char* field : {"name", "version", "created_date", "type", "schema_ver"}) {
    auto it = event.find(field);
    if (it == event.end()) return fmt::format("missing field '{}'", field);
    if (!it->is_string()) return fmt::format("field '{}' must be a string", field);
    if (it->get_ref<const std::string&>().size() > kMaxFieldBytes)
      return fmt::format("field '{}' is longer than {} bytes", field, kMaxFieldBytes);
  }
  if (auto it = event.find("artifact_id"); it != event.end() && !it->is_string())
    return "field 'artifact_id' must be a string";
  // Minor versions of the schema only add fields (package.schema.json): any 1.x is read.
  const std::string& schema = event["schema_ver"].get_ref<const std::string&>();
  if (!schema.starts_with("1.") || schema.size() == 2 ||
      schema.find_first_not_of("0123456789", 2) != std::string::npos)
    return fmt::format("schema_ver '{}' is not supported (1.0, 1.1 or a later 1.x)", schema);
  const std::string& created = event["created_date"].get_ref<const std::string&>();
  // package-feeds marshals Go's time.Time, which always carries its offset ("Z" or "+02:00").
  // A time without one is ambiguous (whose local time?), so it is refused, not guessed.
  if (!core::IsRfc3339Timestamp(created))
    return fmt::format(
        "created_date '{}' is not an RFC 3339 time (e.g. 2026-11-20T10:00:00Z; the offset, Z or +hh:mm, is "
        "required)",
        created);
  const std::string& type = event["type"].get_ref<const std::string&>();
  auto ecosystem = FeedEcosystem(type);
  if (!ecosystem) {
    ignored = true;
    return {};
  }
  auto key = core::MakePackageKey(*ecosystem, event["name"].get_ref<const std::string&>());
  if (!key.ok()) return key.status().message();
  request.key = std::move(key).value();
  request.version = event["version"].get<std::string>();
  request.priority = core::Priority::kRegular;
  request.restart_finished = true;  // a new version: read the package again
  return {};
}

}  // namespace

FeedBatch ParseFeedEvents(std::string_view body) {
  FeedBatch batch;
  if (!core::JsonNestingWithin(body)) {
    batch.error = fmt::format("the body nests arrays or objects deeper than {} levels", core::kMaxJsonDepth);
    return batch;
  }
  json parsed = json::parse(body, nullptr, false);
  if (parsed.is_discarded()) {
    batch.error = "the body is not valid JSON";
    return batch;
  }
  if (!parsed.is_object() && !parsed.is_array()) {
    batch.error = "the body must be an event object or an array of events";
    return batch;
  }
  if (parsed.is_object()) parsed = json::array({std::move(parsed)});
  for (std::size_t i = 0; i < parsed.size(); ++i) {
    bool ignored = false;
    store::EnqueueRequest request;
    std::string error = CheckEvent(parsed[i], ignored, request);
    if (!error.empty())
      batch.rejected.push_back({i, std::move(error)});
    else if (ignored)
      batch.ignored++;
    else
      batch.accepted.push_back(std::move(request));
  }
  return batch;
}

}  // namespace pkgtrust::api
