// Time as the rest of the code sees it: milliseconds since the Unix epoch, read
// through an injectable Clock so tests control timeouts, backoff and staleness.
#pragma once

#include <atomic>
#include <cstdint>

namespace pkgtrust::core {

using Millis = std::int64_t;  // milliseconds since 1970-01-01T00:00:00Z

class Clock {
 public:
  virtual ~Clock() = default;
  virtual Millis NowMillis() const = 0;
};

// Wall clock. Safe for concurrent use.
class SystemClock final : public Clock {
 public:
  Millis NowMillis() const override;
  static SystemClock& Instance();
};

// A clock that moves only when told to. Safe for concurrent use.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(Millis start = 1'700'000'000'000) : now_(start) {}
  Millis NowMillis() const override { return now_.load(std::memory_order_relaxed); }
  void Advance(Millis delta) { now_.fetch_add(delta, std::memory_order_relaxed); }
  void Set(Millis now) { now_.store(now, std::memory_order_relaxed); }

 private:
  std::atomic<Millis> now_;
};

}  // namespace pkgtrust::core
