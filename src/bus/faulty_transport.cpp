#include "pkgtrust/bus/faulty_transport.hpp"

namespace pkgtrust::bus {

FaultyTransport::FaultyTransport(Transport& inner, FaultConfig config)
    : inner_(inner), config_(config), rng_(config.seed), delayed_thread_([this] { RunDelayed(); }) {}

FaultyTransport::~FaultyTransport() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  delayed_thread_.join();
}

bool FaultyTransport::Chance(double probability) {
  return probability > 0 && std::uniform_real_distribution<double>(0, 1)(rng_) < probability;
}

core::Status FaultyTransport::Publish(std::string_view topic, const Message& message) {
  int copies = 1;
  {
    std::lock_guard lock(mu_);
    if (Chance(config_.drop_publish)) {
      counts_.dropped++;
      return core::Status::Ok();
    }
    if (Chance(config_.duplicate_publish)) {
      counts_.duplicated++;
      copies = 2;
    }
    if (Chance(config_.delay_publish)) {
      counts_.delayed++;
      auto delay = std::chrono::milliseconds(std::uniform_int_distribution<std::int64_t>(
          1, std::max<std::int64_t>(1, config_.max_delay.count()))(rng_));
      delayed_.emplace(std::chrono::steady_clock::now() + delay, std::make_pair(std::string(topic), message));
      cv_.notify_all();
      if (--copies == 0) return core::Status::Ok();
    }
  }
  core::Status status;
  for (int i = 0; i < copies && status.ok(); ++i) status = inner_.Publish(topic, message);
  return status;
}

core::Status FaultyTransport::Ack(const Delivery& delivery) {
  {
    std::lock_guard lock(mu_);
    if (Chance(config_.drop_ack)) {
      counts_.acks_dropped++;
      return core::Status::Ok();
    }
  }
  return inner_.Ack(delivery);
}

FaultCounts FaultyTransport::Counts() const {
  std::lock_guard lock(mu_);
  return counts_;
}

void FaultyTransport::RunDelayed() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    if (delayed_.empty()) {
      cv_.wait(lock);
      continue;
    }
    auto due = delayed_.begin()->first;
    if (std::chrono::steady_clock::now() < due) {
      cv_.wait_until(lock, due);
      continue;
    }
    auto item = std::move(delayed_.begin()->second);
    delayed_.erase(delayed_.begin());
    lock.unlock();
    (void)inner_.Publish(item.first, item.second);
    lock.lock();
  }
}

}  // namespace pkgtrust::bus
