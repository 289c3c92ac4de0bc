// Where pipeline work runs. Stage handlers and post-commit steps are posted to an
// Executor so that neither the bus pollers nor the store's writer thread ever block.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace pkgtrust::pipeline {

class Executor {
 public:
  virtual ~Executor() = default;
  virtual void Post(std::function<void()> task) = 0;
};

// A fixed pool of threads. Safe for concurrent use. Stop() runs what is queued (and what
// those tasks post), then joins; tasks posted after that are dropped.
class ThreadPoolExecutor final : public Executor {
 public:
  explicit ThreadPoolExecutor(int threads, std::string name = "pool");
  ~ThreadPoolExecutor() override;
  void Post(std::function<void()> task) override;
  void Stop();

 private:
  void Run();
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> tasks_;
  bool stopping_ = false;  // threads finish the queue, then exit
  bool stopped_ = false;   // threads joined
  std::vector<std::thread> threads_;
};

}  // namespace pkgtrust::pipeline
