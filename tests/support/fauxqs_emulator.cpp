#include "support/fauxqs_emulator.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <stdexcept>
#include <thread>

#include "support/http_test_client.hpp"

namespace pkgtrust::testing {

namespace {
constexpr const char* kEmulatorDir = PKGTRUST_SOURCE_DIR "/tests/emulator";
}

FauxqsEmulator::FauxqsEmulator() {
  std::string dir = kEmulatorDir;
  if (!std::filesystem::exists(dir + "/node_modules/fauxqs/package.json"))
    throw std::runtime_error("the fauxqs emulator is not installed: run `npm ci --prefix tests/emulator` "
                             "(scripts/test.sh does)");
  int to_child[2], from_child[2];
  if (pipe(to_child) != 0 || pipe(from_child) != 0) throw std::runtime_error("fauxqs: cannot create pipes");
  std::string script = dir + "/fauxqs-loopback.mjs";
  pid_ = fork();
  if (pid_ < 0) throw std::runtime_error("fauxqs: fork failed");
  if (pid_ == 0) {
    // Only async-signal-safe calls between fork and exec.
    dup2(to_child[0], STDIN_FILENO);
    dup2(from_child[1], STDOUT_FILENO);
    close(to_child[1]);
    close(from_child[0]);
    execlp("node", "node", script.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  close(to_child[0]);
  close(from_child[1]);
  stdin_fd_ = to_child[1];
  fcntl(stdin_fd_, F_SETFD, FD_CLOEXEC);  // children of this process must not keep it alive

  // "listening http://127.0.0.1:PORT\n"
  std::string line;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (line.find('\n') == std::string::npos) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    pollfd p{from_child[0], POLLIN, 0};
    char buffer[256];
    ssize_t n = left.count() > 0 && poll(&p, 1, static_cast<int>(left.count())) > 0
                    ? read(from_child[0], buffer, sizeof buffer)
                    : 0;
    if (n <= 0) {
      close(from_child[0]);
      throw std::runtime_error("fauxqs did not start (is `node` on PATH?); its output: " + line);
    }
    line.append(buffer, static_cast<std::size_t>(n));
  }
  close(from_child[0]);  // later output (none without logging) is not read
  auto at = line.find("http://");
  if (at == std::string::npos) throw std::runtime_error("fauxqs printed an unexpected line: " + line);
  endpoint_ = line.substr(at, line.find('\n', at) - at);

  ApiClient client(endpoint_);
  for (int i = 0; i < 300; ++i) {
    if (client.Get("/health").status == 200) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  throw std::runtime_error("fauxqs at " + endpoint_ + " does not answer GET /health");
}

FauxqsEmulator::~FauxqsEmulator() {
  if (stdin_fd_ >= 0) close(stdin_fd_);
  if (pid_ > 0) {
    kill(pid_, SIGTERM);
    int status = 0;
    waitpid(pid_, &status, 0);
  }
}

FauxqsEmulator& FauxqsEmulator::Shared() {
  static FauxqsEmulator emulator;
  return emulator;
}

}  // namespace pkgtrust::testing
