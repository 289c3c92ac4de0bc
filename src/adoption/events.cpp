#include "pkgtrust/adoption/events.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>

#include "pkgtrust/core/package_name.hpp"
#include "pkgtrust/gateway/requests.hpp"

namespace pkgtrust::adoption {

namespace {

bool Succeeded(int status) { return status == 200 || status == 206; }

std::string CountKeyOf(std::string_view eco, std::string_view name, std::string_view version,
                       std::int64_t day) {
  std::string key;
  key.reserve(eco.size() + name.size() + version.size() + 24);
  key.append(eco).push_back('\0');
  key.append(name).push_back('\0');
  key.append(version).push_back('\0');
  key.append(std::to_string(day));
  return key;
}

}  // namespace

core::Result<std::pair<core::PackageKey, std::string>> PypiFileVersion(std::string_view filename) {
  std::string_view stem;
  if (filename.ends_with(".whl")) {
    stem = filename.substr(0, filename.size() - 4);
    std::size_t dash = stem.find('-');
    std::size_t next = dash == std::string_view::npos ? dash : stem.find('-', dash + 1);
    if (next == std::string_view::npos)
      return core::Status::InvalidArgument(fmt::format("'{}' is not a wheel's name", filename));
    auto key = core::MakePackageKey(core::Ecosystem::kPypi, stem.substr(0, dash));
    if (!key.ok()) return key.status();
    return std::pair{std::move(key).value(), std::string(stem.substr(dash + 1, next - dash - 1))};
  }
  for (std::string_view ext : {".tar.gz", ".zip", ".tar.bz2", ".tgz", ".tar.xz", ".egg"}) {
    if (!filename.ends_with(ext)) continue;
    stem = filename.substr(0, filename.size() - ext.size());
    // The version starts after the last '-' that a digit follows ("my-pkg-1.0" -> "1.0").
    for (std::size_t dash = stem.rfind('-'); dash != std::string_view::npos && dash > 0;
         dash = stem.rfind('-', dash - 1)) {
      if (dash + 1 < stem.size() && std::isdigit(static_cast<unsigned char>(stem[dash + 1]))) {
        auto key = core::MakePackageKey(core::Ecosystem::kPypi, stem.substr(0, dash));
        if (!key.ok()) return key.status();
        return std::pair{std::move(key).value(), std::string(stem.substr(dash + 1))};
      }
      if (dash == 0) break;
    }
    break;
  }
  return core::Status::InvalidArgument(fmt::format("'{}' is not a PyPI file name", filename));
}

std::string MajorOf(std::string_view version) {
  if (version.starts_with('v') || version.starts_with('V')) version.remove_prefix(1);
  std::size_t n = 0;
  while (n < version.size() && std::isdigit(static_cast<unsigned char>(version[n]))) ++n;
  if (n == 0) return {};
  std::string_view digits = version.substr(0, n);
  while (digits.size() > 1 && digits.front() == '0') digits.remove_prefix(1);
  return std::string(digits);
}

RequestEvent ClassifyRequest(std::string_view ecosystem, std::string_view method, int status,
                             std::string_view path) {
  RequestEvent event;
  if (method != "GET") return event;
  if (ecosystem == "npm") {
    auto parsed = gateway::ParseNpmRequest(path);
    if (!parsed.ok()) return event;
    if (parsed->kind == gateway::NpmRequest::Kind::kPackument && (status == 200 || status == 304)) {
      event.kind = RequestEvent::Kind::kMetadata;
      event.key = parsed->key;
    } else if (parsed->kind == gateway::NpmRequest::Kind::kTarball && Succeeded(status)) {
      event.kind = RequestEvent::Kind::kDownload;
      event.key = parsed->key;
      event.version = parsed->version;
    }
    return event;
  }
  if (ecosystem == "pypi") {
    auto parsed = gateway::ParsePypiRequest(path);
    if (!parsed.ok()) return event;
    if (parsed->kind == gateway::PypiRequest::Kind::kProjectPage || parsed->metadata) {
      if (status != 200 && status != 304) return event;
      event.kind = RequestEvent::Kind::kMetadata;
      event.key = parsed->key;
      return event;
    }
    if (!Succeeded(status)) return event;
    auto file = PypiFileVersion(parsed->filename);
    if (!file.ok()) return event;
    event.kind = RequestEvent::Kind::kDownload;
    event.key = parsed->key;
    event.version = std::move(file->second);
  }
  return event;
}

bool EventStep::SeenWithinWindow(const store::RequestLogRow& row) {
  std::string key = row.ecosystem;
  key.push_back('\0');
  key += row.path;
  key.push_back('\0');
  key.append(reinterpret_cast<const char*>(&row.origin), sizeof row.origin);
  auto& times = recent_[std::move(key)];
  bool seen = std::any_of(times.begin(), times.end(),
                          [&](core::Millis t) { return t <= row.at && row.at - t < kRetryWindowMs; });
  // Only times that can still matter are kept (rows come roughly in time order).
  std::erase_if(times, [&](core::Millis t) { return t < row.at - kRetryWindowMs; });
  times.push_back(row.at);
  return seen;
}

void EventStep::Seed(const std::vector<store::RequestLogRow>& rows) {
  for (const auto& row : rows) {
    auto event = ClassifyRequest(row.ecosystem, row.method, row.status, row.path);
    if (event.kind == RequestEvent::Kind::kDownload) SeenWithinWindow(row);
  }
}

void EventStep::Add(const store::RequestLogRow& row) {
  auto event = ClassifyRequest(row.ecosystem, row.method, row.status, row.path);
  if (event.kind == RequestEvent::Kind::kNone) {
    ignored++;
    return;
  }
  std::int64_t day = store::DayOf(row.at);
  std::string_view eco = core::EcosystemName(event.key.ecosystem);
  std::string seen_key = std::string(eco) + '\0' + event.key.name;
  auto [seen, inserted] = seen_.try_emplace(seen_key, event.key, row.at);
  if (!inserted) seen->second.second = std::min(seen->second.second, row.at);
  // The package's row: its origins count every origin that resolved or downloaded it.
  std::string package_key = CountKeyOf(eco, event.key.name, "", day);
  auto [package, fresh] = counts_.try_emplace(package_key);
  if (fresh) package->second = {event.key, "", day};
  std::string origin_suffix(reinterpret_cast<const char*>(&row.origin), sizeof row.origin);
  origins_.try_emplace(package_key + '\0' + origin_suffix,
                       store::AdoptionOrigin{event.key, "", day, row.origin});
  if (event.kind == RequestEvent::Kind::kMetadata) {
    metadata++;
    package->second.metadata++;
    return;
  }
  if (SeenWithinWindow(row)) {
    repeats++;
    return;
  }
  downloads++;
  package->second.downloads++;
  package->second.last_at = std::max(package->second.last_at, row.at);
  std::string version_key = CountKeyOf(eco, event.key.name, event.version, day);
  auto [version, new_version] = counts_.try_emplace(version_key);
  if (new_version) version->second = {event.key, event.version, day};
  version->second.downloads++;
  version->second.last_at = std::max(version->second.last_at, row.at);
  origins_.try_emplace(version_key + '\0' + origin_suffix,
                       store::AdoptionOrigin{event.key, event.version, day, row.origin});
}

store::AdoptionUpdate EventStep::Take(std::int64_t from_cursor, std::int64_t to_cursor) {
  store::AdoptionUpdate update;
  update.from_cursor = from_cursor;
  update.to_cursor = to_cursor;
  update.counts.reserve(counts_.size());
  for (auto& [key, count] : counts_) update.counts.push_back(std::move(count));
  update.origins.reserve(origins_.size());
  for (auto& [key, origin] : origins_) update.origins.push_back(std::move(origin));
  for (auto& [key, seen] : seen_) update.seen.push_back(std::move(seen));
  counts_.clear();
  origins_.clear();
  seen_.clear();
  recent_.clear();
  return update;
}

}  // namespace pkgtrust::adoption
