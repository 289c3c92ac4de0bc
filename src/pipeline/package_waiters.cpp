#include "pkgtrust/pipeline/package_waiters.hpp"

#include <algorithm>

namespace pkgtrust::pipeline {

PackageWaiters::PackageWaiters() = default;

PackageWaiters::~PackageWaiters() { Stop(); }

std::function<void()> PackageWaiters::Finish(const std::shared_ptr<Waiter>& w) {
  w->done = true;
  live_.erase(w);
  for (const std::string& key : w->keys) {
    auto it = by_key_.find(key);
    if (it == by_key_.end()) continue;
    auto& list = it->second;
    list.erase(std::remove(list.begin(), list.end(), w), list.end());
    if (list.empty()) by_key_.erase(it);
  }
  return std::move(w->callback);
}

void PackageWaiters::Wait(std::vector<std::string> keys, Deadline deadline, std::function<void()> done) {
  {
    std::lock_guard lock(mu_);
    if (!keys.empty() && !stopping_) {
      auto w = std::make_shared<Waiter>();
      w->remaining = keys.size();
      w->callback = std::move(done);
      for (const std::string& key : keys) by_key_[key].push_back(w);
      w->keys = std::move(keys);
      live_.insert(w);
      timer_.ScheduleAt(deadline, [this, weak = std::weak_ptr<Waiter>(w)] { Expire(weak); });
      return;
    }
  }
  done();
}

void PackageWaiters::Expire(const std::weak_ptr<Waiter>& weak) {
  std::function<void()> callback;
  {
    std::lock_guard lock(mu_);
    std::shared_ptr<Waiter> w = weak.lock();
    if (!w || w->done) return;
    callback = Finish(w);
  }
  callback();
}

void PackageWaiters::Notify(const std::string& key) {
  std::vector<std::function<void()>> ready;
  {
    std::lock_guard lock(mu_);
    auto it = by_key_.find(key);
    if (it == by_key_.end()) return;
    std::vector<std::shared_ptr<Waiter>> list = std::move(it->second);
    by_key_.erase(it);
    for (const auto& w : list)
      if (!w->done && --w->remaining == 0) ready.push_back(Finish(w));
  }
  for (auto& callback : ready) callback();
}

void PackageWaiters::Stop() {
  std::vector<std::function<void()>> ready;
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    std::vector<std::shared_ptr<Waiter>> live(live_.begin(), live_.end());
    for (const auto& w : live) ready.push_back(Finish(w));
  }
  for (auto& callback : ready) callback();
}

std::size_t PackageWaiters::Waiting() const {
  std::lock_guard lock(mu_);
  return live_.size();
}

}  // namespace pkgtrust::pipeline
