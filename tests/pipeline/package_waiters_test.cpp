// Requests waiting for packages: woken when all their packages finish, at their deadline,
// or at shutdown, and exactly once.
#include "pkgtrust/pipeline/package_waiters.hpp"

#include <atomic>
#include <catch2/catch.hpp>

#include "support/test_support.hpp"

using namespace pkgtrust;
using namespace std::chrono_literals;

TEST_CASE("a waiter for several packages wakes when the last one finishes", "[pipeline]") {
  pipeline::PackageWaiters waiters;
  std::atomic<int> calls{0};
  waiters.Wait({"npm/a", "npm/b"}, std::chrono::steady_clock::now() + 60s, [&] { calls++; });
  std::atomic<int> single{0};
  waiters.Wait({"npm/a"}, std::chrono::steady_clock::now() + 60s, [&] { single++; });
  CHECK(waiters.Waiting() == 2);
  waiters.Notify("npm/a");
  CHECK(single == 1);
  CHECK(calls == 0);
  waiters.Notify("npm/a");  // a second event for the same package changes nothing
  CHECK(calls == 0);
  waiters.Notify("npm/b");
  CHECK(calls == 1);
  CHECK(waiters.Waiting() == 0);
  waiters.Notify("npm/b");
  CHECK(calls == 1);
}

TEST_CASE("a waiter is answered at its deadline, and the earliest deadline comes first", "[pipeline]") {
  pipeline::PackageWaiters waiters;
  std::atomic<int> late{0}, early{0};
  waiters.Wait({"npm/x"}, std::chrono::steady_clock::now() + 60s, [&] { late++; });
  waiters.Wait({"npm/y"}, std::chrono::steady_clock::now() + 20ms, [&] { early++; });
  REQUIRE(testing::WaitUntil([&] { return early == 1; }, 10s));
  CHECK(late == 0);
  waiters.Notify("npm/y");  // after its deadline: nothing happens twice
  CHECK(early == 1);
  waiters.Stop();
  CHECK(late == 1);
  std::atomic<int> after_stop{0};
  waiters.Wait({"npm/z"}, std::chrono::steady_clock::now() + 60s, [&] { after_stop++; });
  CHECK(after_stop == 1);
}
