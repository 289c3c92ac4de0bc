// Where the upstream adapters run CPU work (parsing an answer, which for a large packument
// takes milliseconds) so that it never holds an HTTP I/O thread: the service hands them its
// worker pool, where work for a waiting user goes first. Empty: run inline (tests, tools).
#pragma once

#include <functional>

namespace pkgtrust::core {

using RunCpuWork = std::function<void(bool urgent, std::function<void()> work)>;

inline void RunOn(const RunCpuWork& runner, bool urgent, std::function<void()> work) {
  if (runner)
    runner(urgent, std::move(work));
  else
    work();
}

}  // namespace pkgtrust::core
