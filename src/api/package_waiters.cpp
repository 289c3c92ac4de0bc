#include "pkgtrust/api/package_waiters.hpp"

#include <algorithm>

namespace pkgtrust::api {

PackageWaiters::PackageWaiters() : timer_([this] { TimerLoop(); }) {}

PackageWaiters::~PackageWaiters() {
  Stop();
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (timer_.joinable()) timer_.join();
}

std::function<void()> PackageWaiters::Finish(const std::shared_ptr<Waiter>& w) {
  w->done = true;
  --waiting_;
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
      bool earliest = deadlines_.empty() || deadline < deadlines_.begin()->first;
      deadlines_.emplace(deadline, std::move(w));
      ++waiting_;
      if (earliest) cv_.notify_all();
      return;
    }
  }
  done();
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
    for (auto& [deadline, w] : deadlines_)
      if (!w->done) ready.push_back(Finish(w));
    deadlines_.clear();
  }
  cv_.notify_all();
  for (auto& callback : ready) callback();
}

std::size_t PackageWaiters::Waiting() const {
  std::lock_guard lock(mu_);
  return waiting_;
}

void PackageWaiters::TimerLoop() {
  std::unique_lock lock(mu_);
  while (true) {
    // Drop waiters that were already answered by Notify.
    while (!deadlines_.empty() && deadlines_.begin()->second->done) deadlines_.erase(deadlines_.begin());
    if (stopping_ && deadlines_.empty()) return;
    if (deadlines_.empty()) {
      cv_.wait(lock);
      continue;
    }
    Deadline next = deadlines_.begin()->first;
    if (std::chrono::steady_clock::now() < next) {
      cv_.wait_until(lock, next);
      continue;
    }
    std::shared_ptr<Waiter> w = deadlines_.begin()->second;
    deadlines_.erase(deadlines_.begin());
    std::function<void()> callback = Finish(w);
    lock.unlock();
    callback();
    lock.lock();
  }
}

}  // namespace pkgtrust::api
