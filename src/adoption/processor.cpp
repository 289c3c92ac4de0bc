#include <fmt/format.h>

#include <future>
#include <map>
#include <nlohmann/json.hpp>

#include "pkgtrust/adoption/adoption.hpp"
#include "pkgtrust/adoption/events.hpp"
#include "pkgtrust/core/log.hpp"
#include "pkgtrust/core/metrics.hpp"
#include "pkgtrust/core/time.hpp"

namespace pkgtrust::adoption {

using core::Status;

Processor::Processor(store::Store& store, pipeline::Pipeline* pipeline, AdoptionConfig config,
                     const core::Clock& clock)
    : store_(store), pipeline_(pipeline), config_(std::move(config)), clock_(clock) {}

Processor::~Processor() { Stop(); }

void Processor::Start() {
  std::lock_guard lock(mu_);
  if (thread_.joinable() || stopping_) return;
  thread_ = std::thread([this] { Loop(); });
}

void Processor::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

// A step's rows and the rows just before them, as read.
struct Processor::Read {
  std::int64_t from = 0;
  std::vector<store::RequestLogRow> rows, before;
};

// A step counted, not yet applied.
struct Processor::Prepared {
  StepResult result;  // rows and the event counters
  store::AdoptionUpdate update;
};

core::Result<Processor::Read> Processor::ReadStep(std::int64_t from) {
  Read read;
  read.from = from;
  auto rows = store_.ReadRequestLog(from, config_.step_rows, /*full=*/false);
  if (!rows.ok()) return rows.status();
  read.rows = std::move(rows).value();
  if (read.rows.empty()) return read;
  core::Millis earliest = read.rows.front().at, latest = earliest;
  for (const auto& row : read.rows) {
    earliest = std::min(earliest, row.at);
    latest = std::max(latest, row.at);
  }
  // The requests just before the step decide whether its first downloads are repeats.
  auto before = store_.ReadRequestLogBefore(from, earliest - kRetryWindowMs, latest);
  if (!before.ok()) return before.status();
  read.before = std::move(before).value();
  return read;
}

Processor::Prepared Processor::Count(const Read& read) {
  Prepared prepared;
  prepared.result.rows = static_cast<std::int64_t>(read.rows.size());
  if (read.rows.empty()) return prepared;
  EventStep events;
  events.Seed(read.before);
  for (const auto& row : read.rows) events.Add(row);
  prepared.update = events.Take(read.from, read.rows.back().id);
  prepared.result.downloads = events.downloads;
  prepared.result.repeats = events.repeats;
  prepared.result.metadata = events.metadata;
  prepared.result.ignored = events.ignored;
  return prepared;
}

core::Result<StepResult> Processor::Apply(Prepared prepared) {
  StepResult result = std::move(prepared.result);
  auto applied = store_.ApplyAdoptionSync(std::move(prepared.update));
  if (!applied.ok()) return applied.status();
  result.applied = applied->applied;
  if (!result.applied) {
    lost_steps_++;
    return result;
  }
  result.first_seen = std::move(applied->first_seen);
  steps_++;
  rows_ += result.rows;
  downloads_ += result.downloads;
  repeats_ += result.repeats;
  metadata_ += result.metadata;
  ignored_ += result.ignored;
  first_seen_ += static_cast<std::int64_t>(result.first_seen.size());
  // Everything an organisation uses gets scored: a package first seen is submitted at
  // priority (a finished one is left as it is).
  if (pipeline_ != nullptr && !result.first_seen.empty()) {
    std::vector<store::EnqueueRequest> requests;
    for (const auto& key : result.first_seen) {
      store::EnqueueRequest request;
      request.key = key;
      request.priority = core::Priority::kPriority;
      request.restart_finished = false;
      requests.push_back(std::move(request));
    }
    pipeline_->SubmitAsync(std::move(requests), "adoption", [](auto submitted) {
      if (!submitted.ok())
        core::Log(core::LogLevel::kWarn, "adoption", "first-seen packages not submitted: {}",
                  submitted.status().message());
    });
  }
  return result;
}

core::Result<StepResult> Processor::StepOnce() {
  std::lock_guard step(step_mu_);
  auto cursors = store_.GetAdoptionCursors();
  if (!cursors.ok()) return cursors.status();
  auto read = ReadStep(cursors->log);
  if (!read.ok()) return read.status();
  if (read->rows.empty()) return StepResult{};
  return Apply(Count(*read));
}

core::Result<StepResult> Processor::ProcessAll(int max_steps) {
  std::lock_guard step(step_mu_);
  StepResult total;
  auto cursors = store_.GetAdoptionCursors();
  if (!cursors.ok()) return cursors.status();
  auto read = ReadStep(cursors->log);
  if (!read.ok()) return read.status();
  Prepared prepared = Count(*read);
  // While one step is applied (on the store's writer), the next is counted. Its rows are read
  // before the write starts: a read overlapping the writes would keep SQLite's WAL from
  // starting over after its checkpoints, and the WAL would grow without end.
  for (int i = 0; i < max_steps && prepared.result.rows > 0; ++i) {
    read = i + 1 < max_steps ? ReadStep(prepared.update.to_cursor) : core::Result<Read>(Read{});
    if (!read.ok()) return read.status();
    auto applying = std::async(std::launch::async, [this, &prepared] { return Apply(std::move(prepared)); });
    Prepared next = Count(*read);
    auto applied = applying.get();
    if (!applied.ok()) return applied.status();
    if (!applied->applied) break;  // another process got there first: the next step is stale too
    total.rows += applied->rows;
    total.applied = true;
    total.downloads += applied->downloads;
    total.repeats += applied->repeats;
    total.metadata += applied->metadata;
    total.ignored += applied->ignored;
    for (auto& key : applied->first_seen) total.first_seen.push_back(std::move(key));
    prepared = std::move(next);
  }
  return total;
}

namespace {

using nlohmann::json;

struct Flagged {
  std::string reason;
  std::string detail;
  std::vector<std::string> versions;  // empty: every version
};

// The reasons a change's report is flagged for, as alerts name them.
std::vector<Flagged> FlaggedReasons(const store::PackageChange& change, double min_score) {
  std::vector<Flagged> out;
  if (change.flags_json.empty()) return out;
  json flags = json::parse(change.flags_json, nullptr, false);
  if (!flags.is_object()) return out;
  auto truthy = [&](const char* name) {
    auto it = flags.find(name);
    return it != flags.end() && it->is_boolean() && it->get<bool>();
  };
  auto text = [&](const char* name) {
    auto it = flags.find(name);
    return it != flags.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  if (truthy("malicious") || truthy("has_malicious_versions")) {
    Flagged f{"malicious", text("advisory"), {}};
    if (!truthy("malicious"))
      if (auto it = flags.find("malicious_versions"); it != flags.end() && it->is_array())
        for (const auto& v : *it)
          if (v.is_string()) f.versions.push_back(v.get<std::string>());
    if (f.detail.empty()) f.detail = f.versions.empty() ? "named malicious" : "versions named malicious";
    out.push_back(std::move(f));
  }
  if (truthy("typosquatting")) out.push_back({"typosquat", "looks like " + text("looks_like"), {}});
  if (min_score > 0 && change.score && *change.score < min_score)
    out.push_back(
        {"below_min_score",
         fmt::format("score {:.1f} is below the gateway's min_score {:.1f}", *change.score, min_score),
         {}});
  return out;
}

bool AnyFlagged(const store::PackageChange& change, double min_score) {
  return !FlaggedReasons(change, min_score).empty();
}

}  // namespace

Status Processor::RaiseOrResolve(const store::PackageChange& change) {
  auto reasons = FlaggedReasons(change, config_.min_score);
  std::vector<std::string> names;
  for (const auto& r : reasons) names.push_back(r.reason);
  core::Millis now = clock_.NowMillis();
  if (auto resolved = store_.ResolveAlertsSync(change.key, names, now); !resolved.ok())
    return resolved.status();
  if (reasons.empty()) return Status::Ok();
  std::int64_t today = store::DayOf(now);
  auto adoption = store_.ReadAdoption(change.key, today - config_.exposure_days + 1, today);
  if (!adoption.ok()) return adoption.status();
  for (const Flagged& flagged : reasons) {
    // Per affected version: downloads, unique origins summed over the days, the last download.
    std::map<std::string, store::AdoptionDayRow> versions;
    for (const auto& row : adoption->rows) {
      if (row.version.empty() || row.downloads == 0) continue;
      if (!flagged.versions.empty() &&
          std::find(flagged.versions.begin(), flagged.versions.end(), row.version) == flagged.versions.end())
        continue;
      auto& sum = versions[row.version];
      sum.version = row.version;
      sum.downloads += row.downloads;
      sum.origins += row.origins;
      sum.last_at = std::max(sum.last_at, row.last_at);
    }
    if (versions.empty()) continue;  // nobody here downloaded an affected version
    store::ExposureAlert alert;
    alert.key = change.key;
    alert.reason = flagged.reason;
    alert.detail = flagged.detail;
    alert.exposure_days = config_.exposure_days;
    json list = json::array();
    for (const auto& [version, sum] : versions) {
      list.push_back({{"version", version},
                      {"downloads", sum.downloads},
                      {"origins", sum.origins},
                      {"last_download_at", core::FormatTimestamp(sum.last_at)}});
      alert.downloads += sum.downloads;
      alert.origins += sum.origins;
      alert.last_download_at = std::max(alert.last_download_at, sum.last_at);
    }
    alert.versions_json = list.dump();
    auto raised = store_.RaiseAlertSync(std::move(alert));
    if (!raised.ok()) return raised.status();
    if (raised->id != 0) {
      alerts_++;
      core::Log(core::LogLevel::kWarn, "adoption", "alert {}: {} is {} ({}): {} downloads by {} origins",
                raised->id, change.key.ToString(), raised->reason, raised->detail, raised->downloads,
                raised->origins);
    }
  }
  return Status::Ok();
}

core::Result<std::int64_t> Processor::AlertsOnce() {
  std::lock_guard step(step_mu_);
  auto cursors = store_.GetAdoptionCursors();
  if (!cursors.ok()) return cursors.status();
  std::int64_t before = alerts_.load();
  std::int64_t offset = cursors->alerts;
  // With no alert open, a change without a flag has nothing to resolve: no write for it.
  auto open = store_.ListAlerts(/*open_only=*/true, 0, 1);
  if (!open.ok()) return open.status();
  bool any_open = !open->empty();
  while (true) {
    auto changes = store_.ReadChanges(offset, 1'000);
    if (!changes.ok()) return changes.status();
    if (changes->empty()) break;
    for (const auto& change : *changes) {
      if (!change.alert_json.empty() || change.state != core::PackageState::kComplete) continue;
      if (!any_open && !AnyFlagged(change, config_.min_score)) continue;
      if (Status s = RaiseOrResolve(change); !s.ok()) return s;
      any_open = any_open || alerts_.load() > before;
    }
    offset = changes->back().offset;
    if (Status s = store_.SetAlertCursorSync(offset); !s.ok()) return s;
  }
  return alerts_.load() - before;
}

core::Result<std::int64_t> Processor::ExpireOnce() {
  core::Millis now = clock_.NowMillis();
  auto expired = store_.ExpireAdoptionSync(now - config_.retention_days * store::kMillisPerDay,
                                           store::DayOf(now) - config_.retention_days);
  if (expired.ok()) expired_ += *expired;
  return expired;
}

void Processor::Loop() {
  core::Millis last_expiry = 0;
  std::unique_lock lock(mu_);
  while (!stopping_) {
    lock.unlock();
    bool more = false;
    constexpr int kStepsPerRound = 8;  // then the alerts get their turn
    auto step = ProcessAll(kStepsPerRound);
    if (!step.ok()) {
      errors_++;
      core::Log(core::LogLevel::kError, "adoption", "processing the request log: {}",
                step.status().message());
    } else {
      more = step->rows >= kStepsPerRound * static_cast<std::int64_t>(config_.step_rows);
    }
    if (auto alerts = AlertsOnce(); !alerts.ok()) {
      errors_++;
      core::Log(core::LogLevel::kError, "adoption", "alerts: {}", alerts.status().message());
    }
    if (clock_.NowMillis() - last_expiry > 3'600'000) {
      last_expiry = clock_.NowMillis();
      if (auto expired = ExpireOnce(); !expired.ok())
        core::Log(core::LogLevel::kError, "adoption", "expiring the request log: {}",
                  expired.status().message());
    }
    lock.lock();
    if (!more) cv_.wait_for(lock, config_.process_interval, [&] { return stopping_; });
  }
}

void Processor::AppendPrometheus(std::string& out) const {
  core::AppendPrometheusHeader(out, "pkgtrust_adoption_events_total", "counter",
                               "Request log rows processed, by the event they were");
  for (auto [kind, n] : {std::pair{"download", &downloads_},
                         {"repeat", &repeats_},
                         {"metadata", &metadata_},
                         {"none", &ignored_}})
    core::AppendPrometheusSample(out, "pkgtrust_adoption_events_total", fmt::format("kind=\"{}\"", kind),
                                 static_cast<double>(n->load()));
  core::AppendPrometheusHeader(out, "pkgtrust_adoption_steps_total", "counter",
                               "Processing steps applied (lost: another process applied them first)");
  core::AppendPrometheusSample(out, "pkgtrust_adoption_steps_total", "outcome=\"applied\"",
                               static_cast<double>(steps_.load()));
  core::AppendPrometheusSample(out, "pkgtrust_adoption_steps_total", "outcome=\"lost\"",
                               static_cast<double>(lost_steps_.load()));
  core::AppendPrometheusHeader(out, "pkgtrust_adoption_first_seen_total", "counter",
                               "Packages seen for the first time (submitted for scoring)");
  core::AppendPrometheusSample(out, "pkgtrust_adoption_first_seen_total", "",
                               static_cast<double>(first_seen_.load()));
  core::AppendPrometheusHeader(out, "pkgtrust_adoption_alerts_total", "counter", "Exposure alerts raised");
  core::AppendPrometheusSample(out, "pkgtrust_adoption_alerts_total", "",
                               static_cast<double>(alerts_.load()));
  core::AppendPrometheusHeader(out, "pkgtrust_adoption_expired_rows_total", "counter",
                               "Request log rows deleted after adoption.retention_days");
  core::AppendPrometheusSample(out, "pkgtrust_adoption_expired_rows_total", "",
                               static_cast<double>(expired_.load()));
  core::AppendPrometheusHeader(out, "pkgtrust_adoption_errors_total", "counter", "Processing errors");
  core::AppendPrometheusSample(out, "pkgtrust_adoption_errors_total", "",
                               static_cast<double>(errors_.load()));
}

}  // namespace pkgtrust::adoption
