// The fauxqs SNS/SQS emulator (npm fauxqs 1.9.2, installed by `npm ci --prefix
// tests/emulator`) as a child process on a free loopback port, for the sqs transport's
// tests and benchmark. It stops when this object is destroyed, or when this process dies
// (its standard input closes).
#pragma once

#include <sys/types.h>

#include <string>

namespace pkgtrust::testing {

class FauxqsEmulator {
 public:
  // Starts it and waits for GET /health; throws std::runtime_error naming what went
  // wrong (not installed, node missing, no answer within 30 s).
  FauxqsEmulator();
  ~FauxqsEmulator();
  FauxqsEmulator(const FauxqsEmulator&) = delete;
  FauxqsEmulator& operator=(const FauxqsEmulator&) = delete;

  std::string Endpoint() const { return endpoint_; }  // "http://127.0.0.1:PORT"

  // One emulator for the whole test binary, started on first use. Tests keep apart by
  // name prefix.
  static FauxqsEmulator& Shared();

 private:
  pid_t pid_ = -1;
  int stdin_fd_ = -1;
  std::string endpoint_;
};

}  // namespace pkgtrust::testing
