#include "pkgtrust/pipeline/package_lookup.hpp"

#include <nlohmann/json.hpp>
#include <unordered_set>

#include "pkgtrust/core/log.hpp"
#include "pkgtrust/pipeline/report.hpp"

namespace pkgtrust::pipeline {

using json = nlohmann::json;
using core::PackageKey;
using core::PackageState;

namespace {

// A lookup restarts only the run it saw: none (a run that appeared and finished since is
// answered as it is), or a finished one that was stale. A run it saw in flight is joined, and
// if that run finished in the meantime its result is the answer: restarting it would fetch the
// package a second time for every request that polled while it ran.
void RestartOnlyWhatWasSeen(store::EnqueueRequest& request, const std::optional<store::PackageRecord>& seen) {
  if (seen && core::IsInFlight(seen->state)) {
    request.restart_finished = false;
    return;
  }
  request.restart_finished = true;
  request.restart_generation = seen ? seen->generation : 0;
}

store::EnqueueRequest RunAtPriority(const PackageKey& key, const std::optional<store::PackageRecord>& seen) {
  store::EnqueueRequest run;
  run.key = key;
  run.priority = core::Priority::kPriority;
  RestartOnlyWhatWasSeen(run, seen);
  return run;
}

LookupAnswer StoreErrorAnswer(const PackageKey& key, core::Status error) {
  LookupAnswer answer;
  answer.kind = LookupAnswer::Kind::kStoreError;
  answer.key = key;
  answer.error = std::move(error);
  return answer;
}

}  // namespace

PackageLookup::PackageLookup(LookupConfig config, store::Store& store, Pipeline& pipeline,
                             core::Executor& answer_on, const core::Clock& clock)
    : config_(config), store_(store), pipeline_(pipeline), answer_on_(answer_on), clock_(clock) {
  if (config_.recheck_interval.count() > 0) recheck_timer_ = std::make_unique<core::Timer>();
}

PackageLookup::~PackageLookup() { waiters_.Stop(); }

bool PackageLookup::IsFresh(const store::PackageRecord& record) const {
  core::Millis age = clock_.NowMillis() - record.state_since;
  if (record.state == PackageState::kComplete)
    return config_.refresh_after.count() == 0 || age < config_.refresh_after.count();
  if (record.state == PackageState::kNotFound) return age < config_.not_found_recheck.count();
  return false;
}

bool PackageLookup::UnlistedVersionDue(bool unlisted, core::Millis state_since) const {
  return unlisted && clock_.NowMillis() - state_since >= config_.unlisted_version_recheck.count();
}

std::shared_ptr<const std::string> PackageLookup::CachedReport(const PackageKey& key,
                                                               core::Millis* state_since) {
  std::lock_guard lock(cache_mu_);
  auto it = cache_.find(key);
  if (it == cache_.end() || it->second.state != PackageState::kComplete ||
      Steady::now() - it->second.built >= config_.report_cache_ttl)
    return nullptr;
  store::PackageRecord record;
  record.state = it->second.state;
  record.state_since = it->second.state_since;
  *state_since = record.state_since;
  return IsFresh(record) ? it->second.text : nullptr;
}

core::Result<std::shared_ptr<const std::string>> PackageLookup::ReportText(
    const store::PackageRecord& record) {
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

std::shared_ptr<const std::string> PackageLookup::WithVersion(
    const PackageKey& key, std::string_view version, const std::shared_ptr<const std::string>& report,
    bool* unlisted) {
  auto facts = store_.GetFacts(key);
  if (!facts.ok() || report->empty() || report->back() != '}') return report;
  std::string text = *report;
  text.pop_back();
  text += R"(,"version":)";
  json section = VersionSection(key, *facts, version);
  *unlisted = !section.value("exists", false);
  text += section.dump(-1, ' ', false, json::error_handler_t::replace);
  text += '}';
  return std::make_shared<const std::string>(std::move(text));
}

LookupAnswer PackageLookup::Answer(const PackageKey& key, const std::optional<store::PackageRecord>& record,
                                   std::string_view version) {
  LookupAnswer answer;
  answer.key = key;
  answer.record = record;
  if (!record) return answer;  // kPending: not known yet
  if (record->state == PackageState::kNotFound) {
    answer.kind = LookupAnswer::Kind::kNotFound;
    return answer;
  }
  // Complete, or an older report while a new run is under way.
  auto text = ReportText(*record);
  if (text.ok()) {
    answer.kind = LookupAnswer::Kind::kReport;
    answer.report = version.empty() ? *text : WithVersion(key, version, *text, &answer.version_unlisted);
    return answer;
  }
  if (record->state == PackageState::kComplete) {
    core::Log(core::LogLevel::kError, "lookup", "{}: complete without a report: {}", key.ToString(),
              text.status().message());
    answer.kind = LookupAnswer::Kind::kReportError;
    answer.error = text.status();
  }
  return answer;  // kPending: in flight or failed, no report yet
}

void PackageLookup::SubmitAndWait(std::vector<std::string> keys, std::vector<store::EnqueueRequest> runs,
                                  std::chrono::milliseconds wait, std::string_view request_id,
                                  std::function<void(const core::Status& failed)> answer) {
  auto answered = std::make_shared<std::atomic<bool>>(false);
  auto once = [this, answered, answer = std::move(answer)](core::Status failed) {
    if (answered->exchange(true)) return;
    answer_on_.Post([answer, failed = std::move(failed)] { answer(failed); });
  };
  // Wait first, then submit: a run that finishes in between still wakes this lookup.
  auto deadline = Steady::now() + wait;
  waiters_.Wait(std::move(keys), deadline, [once] { once(core::Status::Ok()); });
  pipeline_.SubmitAsync(
      std::move(runs), request_id,
      [this, once, answered, deadline](core::Result<std::vector<store::EnqueueResult>> submitted) {
        if (!submitted.ok()) return once(submitted.status());
        auto recheck = std::make_shared<Recheck>();
        recheck->answered = answered;
        recheck->deadline = deadline;
        for (const store::EnqueueResult& result : *submitted) {
          // Another lookup's run finished since the read: answer with its result.
          if (result.outcome == store::EnqueueOutcome::kUnchanged)
            waiters_.Notify(result.record.key.ToString());
          else if (core::IsInFlight(result.record.state))
            recheck->runs.emplace_back(result.record.key, result.record.generation);
        }
        if (recheck_timer_ && !recheck->runs.empty()) ScheduleRecheck(std::move(recheck));
      });
}

void PackageLookup::ScheduleRecheck(std::shared_ptr<Recheck> recheck) {
  recheck_timer_->Schedule(config_.recheck_interval, [this, recheck] {
    if (recheck->answered->load() || Steady::now() >= recheck->deadline) return;
    std::erase_if(recheck->runs, [this](const std::pair<PackageKey, std::int64_t>& run) {
      auto record = store_.Get(run.first);
      bool finished = record.ok() && *record &&
                      ((*record)->generation > run.second || !core::IsInFlight((*record)->state));
      if (finished) waiters_.Notify(run.first.ToString());
      return finished;
    });
    if (!recheck->runs.empty()) ScheduleRecheck(recheck);
  });
}

void PackageLookup::Lookup(const LookupRequest& request, std::chrono::milliseconds wait,
                           std::string_view request_id, Done done) {
  const PackageKey& key = request.key;
  core::Millis cached_since = 0;
  if (auto cached = CachedReport(key, &cached_since)) {
    LookupAnswer answer;
    answer.kind = LookupAnswer::Kind::kReport;
    answer.key = key;
    answer.report = request.version.empty()
                        ? cached
                        : WithVersion(key, request.version, cached, &answer.version_unlisted);
    if (!UnlistedVersionDue(answer.version_unlisted, cached_since)) return done(std::move(answer));
  }
  auto record = store_.Get(key);
  if (!record.ok()) return done(StoreErrorAnswer(key, record.status()));
  if (*record && IsFresh(**record)) {
    LookupAnswer answer = Answer(key, *record, request.version);
    if (!UnlistedVersionDue(answer.version_unlisted, (*record)->state_since)) return done(std::move(answer));
  }
  if (waiters_.Waiting() >= config_.max_waiting) {
    refused_.fetch_add(1, std::memory_order_relaxed);
    LookupAnswer answer;
    answer.kind = LookupAnswer::Kind::kOverloaded;
    answer.key = key;
    return done(std::move(answer));
  }
  ondemand_.fetch_add(1, std::memory_order_relaxed);
  auto start = Steady::now();
  SubmitAndWait({key.ToString()}, {RunAtPriority(key, *record)}, wait, request_id,
                [this, request, start, done = std::move(done)](const core::Status& failed) {
                  LookupAnswer answer;
                  if (!failed.ok()) {
                    answer = StoreErrorAnswer(request.key, failed);
                  } else {
                    auto now = store_.Get(request.key);
                    answer = now.ok() ? Answer(request.key, *now, request.version)
                                      : StoreErrorAnswer(request.key, now.status());
                  }
                  if (answer.kind == LookupAnswer::Kind::kPending)
                    timeouts_.fetch_add(1, std::memory_order_relaxed);
                  ondemand_latency_.Observe(std::chrono::duration<double>(Steady::now() - start).count());
                  done(std::move(answer));
                });
}

void PackageLookup::LookupMany(std::vector<LookupRequest> requests, std::chrono::milliseconds wait,
                               std::string_view request_id, DoneMany done) {
  std::vector<std::string> keys;
  std::vector<store::EnqueueRequest> runs;
  std::unordered_set<PackageKey, core::PackageKeyHash> submitted;
  // The answers of fresh packages, built while deciding what to run: when nothing needs a
  // run they are the answer, and nothing is read twice.
  std::vector<LookupAnswer> fresh_answers;
  fresh_answers.reserve(requests.size());
  for (const LookupRequest& request : requests) {
    auto record = store_.Get(request.key);
    if (!record.ok()) return done(record.status());
    bool fresh = *record && IsFresh(**record);
    if (fresh) {
      fresh_answers.push_back(Answer(request.key, *record, request.version));
      fresh = !UnlistedVersionDue(fresh_answers.back().version_unlisted, (*record)->state_since);
    }
    if (fresh || !submitted.insert(request.key).second) continue;
    keys.push_back(request.key.ToString());
    runs.push_back(RunAtPriority(request.key, *record));
  }
  // Every answer as stored now, in the order asked.
  auto answer_all =
      [this](const std::vector<LookupRequest>& asked) -> core::Result<std::vector<LookupAnswer>> {
    std::vector<LookupAnswer> answers;
    answers.reserve(asked.size());
    for (const LookupRequest& request : asked) {
      auto record = store_.Get(request.key);
      if (!record.ok()) return record.status();
      answers.push_back(Answer(request.key, *record, request.version));
    }
    return answers;
  };
  if (runs.empty()) return done(std::move(fresh_answers));
  if (waiters_.Waiting() >= config_.max_waiting) {
    refused_.fetch_add(1, std::memory_order_relaxed);
    return done(core::Status::ResourceExhausted("too many lookups are waiting for packages"));
  }
  ondemand_.fetch_add(1, std::memory_order_relaxed);
  auto start = Steady::now();
  SubmitAndWait(
      std::move(keys), std::move(runs), wait, request_id,
      [this, requests = std::move(requests), start, answer_all,
       done = std::move(done)](const core::Status& failed) {
        if (!failed.ok()) return done(failed);
        auto answers = answer_all(requests);
        if (answers.ok() && std::any_of(answers->begin(), answers->end(), [](const LookupAnswer& a) {
              return a.kind == LookupAnswer::Kind::kPending;
            }))
          timeouts_.fetch_add(1, std::memory_order_relaxed);
        ondemand_latency_.Observe(std::chrono::duration<double>(Steady::now() - start).count());
        done(std::move(answers));
      });
}

void PackageLookup::Forget(const core::PackageKey& key) {
  std::lock_guard lock(cache_mu_);
  cache_.erase(key);
}

void PackageLookup::OnStageEvent(const StageEvent& event) {
  bool finished = (event.kind == StageEvent::Kind::kCompleted &&
                   (event.to == PackageState::kComplete || event.to == PackageState::kNotFound)) ||
                  event.kind == StageEvent::Kind::kFailed;
  if (event.kind == StageEvent::Kind::kCompleted || finished) {
    std::lock_guard lock(cache_mu_);
    cache_.erase(event.key);
  }
  if (finished) waiters_.Notify(event.key.ToString());
}

void PackageLookup::StopWaiting() { waiters_.Stop(); }

PackageLookup::Stats PackageLookup::GetStats() const {
  Stats stats;
  stats.ondemand = ondemand_.load(std::memory_order_relaxed);
  stats.timeouts = timeouts_.load(std::memory_order_relaxed);
  stats.refused = refused_.load(std::memory_order_relaxed);
  stats.waiting = waiters_.Waiting();
  return stats;
}

}  // namespace pkgtrust::pipeline
