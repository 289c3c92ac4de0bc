#include "pkgtrust/adoption/events.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <tuple>

#include "pkgtrust/core/package_name.hpp"
#include "pkgtrust/gateway/requests.hpp"

namespace pkgtrust::adoption {

namespace {

bool Succeeded(int status) { return status == 200 || status == 206; }

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

const EventStep::Target& EventStep::Classify(const store::RequestLogRow& row) {
  std::uint64_t id = 14695981039346656037ull;  // FNV-1a of the four, as the store's subjects
  auto mix = [&](std::string_view text) {
    for (unsigned char c : text) id = (id ^ c) * 1099511628211ull;
    id *= 1099511628211ull;
  };
  mix(row.ecosystem);
  mix(row.method);
  mix(std::string_view(reinterpret_cast<const char*>(&row.status), sizeof row.status));
  mix(row.path);
  auto [it, fresh] = targets_.try_emplace(id);
  if (fresh) {
    Target& t = it->second;
    t.event = ClassifyRequest(row.ecosystem, row.method, row.status, row.path);
    if (t.event.kind != RequestEvent::Kind::kNone) {
      t.package_subject = store::AdoptionSubject(t.event.key, "");
      t.version_subject = store::AdoptionSubject(t.event.key, t.event.version);
      t.file = store::AdoptionSubject({core::Ecosystem::kNpm, row.ecosystem}, row.path);
    }
  }
  return it->second;
}

bool EventStep::SeenWithinWindow(std::int64_t file, std::int64_t origin, core::Millis at) {
  auto [last, first] = recent_.try_emplace({file, origin}, at);
  if (first) return false;
  bool seen = last->second <= at && at - last->second < kRetryWindowMs;
  last->second = at;
  return seen;
}

void EventStep::Seed(const std::vector<store::RequestLogRow>& rows) {
  for (const auto& row : rows) {
    const Target& target = Classify(row);
    if (target.event.kind == RequestEvent::Kind::kDownload) SeenWithinWindow(target.file, row.origin, row.at);
  }
}

void EventStep::Add(const store::RequestLogRow& row) {
  const Target& target = Classify(row);
  const RequestEvent& event = target.event;
  if (event.kind == RequestEvent::Kind::kNone) {
    ignored++;
    return;
  }
  std::int64_t day = store::DayOf(row.at);
  auto [seen, first] = seen_.try_emplace(target.package_subject, event.key, row.at);
  if (!first) seen->second.second = std::min(seen->second.second, row.at);
  // The package's row: its origins count every origin that resolved or downloaded it.
  auto [package, fresh] = counts_.try_emplace({target.package_subject, day});
  if (fresh) package->second = {event.key, "", day};
  origins_.insert({target.package_subject, day, row.origin});
  if (event.kind == RequestEvent::Kind::kMetadata) {
    metadata++;
    package->second.metadata++;
    return;
  }
  if (SeenWithinWindow(target.file, row.origin, row.at)) {
    repeats++;
    return;
  }
  downloads++;
  package->second.downloads++;
  package->second.last_at = std::max(package->second.last_at, row.at);
  auto [version, new_version] = counts_.try_emplace({target.version_subject, day});
  if (new_version) version->second = {event.key, event.version, day};
  version->second.downloads++;
  version->second.last_at = std::max(version->second.last_at, row.at);
  origins_.insert({target.version_subject, day, row.origin});
}

store::AdoptionUpdate EventStep::Take(std::int64_t from_cursor, std::int64_t to_cursor) {
  store::AdoptionUpdate update;
  update.from_cursor = from_cursor;
  update.to_cursor = to_cursor;
  update.counts.reserve(counts_.size());
  for (auto& [key, count] : counts_) update.counts.push_back(std::move(count));
  update.origins.reserve(origins_.size());
  for (const auto& [subject, day, origin] : origins_) update.origins.push_back({subject, day, origin});
  // In key order: neighbouring inserts touch neighbouring pages of the origins table.
  std::sort(update.origins.begin(), update.origins.end(), [](const auto& a, const auto& b) {
    return std::tie(a.day, a.subject, a.origin) < std::tie(b.day, b.subject, b.origin);
  });
  for (auto& [key, seen] : seen_) update.seen.push_back(std::move(seen));
  counts_.clear();
  origins_.clear();
  seen_.clear();
  recent_.clear();
  targets_.clear();
  return update;
}

}  // namespace pkgtrust::adoption
