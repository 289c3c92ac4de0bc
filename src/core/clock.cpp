#include "pkgtrust/core/clock.hpp"

#include <chrono>

namespace pkgtrust::core {

Millis SystemClock::NowMillis() const {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

SystemClock& SystemClock::Instance() {
  static SystemClock clock;
  return clock;
}

}  // namespace pkgtrust::core
