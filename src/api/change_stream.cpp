#include "pkgtrust/api/change_stream.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <nlohmann/json.hpp>
#include <unordered_map>

#include "pkgtrust/core/json_limits.hpp"
#include "pkgtrust/core/log.hpp"
#include "pkgtrust/core/purl.hpp"
#include "pkgtrust/core/time.hpp"

namespace pkgtrust::api {

using core::Status;
using json = nlohmann::json;
using Steady = std::chrono::steady_clock;

namespace {

std::optional<double> ParseNumber(const std::string& text) {
  double value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

bool AnyFlagSet(const std::string& flags_json) {
  if (flags_json.empty()) return false;
  json flags = json::parse(flags_json, nullptr, /*allow_exceptions=*/false);
  if (!flags.is_object()) return false;
  for (const auto& [name, value] : flags.items())
    if (value.is_boolean() && value.get<bool>()) return true;
  return false;
}

std::string Event(std::string_view event, std::string_view data, std::optional<std::int64_t> id = std::nullopt) {
  std::string out;
  if (id) out += fmt::format("id: {}\n", *id);
  out += fmt::format("event: {}\ndata: {}\n\n", event, data);
  return out;
}

}  // namespace

bool ChangeFilter::Matches(const store::PackageChange& change) const {
  if (ecosystem && change.key.ecosystem != *ecosystem) return false;
  if (!name_prefix.empty() && !change.key.name.starts_with(name_prefix)) return false;
  if (!change.alert_json.empty()) return true;  // an alert: flagged by definition, and it has no score
  if ((score_below || score_above) && !change.score) return false;
  if (score_below && !(*change.score < *score_below)) return false;
  if (score_above && !(*change.score > *score_above)) return false;
  if (any_flag && !AnyFlagSet(change.flags_json)) return false;
  return true;
}

core::Result<ChangeFilter> ChangeFilter::FromParams(const std::map<std::string, std::string>& params) {
  ChangeFilter filter;
  for (const auto& [name, value] : params) {
    if (name == "ecosystem") {
      auto eco = core::ParseEcosystemOrError(value);
      if (!eco.ok()) return eco.status();
      filter.ecosystem = *eco;
    } else if (name == "prefix") {
      filter.name_prefix = value;
    } else if (name == "score_below" || name == "score_above") {
      auto number = ParseNumber(value);
      if (!number) return Status::InvalidArgument(fmt::format("{} must be a number, got '{}'", name, value));
      (name == "score_below" ? filter.score_below : filter.score_above) = *number;
    } else if (name == "flagged") {
      if (value != "true" && value != "false")
        return Status::InvalidArgument(fmt::format("flagged must be true or false, got '{}'", value));
      filter.any_flag = value == "true";
    } else if (name != "offset" && name != "snapshot" && name != "tail") {  // the handler's
      return Status::InvalidArgument(fmt::format(
          "unknown parameter '{}' (expected ecosystem, prefix, score_below, score_above, flagged, "
          "offset, snapshot, tail)",
          name));
    }
  }
  return filter;
}

// --- the feed ---------------------------------------------------------------------------

ChangeStream::ChangeStream(store::Store& store, ChangeStreamConfig config)
    : store_(store), config_(config), workers_(std::max(1, config.threads), "changes") {
  if (auto bounds = store_.GetChangeLogBounds(); bounds.ok()) last_ = bounds->last;
}

ChangeStream::~ChangeStream() { Stop(); }

void ChangeStream::Start() {
  std::lock_guard lock(mu_);
  if (timer_) return;
  timer_ = std::make_unique<core::Timer>();
  timer_->Schedule(config_.poll_interval, [this] { Poll(); });
}

void ChangeStream::Stop() {
  std::unique_ptr<core::Timer> timer;
  {
    std::lock_guard lock(mu_);
    timer = std::move(timer_);
  }
  timer.reset();  // waits for a step under way; later ones are dropped
  workers_.Stop();
}

void ChangeStream::Notify() {
  std::lock_guard lock(mu_);
  if (notified_ || !timer_) return;  // a step is already on its way
  notified_ = true;
  timer_->Schedule(std::chrono::milliseconds(0), [this] { Step(); });
}

void ChangeStream::Poll() {
  Step();
  std::lock_guard lock(mu_);
  if (timer_) timer_->Schedule(config_.poll_interval, [this] { Poll(); });
}

// Written by hand, not through a JSON DOM: the state of a million packages is sent as a
// million of these. The flags are the JSON SQLite stored, embedded as they are.
std::string ChangeStream::EventData(const store::PackageChange& change) {
  std::string out;
  out.reserve(256 + change.flags_json.size());
  out += fmt::format(R"({{"offset":{},"ecosystem":"{}","name":)", change.offset,
                     core::EcosystemName(change.key.ecosystem));
  core::AppendJsonString(out, change.key.name);
  out += R"(,"purl":)";
  core::AppendJsonString(out, core::FormatPurl(core::PurlFromPackageKey(change.key)));
  out += fmt::format(R"(,"state":"{}","generation":{},"at":"{}")", core::PackageStateName(change.state),
                     change.generation, core::FormatTimestamp(change.committed_at));
  if (!change.alert_json.empty()) {  // an exposure alert (adoption): the alert, not the report
    out += R"(,"alert":)" + change.alert_json + '}';
    return out;
  }
  if (change.score) out += fmt::format(R"(,"score":{})", *change.score);
  if (!change.flags_json.empty() && change.flags_json.front() == '{') out += R"(,"flags":)" + change.flags_json;
  out += '}';
  return out;
}

void ChangeStream::Step() {
  std::unique_lock lock(mu_);
  notified_ = false;
  std::int64_t after = last_;
  lock.unlock();
  std::vector<std::shared_ptr<const Entry>> fresh;
  while (true) {
    auto changes = store_.ReadChanges(after, config_.page);
    if (!changes.ok()) {
      core::Log(core::LogLevel::kWarn, "changes", "reading the change log: {}", changes.status().message());
      break;
    }
    for (auto& change : *changes) {
      after = change.offset;
      auto entry = std::make_shared<Entry>();
      entry->data = EventData(change);
      entry->change = std::move(change);
      fresh.push_back(std::move(entry));
    }
    if (changes->size() < config_.page) break;
  }
  lock.lock();
  for (auto& entry : fresh) recent_.push_back(std::move(entry));
  while (recent_.size() > config_.recent_changes) recent_.pop_front();
  last_ = std::max(last_, after);
  // Wake who has something new, or whose heartbeat is due.
  auto now = Steady::now();
  std::vector<std::pair<std::function<void(bool)>, bool>> due;
  for (auto it = watchers_.begin(); it != watchers_.end();) {
    bool has_new = last_ > it->second.offset;
    if (has_new || now >= it->second.deadline) {
      due.emplace_back(std::move(it->second.wake), !has_new);
      it = watchers_.erase(it);
    } else {
      ++it;
    }
  }
  lock.unlock();
  for (auto& [wake, timed_out] : due) wake(timed_out);
}

bool ChangeStream::Recent(std::int64_t offset, std::size_t max,
                          std::vector<std::shared_ptr<const Entry>>* out) const {
  std::lock_guard lock(mu_);
  if (offset >= last_) return true;
  if (recent_.empty() || recent_.front()->change.offset > offset + 1) return false;
  // Offsets in memory increase; find the first above `offset`.
  auto it = std::upper_bound(recent_.begin(), recent_.end(), offset,
                             [](std::int64_t o, const auto& e) { return o < e->change.offset; });
  for (; it != recent_.end() && out->size() < max; ++it) out->push_back(*it);
  return true;
}

std::int64_t ChangeStream::Last() const {
  std::lock_guard lock(mu_);
  return last_;
}

std::uint64_t ChangeStream::Watch(std::int64_t offset, std::function<void(bool)> wake) {
  std::unique_lock lock(mu_);
  if (last_ > offset) {
    lock.unlock();
    wake(false);
    return 0;
  }
  std::uint64_t id = next_watch_++;
  auto deadline = Steady::now() + config_.heartbeat;
  watchers_[id] = {offset, deadline, std::move(wake)};
  if (timer_) timer_->ScheduleAt(deadline, [this] { Step(); });  // its heartbeat
  return id;
}

void ChangeStream::Unwatch(std::uint64_t id) {
  std::lock_guard lock(mu_);
  watchers_.erase(id);
}

// --- one subscriber -----------------------------------------------------------------------

namespace {

class ChangeSubscription final : public ResponseStream, public std::enable_shared_from_this<ChangeSubscription> {
 public:
  ChangeSubscription(ChangeStream& feed, ChangeFilter filter, std::optional<std::int64_t> resume_from,
                     std::optional<std::int64_t> tail)
      : feed_(feed), filter_(std::move(filter)), resume_from_(resume_from), tail_(tail) {
    feed_.AddSubscriber(1);
  }
  ~ChangeSubscription() override { feed_.AddSubscriber(-1); }

  void Cancel() override {
    std::lock_guard lock(mu_);
    cancelled_ = true;
    if (watch_ != 0) feed_.Unwatch(watch_);
    watch_ = 0;
  }

  // Called on the connection's strand (an HTTP I/O thread): the work goes to the feed's pool.
  void Next(std::function<void(std::string, bool)> deliver) override {
    feed_.Post([self = shared_from_this(), deliver = std::move(deliver)]() mutable { self->Produce(std::move(deliver)); });
  }

 private:
  void Produce(std::function<void(std::string, bool)> deliver) {
    std::string out;
    bool end = false;
    switch (phase_) {
      case Phase::kStart:
        Begin(&out);
        break;
      case Phase::kSnapshot:
        SnapshotPage(&out);
        break;
      case Phase::kChanges:
        end = Changes(&out);
        break;
    }
    if (!out.empty() || end) return deliver(std::move(out), end);
    // Caught up: wait for the next change or the heartbeat.
    std::weak_ptr<ChangeSubscription> weak = shared_from_this();
    {
      std::lock_guard lock(mu_);
      if (cancelled_) return deliver({}, true);
    }
    // Not under mu_: Watch may call back at once, and the callback takes mu_.
    std::uint64_t id = feed_.Watch(cursor_, [weak, deliver = std::move(deliver)](bool timed_out) mutable {
      auto self = weak.lock();
      if (!self) return;
      {
        std::lock_guard lock(self->mu_);
        self->watch_ = 0;
        if (self->cancelled_) return;
      }
      if (timed_out) return deliver(": heartbeat\n\n", false);
      // From the feed's thread to the pool: reading the log must not hold up the feed.
      self->feed_.Post([self, deliver = std::move(deliver)] {
        std::string more;
        bool end = self->Changes(&more);
        // Filtered out entirely: a comment keeps the loop going without an event.
        deliver(more.empty() ? std::string(": \n\n") : std::move(more), end);
      });
    });
    std::lock_guard lock(mu_);
    if (id != 0 && cancelled_) feed_.Unwatch(id);
    else if (id != 0) watch_ = id;
  }

  enum class Phase { kStart, kSnapshot, kChanges };

  void Begin(std::string* out) {
    auto bounds = feed_.store().GetChangeLogBounds();
    if (!bounds.ok()) {
      *out = Event("error", json{{"reason", bounds.status().message()}}.dump());
      phase_ = Phase::kChanges;
      cursor_ = feed_.Last();
      return;
    }
    if (resume_from_) {
      if (*resume_from_ >= bounds->first - 1 && *resume_from_ <= bounds->last) {
        cursor_ = *resume_from_;
        phase_ = Phase::kChanges;
        *out = ": resuming\n\n";
        return;
      }
      *out = Event("reset", json{{"reason", fmt::format("offset {} is not in the change log (it holds {} to {}); "
                                                        "the state follows again",
                                                        *resume_from_, bounds->first, bounds->last)},
                                 {"first", bounds->first},
                                 {"last", bounds->last}}
                                .dump());
    }
    if (tail_) {
      // No state (also after a refused resume): the last `tail` offsets of the log, then
      // what comes.
      cursor_ = std::max(bounds->first - 1, bounds->last - *tail_);
      phase_ = Phase::kChanges;
      *out += Event("snapshot_end", json{{"offset", cursor_}, {"snapshot", false}}.dump(), cursor_);
      return;
    }
    // The state as of offset S, then the changes after S.
    snapshot_offset_ = bounds->last;
    phase_ = Phase::kSnapshot;
    SnapshotPage(out);
  }

  void SnapshotPage(std::string* out) {
    auto page = feed_.store().ReadState(snapshot_after_id_, feed_.config().snapshot_page);
    if (!page.ok()) {
      *out += Event("error", json{{"reason", page.status().message()}}.dump());
      return;
    }
    snapshot_after_id_ = page->next_after_id;
    for (const store::PackageChange& row : page->packages) {
      // Changed after S while the state was read: its change events up to this one are
      // already shown by this row (or, filtered out, superseded by it).
      if (row.offset > snapshot_offset_) shown_[row.key.ToString()] = row.offset;
      if (!filter_.Matches(row)) continue;
      *out += Event("snapshot", ChangeStream::EventData(row));
    }
    if (page->done) {
      *out += Event("snapshot_end", json{{"offset", snapshot_offset_}}.dump(), snapshot_offset_);
      cursor_ = snapshot_offset_;
      phase_ = Phase::kChanges;
    }
  }

  // The changes after the cursor that are there now, from memory or from the log. Returns
  // true when the subscriber is cut off (its offset has left the log).
  bool Changes(std::string* out) {
    std::vector<std::shared_ptr<const ChangeStream::Entry>> entries;
    std::size_t page = feed_.config().page;
    if (!feed_.Recent(cursor_, page, &entries)) {
      auto bounds = feed_.store().GetChangeLogBounds();
      if (bounds.ok() && cursor_ < bounds->first - 1) {
        *out += Event("reset", json{{"reason", fmt::format("fell behind: offset {} has left the change log (it "
                                                           "holds {} to {}); reconnect without an offset",
                                                           cursor_, bounds->first, bounds->last)},
                                    {"first", bounds->first},
                                    {"last", bounds->last}}
                                   .dump());
        return true;
      }
      auto changes = feed_.store().ReadChanges(cursor_, page);
      if (!changes.ok()) return false;
      for (auto& change : *changes) {
        auto entry = std::make_shared<ChangeStream::Entry>();
        entry->data = ChangeStream::EventData(change);
        entry->change = std::move(change);
        entries.push_back(std::move(entry));
      }
    }
    for (const auto& entry : entries) {
      if (out->size() >= feed_.config().chunk_bytes) break;  // the rest in the next chunk
      const store::PackageChange& change = entry->change;
      cursor_ = change.offset;
      if (!shown_.empty()) {
        auto it = shown_.find(change.key.ToString());
        if (it != shown_.end()) {
          if (change.offset <= it->second) continue;  // its snapshot row already showed it
          shown_.erase(it);
        }
      }
      if (!filter_.Matches(change)) continue;
      *out += Event(change.alert_json.empty() ? "change" : "alert", entry->data, change.offset);
    }
    return false;
  }

  ChangeStream& feed_;
  ChangeFilter filter_;
  std::optional<std::int64_t> resume_from_;
  std::optional<std::int64_t> tail_;  // ?snapshot=false: start this many offsets back, without the state
  Phase phase_ = Phase::kStart;
  std::int64_t cursor_ = 0;
  std::int64_t snapshot_offset_ = 0;
  std::int64_t snapshot_after_id_ = 0;
  std::unordered_map<std::string, std::int64_t> shown_;  // packages whose snapshot row is newer than S
  std::mutex mu_;
  bool cancelled_ = false;
  std::uint64_t watch_ = 0;
};

}  // namespace

std::shared_ptr<ResponseStream> MakeChangeSubscription(ChangeStream& feed, ChangeFilter filter,
                                                       std::optional<std::int64_t> resume_from,
                                                       std::optional<std::int64_t> tail) {
  return std::make_shared<ChangeSubscription>(feed, std::move(filter), resume_from, tail);
}

}  // namespace pkgtrust::api
