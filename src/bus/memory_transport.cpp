#include "pkgtrust/bus/memory_transport.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <deque>
#include <map>

#include "pkgtrust/core/log.hpp"

namespace pkgtrust::bus {

using core::Millis;
using core::Status;

struct MemoryTransport::Subscription {
  Queue* queue;
  const FilterPolicy* policy;
};

// One queue. Entries share their message between fan-out copies and redeliveries.
// Expiry of in-flight messages is a FIFO of (deadline, receipt): the visibility timeout
// is the same for every receive, so deadlines arrive in order; acked receipts are
// skipped when they reach the front.
struct MemoryTransport::Queue {
  struct Entry {
    std::uint64_t id = 0;
    int receive_count = 0;
    std::shared_ptr<const Message> message;
  };
  struct InFlight {
    Entry entry;
    Millis deadline = 0;
  };

  std::string name;
  FilterPolicy policy;
  mutable std::mutex mu;
  std::deque<Entry> ready;
  std::multimap<Millis, Entry> delayed;
  std::unordered_map<std::uint64_t, InFlight> in_flight;  // by receipt number
  std::deque<std::pair<Millis, std::uint64_t>> expiry;
  std::vector<std::shared_ptr<const Message>> dead;
  std::uint64_t next_receipt = 1;
  std::int64_t received = 0;
  std::int64_t acked = 0;

  // Moves due delayed messages and expired in-flight ones to `ready`. Caller holds mu.
  void Promote(Millis now) {
    while (!delayed.empty() && delayed.begin()->first <= now) {
      ready.push_back(std::move(delayed.begin()->second));
      delayed.erase(delayed.begin());
    }
    while (!expiry.empty()) {
      auto [deadline, receipt] = expiry.front();
      auto it = in_flight.find(receipt);
      if (it != in_flight.end() && it->second.deadline == deadline) {
        if (deadline > now) break;
        ready.push_back(std::move(it->second.entry));
        in_flight.erase(it);
      }
      expiry.pop_front();
    }
  }

  // Earliest time something becomes visible, or 0 if nothing is scheduled. Caller holds mu.
  Millis NextWake() const {
    Millis next = 0;
    if (!delayed.empty()) next = delayed.begin()->first;
    for (const auto& [deadline, receipt] : expiry) {
      auto it = in_flight.find(receipt);
      if (it == in_flight.end() || it->second.deadline != deadline) continue;
      if (next == 0 || deadline < next) next = deadline;
      break;
    }
    return next;
  }
};

namespace {
std::string ReceiptString(std::uint64_t receipt) { return fmt::format_int(receipt).str(); }

bool ParseReceipt(std::string_view text, std::uint64_t* out) {
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
  return ec == std::errc() && ptr == text.data() + text.size();
}
}  // namespace

MemoryTransport::MemoryTransport(const Topology& topology, MemoryTransportConfig config,
                                 const core::Clock& clock)
    : config_(config), clock_(clock) {
  for (const QueueSpec& spec : topology.queues) {
    auto queue = std::make_unique<Queue>();
    queue->name = spec.name;
    queue->policy = spec.filter_policy;
    queues_.push_back(std::move(queue));
  }
  for (std::size_t i = 0; i < topology.queues.size(); ++i)
    for (const std::string& topic : topology.queues[i].topics)
      subscriptions_[topic].push_back({queues_[i].get(), &queues_[i]->policy});
}

MemoryTransport::~MemoryTransport() = default;

MemoryTransport::Queue* MemoryTransport::FindQueue(std::string_view name) const {
  for (const auto& queue : queues_)
    if (queue->name == name) return queue.get();
  return nullptr;
}

Status MemoryTransport::Publish(std::string_view topic, const Message& message) {
  auto subs = subscriptions_.find(std::string(topic));
  if (subs == subscriptions_.end()) return Status::NotFound(fmt::format("no topic named '{}'", topic));
  published_.fetch_add(1, std::memory_order_relaxed);
  std::shared_ptr<const Message> shared;
  std::uint64_t id = 0;
  for (const Subscription& sub : subs->second) {
    if (!sub.policy->Matches(message.attributes)) continue;
    if (!shared) {
      shared = std::make_shared<const Message>(message);
      id = next_id_.fetch_add(1, std::memory_order_relaxed);
    }
    std::lock_guard lock(sub.queue->mu);
    sub.queue->ready.push_back({id, 0, shared});
  }
  if (!shared) {
    unroutable_.fetch_add(1, std::memory_order_relaxed);
    std::string attrs;
    for (const auto& [name, value] : message.attributes.items())
      attrs += fmt::format(" {}={}", name, value.value);
    core::Log(core::LogLevel::kWarn, "bus", "message on topic '{}' matches no queue; attributes:{}", topic,
              attrs);
    return Status::Ok();
  }
  NotifyWaiters();
  return Status::Ok();
}

std::vector<Delivery> MemoryTransport::Receive(std::string_view queue_name, std::size_t max_messages) {
  std::vector<Delivery> out;
  Queue* queue = FindQueue(queue_name);
  if (queue == nullptr || max_messages == 0) return out;
  Millis now = clock_.NowMillis();
  std::lock_guard lock(queue->mu);
  queue->Promote(now);
  while (out.size() < max_messages && !queue->ready.empty()) {
    Queue::Entry entry = std::move(queue->ready.front());
    queue->ready.pop_front();
    if (config_.max_receives > 0 && entry.receive_count >= config_.max_receives) {
      core::Log(core::LogLevel::kWarn, "bus", "queue '{}': message {} dead-lettered after {} receives",
                queue->name, entry.id, entry.receive_count);
      queue->dead.push_back(std::move(entry.message));
      continue;
    }
    entry.receive_count++;
    std::uint64_t receipt = queue->next_receipt++;
    Delivery delivery;
    delivery.queue = queue->name;
    delivery.message_id = fmt::format_int(entry.id).str();
    delivery.receipt = ReceiptString(receipt);
    delivery.receive_count = entry.receive_count;
    delivery.message = entry.message;
    out.push_back(std::move(delivery));
    Millis deadline = now + config_.visibility_timeout.count();
    queue->expiry.emplace_back(deadline, receipt);
    queue->in_flight.emplace(receipt, Queue::InFlight{std::move(entry), deadline});
    queue->received++;
  }
  return out;
}

void MemoryTransport::WaitForMessages(std::span<const std::string> queue_names,
                                      std::chrono::milliseconds max_wait) {
  waiters_.fetch_add(1);
  std::uint64_t generation;
  {
    std::lock_guard lock(wait_mu_);
    generation = wake_generation_;
  }
  Millis now = clock_.NowMillis();
  Millis wake = 0;
  bool ready = false;
  for (const std::string& name : queue_names) {
    Queue* queue = FindQueue(name);
    if (queue == nullptr) continue;
    std::lock_guard lock(queue->mu);
    queue->Promote(now);
    if (!queue->ready.empty()) {
      ready = true;
      break;
    }
    Millis next = queue->NextWake();
    if (next != 0 && (wake == 0 || next < wake)) wake = next;
  }
  if (!ready) {
    auto wait = max_wait;
    if (wake != 0) wait = std::min(wait, std::chrono::milliseconds(std::max<Millis>(1, wake - now)));
    std::unique_lock lock(wait_mu_);
    wait_cv_.wait_for(lock, wait, [&] { return wake_generation_ != generation; });
  }
  waiters_.fetch_sub(1);
}

void MemoryTransport::NotifyWaiters() {
  if (waiters_.load() == 0) return;
  {
    std::lock_guard lock(wait_mu_);
    ++wake_generation_;
  }
  wait_cv_.notify_all();
}

void MemoryTransport::Interrupt() {
  {
    std::lock_guard lock(wait_mu_);
    ++wake_generation_;
  }
  wait_cv_.notify_all();
}

Status MemoryTransport::Ack(const Delivery& delivery) {
  Queue* queue = FindQueue(delivery.queue);
  std::uint64_t receipt;
  if (queue == nullptr || !ParseReceipt(delivery.receipt, &receipt))
    return Status::InvalidArgument("ack: unknown queue or malformed receipt");
  std::lock_guard lock(queue->mu);
  if (queue->in_flight.erase(receipt) == 0)
    return Status::NotFound(
        fmt::format("ack: receipt {} on '{}' is no longer valid", delivery.receipt, queue->name));
  queue->acked++;
  // Drop acked receipts at the front of the expiry FIFO so it stays as short as in_flight.
  while (!queue->expiry.empty() && !queue->in_flight.count(queue->expiry.front().second))
    queue->expiry.pop_front();
  return Status::Ok();
}

Status MemoryTransport::Retry(const Delivery& delivery, std::chrono::milliseconds delay) {
  Queue* queue = FindQueue(delivery.queue);
  std::uint64_t receipt;
  if (queue == nullptr || !ParseReceipt(delivery.receipt, &receipt))
    return Status::InvalidArgument("retry: unknown queue or malformed receipt");
  {
    std::lock_guard lock(queue->mu);
    auto it = queue->in_flight.find(receipt);
    if (it == queue->in_flight.end())
      return Status::NotFound(
          fmt::format("retry: receipt {} on '{}' is no longer valid", delivery.receipt, queue->name));
    Queue::Entry entry = std::move(it->second.entry);
    queue->in_flight.erase(it);
    if (delay.count() <= 0)
      queue->ready.push_back(std::move(entry));
    else
      queue->delayed.emplace(clock_.NowMillis() + delay.count(), std::move(entry));
  }
  NotifyWaiters();
  return Status::Ok();
}

TransportStats MemoryTransport::Stats() const {
  TransportStats stats;
  stats.published = published_.load();
  stats.unroutable = unroutable_.load();
  for (const auto& queue : queues_) {
    std::lock_guard lock(queue->mu);
    QueueStats& q = stats.queues[queue->name];
    q.visible = static_cast<std::int64_t>(queue->ready.size());
    q.delayed = static_cast<std::int64_t>(queue->delayed.size());
    q.in_flight = static_cast<std::int64_t>(queue->in_flight.size());
    q.dead_lettered = static_cast<std::int64_t>(queue->dead.size());
    q.received = queue->received;
    q.acked = queue->acked;
  }
  return stats;
}

std::vector<Message> MemoryTransport::DeadLetters(std::string_view queue_name) const {
  std::vector<Message> out;
  if (Queue* queue = FindQueue(queue_name)) {
    std::lock_guard lock(queue->mu);
    for (const auto& message : queue->dead) out.push_back(*message);
  }
  return out;
}

}  // namespace pkgtrust::bus
