// Helpers shared by tests: temporary folders, waiting on a condition with a deadline
// (never a bare sleep), and fixture paths.
#pragma once

#include <sys/wait.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <sstream>
#include <string>
#include <thread>

namespace pkgtrust::testing {

class TempDir {
 public:
  TempDir() {
    std::random_device rd;
    path_ = std::filesystem::temp_directory_path() /
            ("pkgtrust-test-" + std::to_string(rd()) + std::to_string(rd()));
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::string File(const std::string& name) const { return (path_ / name).string(); }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// Polls `condition` until it holds or `timeout` passes; returns its last value.
inline bool WaitUntil(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    if (condition()) return true;
    if (std::chrono::steady_clock::now() > deadline) return condition();
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

inline std::string FixturePath(const std::string& relative) {
  return std::string(PKGTRUST_FIXTURES_DIR) + "/" + relative;
}

inline std::string ReadText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

inline void WriteText(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
}

// The value of one sample in Prometheus text (`name{labels} value`; labels as written, ""
// for none), or -1 when the sample is absent.
inline double MetricValue(const std::string& metrics, const std::string& name,
                          const std::string& labels = "") {
  std::istringstream in(metrics);
  std::string prefix = labels.empty() ? name + " " : name + "{" + labels + "} ";
  for (std::string line; std::getline(in, line);)
    if (line.starts_with(prefix)) return std::stod(line.substr(prefix.size()));
  return -1;
}

struct CommandRun {
  int exit_code = -1;  // -1: the shell could not be started
  std::string output;  // stdout and stderr together
};

// `command` run by /bin/sh, its output collected (real clients: npm, pip, pkgtrust itself).
inline CommandRun RunCommand(const std::string& command) {
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return {};
  CommandRun run;
  std::array<char, 4096> buffer;
  while (std::size_t n = fread(buffer.data(), 1, buffer.size(), pipe)) run.output.append(buffer.data(), n);
  int status = pclose(pipe);
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return run;
}

// A memory figure of a process in KiB from /proc/PID/status ("VmRSS": resident now; "VmHWM":
// the peak since the last reset, made by writing 5 to /proc/PID/clear_refs); -1 if absent.
inline long ProcessStatusKib(long pid, const std::string& field) {
  std::string status = ReadText("/proc/" + std::to_string(pid) + "/status");
  std::size_t at = status.find("\n" + field + ":");
  return at == std::string::npos ? -1 : std::stol(status.substr(at + field.size() + 2));
}

}  // namespace pkgtrust::testing
