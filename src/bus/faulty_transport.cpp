#include "pkgtrust/bus/faulty_transport.hpp"

namespace pkgtrust::bus {

FaultyTransport::FaultyTransport(Transport& inner, FaultConfig config)
    : inner_(inner), config_(config), rng_(config.seed) {}

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
      timer_.Schedule(delay,
                      [this, topic = std::string(topic), message] { (void)inner_.Publish(topic, message); });
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

}  // namespace pkgtrust::bus
