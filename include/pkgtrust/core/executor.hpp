// Where work runs off the threads that must not block: the pipeline's stage handlers and
// post-commit steps (so that neither the bus pollers nor the store's writer thread ever
// wait), lookups' answers, the API's store reads.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace pkgtrust::core {

class Executor {
 public:
  virtual ~Executor() = default;
  virtual void Post(std::function<void()> task) = 0;
  // Work for a package a user is waiting for: runs before every task posted with Post.
  virtual void PostUrgent(std::function<void()> task) { Post(std::move(task)); }
};

// A fixed pool of threads taking urgent tasks first, then the others in order. Safe for
// concurrent use. Stop() runs what is queued (and what those tasks post), then joins;
// tasks posted after that are dropped.
class ThreadPoolExecutor final : public Executor {
 public:
  explicit ThreadPoolExecutor(int threads, std::string name = "pool");
  ~ThreadPoolExecutor() override;
  void Post(std::function<void()> task) override;
  void PostUrgent(std::function<void()> task) override;
  void Stop();

 private:
  void Run();
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> tasks_;
  std::deque<std::function<void()>> urgent_tasks_;  // taken first
  bool stopping_ = false;                           // threads finish the queue, then exit
  bool stopped_ = false;                            // threads joined
  std::vector<std::thread> threads_;
};

}  // namespace pkgtrust::core
