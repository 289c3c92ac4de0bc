#include "pkgtrust/pipeline/stage.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "pkgtrust/core/log.hpp"
#include "pkgtrust/pipeline/routing.hpp"

namespace pkgtrust::pipeline {

using core::PackageState;
using std::chrono::milliseconds;

namespace {
// How a log line names the work: the package, and the request that started the run (the
// client's X-Request-Id, or the API's own id) so one request can be followed through
// every stage.
std::string Subject(const WorkItem& item) {
  if (item.request_id.empty()) return item.key.ToString();
  return fmt::format("{} [request {}]", item.key.ToString(), item.request_id);
}
}  // namespace

StageResult StageResult::Advance(PackageState next, std::vector<store::Fact> facts) {
  StageResult r;
  r.kind = Kind::kAdvance;
  r.next = next;
  r.facts = std::move(facts);
  return r;
}

StageResult StageResult::Retry(std::string error, std::optional<milliseconds> retry_after) {
  StageResult r;
  r.kind = Kind::kRetry;
  r.error = std::move(error);
  r.retry_after = retry_after;
  return r;
}

StageResult StageResult::Postpone(std::string reason, milliseconds delay) {
  StageResult r;
  r.kind = Kind::kPostpone;
  r.error = std::move(reason);
  r.retry_after = delay;
  return r;
}

StageResult StageResult::Fail(std::string error) {
  StageResult r;
  r.kind = Kind::kFail;
  r.error = std::move(error);
  return r;
}

Stage::Stage(StageConfig config, StageHandler& handler, bus::Transport& transport, store::Store& store,
             core::Executor& executor, const core::Clock& clock)
    : config_(std::move(config)),
      handler_(handler),
      transport_(transport),
      store_(store),
      executor_(executor),
      clock_(clock) {
  config_.concurrency = std::max(1, config_.concurrency);
  config_.regular_share = std::clamp(config_.regular_share, 0.0, 0.95);
  config_.receive_batch = std::max<std::size_t>(1, config_.receive_batch);
}

Stage::~Stage() { Stop(milliseconds(0)); }

void Stage::Start() {
  std::lock_guard lock(mu_);
  if (poller_.joinable()) return;
  stopping_ = false;
  poller_ = std::thread([this] { PollLoop(); });
}

void Stage::Stop(milliseconds drain) {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  transport_.Interrupt();
  if (poller_.joinable()) poller_.join();
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, drain, [&] { return in_flight_ == 0; });
  if (in_flight_ > 0)
    core::Log(core::LogLevel::kWarn, config_.name, "stopped with {} messages still in flight", in_flight_);
}

StageStats Stage::Stats() const {
  StageStats s;
  {
    std::lock_guard lock(mu_);
    s.in_flight = in_flight_;
  }
  s.completed = completed_;
  s.stale = stale_;
  s.duplicates = duplicates_;
  s.malformed = malformed_;
  s.retried = retried_;
  s.failed = failed_;
  s.postponed = postponed_;
  s.taken_priority = taken_priority_;
  s.taken_regular = taken_regular_;
  return s;
}

void Stage::PollLoop() {
  const std::vector<std::string> queues = {config_.priority_queue, config_.regular_queue};
  // Each priority message taken earns regular work this much credit; one credit lets one
  // regular message go first, so regular work gets `regular_share` of the slots.
  const double credit_per_priority = config_.regular_share / (1.0 - config_.regular_share);
  while (true) {
    std::size_t free_slots;
    std::size_t regular_first;
    if (core::Millis until = handler_.PausedUntil(); until > clock_.NowMillis()) {
      // The upstream asked us to hold: take nothing until then (checked at least every second).
      std::unique_lock lock(mu_);
      cv_.wait_for(lock, milliseconds(std::clamp<core::Millis>(until - clock_.NowMillis(), 1, 1000)),
                   [&] { return stopping_; });
      if (stopping_) return;
      continue;
    }
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || in_flight_ < config_.concurrency; });
      if (stopping_) return;
      free_slots = std::min<std::size_t>(config_.concurrency - in_flight_, config_.receive_batch);
      regular_first = std::min<std::size_t>(free_slots, static_cast<std::size_t>(regular_credit_));
    }
    std::vector<bus::Delivery> regular;
    if (regular_first > 0) regular = transport_.Receive(config_.regular_queue, regular_first);
    std::vector<bus::Delivery> priority =
        transport_.Receive(config_.priority_queue, free_slots - regular.size());
    if (regular.size() + priority.size() < free_slots) {
      auto more = transport_.Receive(config_.regular_queue, free_slots - regular.size() - priority.size());
      std::move(more.begin(), more.end(), std::back_inserter(regular));
    }
    if (regular.empty() && priority.empty()) {
      transport_.WaitForMessages(queues, milliseconds(500));
      continue;
    }
    {
      std::lock_guard lock(mu_);
      in_flight_ += static_cast<int>(regular.size() + priority.size());
      regular_credit_ += credit_per_priority * static_cast<double>(priority.size());
      regular_credit_ -= std::min(regular_credit_, static_cast<double>(regular.size()));
      regular_credit_ = std::min(regular_credit_, static_cast<double>(config_.concurrency));
    }
    taken_priority_ += static_cast<std::int64_t>(priority.size());
    taken_regular_ += static_cast<std::int64_t>(regular.size());
    for (bus::Delivery& delivery : priority)
      executor_.PostUrgent([this, d = std::move(delivery)]() mutable { Process(std::move(d)); });
    for (bus::Delivery& delivery : regular)
      executor_.Post([this, d = std::move(delivery)]() mutable { Process(std::move(d)); });
  }
}

void Stage::Emit(StageEvent::Kind kind, const WorkItem& item, PackageState to) {
  if (observer_) observer_({kind, config_.name, item.key, item.generation, to, item.priority});
}

milliseconds Stage::RetryDelay(int attempt, std::optional<milliseconds> hint) const {
  if (hint) return std::min(*hint, config_.retry_max * 10);
  double factor = std::pow(2.0, std::min(attempt - 1, 20));
  auto delay =
      milliseconds(static_cast<std::int64_t>(static_cast<double>(config_.retry_base.count()) * factor));
  return std::min(delay, config_.retry_max);
}

void Stage::Finish(const std::string& active_key) {
  {
    std::lock_guard lock(mu_);
    if (!active_key.empty()) active_.erase(active_key);
    in_flight_--;
  }
  cv_.notify_all();
}

void Stage::Process(bus::Delivery delivery) {
  auto message = DecodeWorkMessage(delivery.message->body);
  if (!message.ok()) {
    core::Log(core::LogLevel::kWarn, config_.name, "dropping malformed message {} from {}: {}",
              delivery.message_id, delivery.queue, message.status().message());
    malformed_++;
    if (observer_) observer_({StageEvent::Kind::kMalformed, config_.name});
    (void)transport_.Ack(delivery);
    Finish({});
    return;
  }
  WorkItem item{message->key,     message->generation, core::Priority::kRegular,
                message->version, message->request_id, delivery.receive_count};
  std::string active_key = fmt::format("{}#{}", item.key.ToString(), item.generation);
  {
    std::lock_guard lock(mu_);
    if (!active_.insert(active_key).second) {
      // The same work is being handled right now: this copy is a duplicate.
      duplicates_++;
      Emit(StageEvent::Kind::kDuplicate, item);
      (void)transport_.Ack(delivery);
      in_flight_--;
      cv_.notify_all();
      return;
    }
  }
  auto record = store_.Get(item.key);
  if (!record.ok()) {
    core::Log(core::LogLevel::kWarn, config_.name, "{}: cannot read state: {}", Subject(item),
              record.status().message());
    (void)transport_.Retry(delivery, RetryDelay(delivery.receive_count, std::nullopt));
    Finish(active_key);
    return;
  }
  if (!record->has_value() || (*record)->state != config_.state || (*record)->generation != item.generation) {
    stale_++;
    Emit(StageEvent::Kind::kStale, item);
    (void)transport_.Ack(delivery);
    Finish(active_key);
    return;
  }
  item.priority = (*record)->priority;
  // The handler may call back from any thread; the result is handled on the executor.
  handler_.Handle(item, [this, delivery = std::move(delivery), item](StageResult result) mutable {
    PostFor(item.priority,
            [this, delivery = std::move(delivery), item = std::move(item),
             result = std::move(result)]() mutable { OnResult(delivery, item, std::move(result)); });
  });
}

void Stage::PostFor(core::Priority priority, std::function<void()> task) {
  if (priority == core::Priority::kPriority)
    executor_.PostUrgent(std::move(task));
  else
    executor_.Post(std::move(task));
}

void Stage::OnResult(const bus::Delivery& delivery, const WorkItem& item, StageResult result) {
  std::string active_key = fmt::format("{}#{}", item.key.ToString(), item.generation);
  if (result.kind == StageResult::Kind::kAdvance) {
    PackageState next = result.next;
    store_.Transition(
        {item.key, config_.state, item.generation, next, std::move(result.facts)},
        [this, delivery, item, next, active_key](core::Result<store::TransitionResult> committed) {
          PostFor(item.priority, [this, delivery, item, next, active_key, committed = std::move(committed)] {
            if (!committed.ok()) {
              core::Log(core::LogLevel::kWarn, config_.name, "{}: commit failed, will retry: {}",
                        Subject(item), committed.status().message());
              (void)transport_.Retry(delivery, RetryDelay(delivery.receive_count, std::nullopt));
            } else if (committed->outcome == store::TransitionOutcome::kApplied) {
              completed_++;
              Emit(StageEvent::Kind::kCompleted, item, next);
              core::Log(core::LogLevel::kDebug, config_.name, "{} generation {}: {} -> {}", Subject(item),
                        item.generation, core::PackageStateName(config_.state), core::PackageStateName(next));
              if (core::IsInFlight(next)) {
                // If this publish is lost, the reconciler re-publishes the stuck package.
                if (auto s = PublishWork(transport_, committed->record, item.request_id); !s.ok())
                  core::Log(core::LogLevel::kWarn, config_.name, "{}: publish failed: {}", Subject(item),
                            s.message());
              }
              (void)transport_.Ack(delivery);
            } else {
              stale_++;
              Emit(StageEvent::Kind::kStale, item);
              (void)transport_.Ack(delivery);
            }
            Finish(active_key);
          });
        });
    return;
  }
  if (result.kind == StageResult::Kind::kPostpone) {
    postponed_++;
    Emit(StageEvent::Kind::kPostponed, item);
    core::Log(core::LogLevel::kDebug, config_.name, "{}: postponed: {}", Subject(item), result.error);
    (void)transport_.Retry(delivery, result.retry_after.value_or(config_.retry_base));
    Finish(active_key);
    return;
  }
  bool give_up = result.kind == StageResult::Kind::kFail || delivery.receive_count >= config_.max_attempts;
  store::FailureRequest failure{item.key,
                                config_.state,
                                item.generation,
                                result.error,
                                give_up,
                                config_.failed_retry_base_ms,
                                config_.failed_retry_max_ms};
  auto retry_after = result.retry_after;
  store_.RecordFailure(std::move(failure), [this, delivery, item, give_up, retry_after,
                                            active_key](core::Result<store::TransitionResult> recorded) {
    PostFor(item.priority,
            [this, delivery, item, give_up, retry_after, active_key, recorded = std::move(recorded)] {
              bool stale = recorded.ok() && recorded->outcome == store::TransitionOutcome::kStale;
              if (stale) {
                stale_++;
                Emit(StageEvent::Kind::kStale, item);
                (void)transport_.Ack(delivery);
              } else if (give_up && recorded.ok()) {
                failed_++;
                Emit(StageEvent::Kind::kFailed, item);
                core::Log(core::LogLevel::kWarn, config_.name, "{} failed after {} attempts: {}",
                          Subject(item), delivery.receive_count, recorded->record.last_error);
                (void)transport_.Ack(delivery);
              } else {
                retried_++;
                Emit(StageEvent::Kind::kRetried, item);
                (void)transport_.Retry(delivery, RetryDelay(delivery.receive_count, retry_after));
              }
              Finish(active_key);
            });
  });
}

}  // namespace pkgtrust::pipeline
