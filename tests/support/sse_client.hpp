// A blocking Server-Sent Events client for tests: one GET on a plain socket to
// 127.0.0.1, then events one at a time as they arrive (comments skipped).
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>

namespace pkgtrust::testing {

struct SseEvent {
  std::string event = "message";
  std::string data;
  std::optional<std::string> id;
};

class SseClient {
 public:
  // `extra_headers`: lines like "Last-Event-ID: 5\r\n".
  SseClient(int port, const std::string& target, const std::string& extra_headers = "") {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<std::uint16_t>(port));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd_ < 0 || connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0)
      throw std::runtime_error("sse: cannot connect");
    std::string request = "GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n" +
                          extra_headers + "\r\n";
    if (send(fd_, request.data(), request.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(request.size()))
      throw std::runtime_error("sse: cannot send");
  }
  ~SseClient() {
    if (fd_ >= 0) close(fd_);
  }
  SseClient(const SseClient&) = delete;
  SseClient& operator=(const SseClient&) = delete;

  // The status line and headers ("" if they did not arrive within the timeout).
  std::string Head(std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    while (head_.empty()) {
      auto end = buffer_.find("\r\n\r\n");
      if (end != std::string::npos) {
        head_ = buffer_.substr(0, end);
        buffer_.erase(0, end + 4);
        break;
      }
      if (!Fill(timeout)) return {};
    }
    return head_;
  }

  // The next event, or nullopt when the stream ended or nothing came within the timeout.
  std::optional<SseEvent> Next(std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    if (Head(timeout).empty()) return std::nullopt;
    while (true) {
      auto end = buffer_.find("\n\n");
      if (end != std::string::npos) {
        std::string block = buffer_.substr(0, end);
        buffer_.erase(0, end + 2);
        SseEvent event;
        bool any = false;
        std::size_t start = 0;
        while (start <= block.size()) {
          std::size_t eol = block.find('\n', start);
          std::string line = block.substr(start, eol == std::string::npos ? std::string::npos : eol - start);
          start = eol == std::string::npos ? block.size() + 1 : eol + 1;
          if (line.empty() || line[0] == ':') continue;
          std::size_t colon = line.find(':');
          std::string field = line.substr(0, colon);
          std::string value = colon == std::string::npos ? "" : line.substr(colon + 1);
          if (!value.empty() && value[0] == ' ') value.erase(0, 1);
          any = true;
          if (field == "event") event.event = value;
          if (field == "data") event.data += value;
          if (field == "id") event.id = value;
        }
        if (any) return event;
        comments_++;
        continue;  // a comment (heartbeat)
      }
      if (!Fill(timeout)) return std::nullopt;
    }
  }

  bool closed() const { return closed_; }
  // Comment-only blocks (heartbeats) read so far.
  int comments() const { return comments_; }

 private:
  bool Fill(std::chrono::milliseconds timeout) {
    if (closed_) return false;
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(timeout.count())) <= 0) return false;
    char chunk[65536];
    ssize_t n = recv(fd_, chunk, sizeof chunk, 0);
    if (n <= 0) {
      closed_ = true;
      return false;
    }
    buffer_.append(chunk, static_cast<std::size_t>(n));
    return true;
  }

  int fd_ = -1;
  std::string buffer_, head_;
  bool closed_ = false;
  int comments_ = 0;
};

}  // namespace pkgtrust::testing
