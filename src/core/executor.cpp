#include "pkgtrust/core/executor.hpp"

#include <exception>

#include "pkgtrust/core/log.hpp"

namespace pkgtrust::core {

ThreadPoolExecutor::ThreadPoolExecutor(int threads, std::string name) {
  for (int i = 0; i < std::max(1, threads); ++i) threads_.emplace_back([this] { Run(); });
}

ThreadPoolExecutor::~ThreadPoolExecutor() { Stop(); }

void ThreadPoolExecutor::Post(std::function<void()> task) {
  {
    std::lock_guard lock(mu_);
    if (stopped_) return;  // nothing will run it
    tasks_.push_back(std::move(task));
  }
  cv_.notify_one();
}

void ThreadPoolExecutor::PostUrgent(std::function<void()> task) {
  {
    std::lock_guard lock(mu_);
    if (stopped_) return;
    urgent_tasks_.push_back(std::move(task));
  }
  cv_.notify_one();
}

void ThreadPoolExecutor::Stop() {
  {
    std::lock_guard lock(mu_);
    if (stopped_) return;
    stopping_ = true;
  }
  cv_.notify_all();
  for (auto& t : threads_)
    if (t.joinable()) t.join();
  std::lock_guard lock(mu_);
  stopped_ = true;
}

void ThreadPoolExecutor::Run() {
  while (true) {
    std::function<void()> task;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || !tasks_.empty() || !urgent_tasks_.empty(); });
      auto& queue = urgent_tasks_.empty() ? tasks_ : urgent_tasks_;
      if (queue.empty()) return;
      task = std::move(queue.front());
      queue.pop_front();
    }
    try {
      task();
    } catch (const std::exception& e) {
      // No exception may end a worker: log it and go on (STYLE.md: none escapes a task).
      core::Log(core::LogLevel::kError, "executor", "task threw: {}", e.what());
    }
  }
}

}  // namespace pkgtrust::core
