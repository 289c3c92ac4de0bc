// A process killed with SIGKILL in the middle of a run loses nothing: restarted on the
// same database, the reconciler re-publishes what was in flight and every package
// reaches complete.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include "pkgtrust/store/store.hpp"
#include "support/test_support.hpp"

using namespace pkgtrust;
using namespace std::chrono_literals;

namespace {

pid_t StartWorker(const std::string& db, const std::string& out) {
  int fd = open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  REQUIRE(fd >= 0);
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    // Only async-signal-safe calls between fork and exec: this process has threads.
    dup2(fd, STDOUT_FILENO);
    execl(PKGTRUST_PIPELINE_WORKER, PKGTRUST_PIPELINE_WORKER, "--db", db.c_str(), "--count", "1000",
          "--latency-ms", "10", "--concurrency", "4", "--timeout-s", "120", static_cast<char*>(nullptr));
    _exit(127);
  }
  close(fd);
  return pid;
}

std::int64_t Complete(store::Store& db) {
  auto counts = db.CountByState();
  return counts.ok() ? (*counts)[core::PackageState::kComplete] : -1;
}

}  // namespace

TEST_CASE("a run killed with SIGKILL completes after a restart on the same database", "[integration]") {
  testing::TempDir dir;
  const std::string db_path = dir.File("crash.db");
  pid_t first = StartWorker(db_path, dir.File("first.out"));

  // Watch the database from here while the child works.
  std::unique_ptr<store::Store> watcher;
  REQUIRE(testing::WaitUntil(
      [&] {
        auto opened =
            store::Store::Open({.path = db_path, .read_connections = 1}, core::SystemClock::Instance());
        if (!opened.ok()) return false;
        watcher = std::move(opened).value();
        return true;
      },
      30s));
  REQUIRE(testing::WaitUntil([&] { return Complete(*watcher) >= 100; }, 60s));
  REQUIRE(kill(first, SIGKILL) == 0);
  int status = 0;
  REQUIRE(waitpid(first, &status, 0) == first);
  REQUIRE(WIFSIGNALED(status));
  std::int64_t at_kill = Complete(*watcher);
  INFO("complete when killed: " << at_kill);
  REQUIRE(at_kill < 1000);

  pid_t second = StartWorker(db_path, dir.File("second.out"));
  REQUIRE(waitpid(second, &status, 0) == second);
  std::string report = testing::ReadText(dir.File("second.out"));
  INFO("restarted worker said: " << report);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  CHECK(Complete(*watcher) == 1000);
  auto counts = watcher->CountByState();
  CHECK((*counts)[core::PackageState::kFailed] == 0);
  // The in-flight work was found again by the reconciler, not by luck.
  CHECK_THAT(report, Catch::Contains("complete=1000"));
  CHECK_THAT(report, !Catch::Contains("republished=0"));
}
