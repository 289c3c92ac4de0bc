// Running the pkgtrust binary from a test (PKGTRUST_BINARY, defined for the test binary).
#pragma once

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <string>
#include <vector>

namespace pkgtrust::testing {

// Runs the pkgtrust binary with `args`, stderr and stdout to `log_path`; returns the pid.
inline pid_t SpawnPkgtrust(const std::vector<std::string>& args, const std::string& log_path) {
  std::vector<char*> argv;
  argv.push_back(const_cast<char*>(PKGTRUST_BINARY));
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  int log_fd = open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  REQUIRE(log_fd >= 0);
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    // Only async-signal-safe calls between fork and exec: this process has threads.
    dup2(log_fd, STDOUT_FILENO);
    dup2(log_fd, STDERR_FILENO);
    execv(PKGTRUST_BINARY, argv.data());
    _exit(127);
  }
  close(log_fd);
  return pid;
}

// Runs it to the end; its exit status (-1 when it did not exit).
inline int RunPkgtrust(const std::vector<std::string>& args, const std::string& log_path) {
  pid_t pid = SpawnPkgtrust(args, log_path);
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace pkgtrust::testing
