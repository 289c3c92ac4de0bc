// Runs callbacks after a delay on one thread of its own. Callbacks still pending when the
// Timer is destroyed are dropped without running. Safe for concurrent use.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <thread>

namespace pkgtrust::core {

class Timer {
 public:
  Timer();
  ~Timer();
  Timer(const Timer&) = delete;
  Timer& operator=(const Timer&) = delete;

  void Schedule(std::chrono::milliseconds delay, std::function<void()> callback);
  void ScheduleAt(std::chrono::steady_clock::time_point when, std::function<void()> callback);

 private:
  void Run();
  std::mutex mu_;
  std::condition_variable cv_;
  std::multimap<std::chrono::steady_clock::time_point, std::function<void()>> due_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace pkgtrust::core
