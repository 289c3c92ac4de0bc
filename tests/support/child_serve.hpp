// `pkgtrust serve` as a child process of a test (tests/integration/api_test.cpp,
// tests/adoption/): its own config file and log in the test's temp folder.
#pragma once

#include <fcntl.h>
#include <fmt/format.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <memory>
#include <string>

#include "support/http_test_client.hpp"
#include "support/loopback_socket.hpp"
#include "support/test_support.hpp"

namespace pkgtrust::testing {

using namespace std::chrono_literals;

// `pkgtrust serve` as a child process on a free loopback port, with every upstream at
// `upstream_url` and its log in the temp folder.
class ChildServe {
 public:
  // `server_keys` go under `server:` ("  key: value\n" lines), `more` after the rest.
  ChildServe(const testing::TempDir& dir, const std::string& upstream_url,
             const std::string& server_keys = "", const std::string& more = "")
      : dir_(dir) {
    port_ = testing::FreeLoopbackPort();  // the test and the child both bind only loopback
    std::string yaml =
        fmt::format("server:\n  listen: \"127.0.0.1:{}\"\n{}database:\n  path: {}\nupstreams:\n", port_,
                    server_keys, dir.File("child.db"));
    for (const char* name : {"npm", "npm_downloads", "pypi", "crates", "maven", "go", "github"})
      yaml += fmt::format("  {}: \"{}\"\n", name, upstream_url);
    yaml += fmt::format("  pypi_files: \"{}/pypi-files\"\n", upstream_url);
    yaml += more;
    testing::WriteText(dir.File("child.yaml"), yaml);
    std::string config_path = dir.File("child.yaml"), log_path = dir.File("serve.log");
    int log_fd = open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    REQUIRE(log_fd >= 0);
    pid_ = fork();
    REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
      // Only async-signal-safe calls between fork and exec: this process has threads.
      dup2(log_fd, STDERR_FILENO);
      execl(PKGTRUST_BINARY, PKGTRUST_BINARY, "serve", "--config", config_path.c_str(),
            static_cast<char*>(nullptr));
      _exit(127);
    }
    close(log_fd);
    client_ = std::make_unique<testing::ApiClient>(BaseUrl());
    bool up = testing::WaitUntil([&] { return client_->Get("/readyz").status == 200; }, 30s);
    INFO(Log());
    if (!up) Kill(SIGKILL);
    REQUIRE(up);
  }
  ~ChildServe() {
    if (pid_ > 0) Kill(SIGKILL);
  }
  // Sends `signal` and waits for the exit; returns the wait status.
  int Kill(int signal) {
    kill(pid_, signal);
    return Wait();
  }
  void Signal(int signal) { kill(pid_, signal); }
  int Wait() {
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
    return status;
  }
  int port() const { return port_; }
  pid_t pid() const { return pid_; }
  std::string BaseUrl() const { return fmt::format("http://127.0.0.1:{}", port_); }
  std::string Log() const { return testing::ReadText(dir_.File("serve.log")); }
  std::string DatabasePath() const { return dir_.File("child.db"); }
  testing::ApiClient& client() { return *client_; }

 private:
  const testing::TempDir& dir_;
  int port_ = 0;
  pid_t pid_ = -1;
  std::unique_ptr<testing::ApiClient> client_;
};

}  // namespace pkgtrust::testing
