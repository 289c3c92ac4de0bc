#include "pkgtrust/core/timer.hpp"

namespace pkgtrust::core {

Timer::Timer() : thread_([this] { Run(); }) {}

Timer::~Timer() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void Timer::Schedule(std::chrono::milliseconds delay, std::function<void()> callback) {
  ScheduleAt(std::chrono::steady_clock::now() + delay, std::move(callback));
}

void Timer::ScheduleAt(std::chrono::steady_clock::time_point when, std::function<void()> callback) {
  {
    std::lock_guard lock(mu_);
    due_.emplace(when, std::move(callback));
  }
  cv_.notify_all();
}

void Timer::Run() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    if (due_.empty()) {
      cv_.wait(lock);
      continue;
    }
    auto when = due_.begin()->first;
    if (std::chrono::steady_clock::now() < when) {
      cv_.wait_until(lock, when);
      continue;
    }
    auto callback = std::move(due_.begin()->second);
    due_.erase(due_.begin());
    lock.unlock();
    callback();
    lock.lock();
  }
}

}  // namespace pkgtrust::core
