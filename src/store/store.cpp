// The store's entry point: opens the implementation the configuration names, and the
// waiting forms of the asynchronous writes, shared by both implementations.
#include "pkgtrust/store/store.hpp"

#include <fmt/format.h>

#include "pkgtrust/core/json_limits.hpp"
#include "pkgtrust/core/time.hpp"
#include "postgres_store.hpp"
#include "sqlite_store.hpp"

namespace pkgtrust::store {

Result<std::unique_ptr<Store>> Store::Open(StoreConfig config, const core::Clock& clock) {
  switch (config.kind) {
    case StoreKind::kSqlite:
      return SqliteStore::Open(std::move(config), clock);
    case StoreKind::kPostgres:
      return PostgresStore::Open(std::move(config), clock);
  }
  return Status::InvalidArgument("unknown store kind");
}

Result<EnqueueResult> Store::EnqueueSync(EnqueueRequest request) {
  return WaitFor<EnqueueResult>([&](auto done) { Enqueue(std::move(request), std::move(done)); });
}

Result<TransitionResult> Store::TransitionSync(TransitionRequest request) {
  return WaitFor<TransitionResult>([&](auto done) { Transition(std::move(request), std::move(done)); });
}

Result<TransitionResult> Store::RecordFailureSync(FailureRequest request) {
  return WaitFor<TransitionResult>([&](auto done) { RecordFailure(std::move(request), std::move(done)); });
}

Result<std::vector<EnqueueResult>> Store::EnqueueManySync(std::vector<EnqueueRequest> requests) {
  return WaitFor<std::vector<EnqueueResult>>(
      [&](auto done) { EnqueueMany(std::move(requests), std::move(done)); });
}

std::int64_t AdoptionSubject(const core::PackageKey& key, std::string_view version) {
  std::uint64_t hash = 14695981039346656037ull;
  auto mix = [&](std::string_view text) {
    for (unsigned char c : text) {
      hash ^= c;
      hash *= 1099511628211ull;
    }
    hash *= 1099511628211ull;  // a 0 byte: the separator
  };
  mix(core::EcosystemName(key.ecosystem));
  mix(key.name);
  mix(version);
  return static_cast<std::int64_t>(hash);
}

std::string AlertJson(const ExposureAlert& alert) {
  auto time = [](core::Millis at) {
    return at > 0 ? "\"" + core::FormatTimestamp(at) + "\"" : std::string("null");
  };
  std::string out = fmt::format("{{\"id\":{},\"ecosystem\":\"{}\",\"name\":", alert.id,
                                core::EcosystemName(alert.key.ecosystem));
  core::AppendJsonString(out, alert.key.name);
  out += ",\"reason\":";
  core::AppendJsonString(out, alert.reason);
  out += ",\"detail\":";
  core::AppendJsonString(out, alert.detail);
  out += fmt::format(
      ",\"versions\":{},\"downloads\":{},\"origins\":{},\"last_download_at\":{},\"exposure_days\":{},"
      "\"created_at\":{},\"resolved_at\":{}}}",
      alert.versions_json.empty() ? "[]" : alert.versions_json, alert.downloads, alert.origins,
      time(alert.last_download_at), alert.exposure_days, time(alert.created_at), time(alert.resolved_at));
  return out;
}

}  // namespace pkgtrust::store
