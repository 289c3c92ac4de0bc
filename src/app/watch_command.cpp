#include "app/watch_command.hpp"

#include <fmt/format.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <boost/asio.hpp>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <thread>

#include "pkgtrust/core/json_limits.hpp"
#include "pkgtrust/net/url.hpp"

namespace pkgtrust::app {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
using json = nlohmann::json;

std::atomic<bool> g_stop{false};
void OnSignal(int) { g_stop = true; }

// One line for a person: "1605 pypi/reqeusts complete 0.9 [typosquatting]".
std::string Describe(const std::string& event, const json& data) {
  auto text = [&](const char* key) {
    auto it = data.find(key);
    return it != data.end() && it->is_string() ? it->get<std::string>() : std::string("?");
  };
  auto offset = data.find("offset");
  std::string line = fmt::format("{:>8} {:<12} {}/{} {}",
                                 offset != data.end() && offset->is_number_integer() ? offset->get<long long>() : 0LL,
                                 event, text("ecosystem"), text("name"), text("state"));
  if (data.contains("score") && data["score"].is_number()) line += fmt::format(" {:.1f}", data["score"].get<double>());
  std::string flags;
  if (data.contains("flags") && data["flags"].is_object())
    for (const auto& [name, value] : data["flags"].items())
      if (value.is_boolean() && value.get<bool>()) flags += (flags.empty() ? "" : ",") + name;
  if (!flags.empty()) line += " [" + flags + "]";
  return line;
}

}  // namespace

int RunWatch(const WatchOptions& options) {
  auto url = net::ParseUrl(options.url);
  if (!url.ok() || url->tls()) {
    std::fprintf(stderr, "pkgtrust watch: --url must be an http:// URL of the service, got '%s'\n",
                 options.url.c_str());
    return 2;
  }
  signal(SIGINT, OnSignal);
  signal(SIGTERM, OnSignal);
  std::optional<long long> last_id = options.from_offset;
  int printed = 0;
  int backoff_ms = 500;
  while (!g_stop) {
    try {
      asio::io_context io;
      tcp::socket socket(io);
      asio::connect(socket, tcp::resolver(io).resolve(url->host, url->port));
      std::string target = "/v1/changes" + (options.query.empty() ? "" : "?" + options.query);
      std::string request = fmt::format("GET {} HTTP/1.1\r\nHost: {}\r\nAccept: text/event-stream\r\n", target,
                                        url->host);
      if (last_id) request += fmt::format("Last-Event-ID: {}\r\n", *last_id);
      request += "\r\n";
      asio::write(socket, asio::buffer(request));
      // A receive timeout, so a stop signal is seen within a second.
      timeval tv{1, 0};
      setsockopt(socket.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);

      std::string buffer;
      bool head_done = false;
      char chunk[65536];
      while (!g_stop) {
        ssize_t n = ::recv(socket.native_handle(), chunk, sizeof chunk, 0);
        // A timeout, or a signal (a socket with a receive timeout is not restarted after
        // one): the loop condition sees a stop.
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) continue;
        if (n <= 0) {  // closed: reconnect where we left off
          std::fprintf(stderr, "pkgtrust watch: the connection closed; reconnecting %s\n",
                       last_id ? fmt::format("after offset {}", *last_id).c_str() : "for the state");
          break;
        }
        buffer.append(chunk, static_cast<std::size_t>(n));
        if (!head_done) {
          auto end = buffer.find("\r\n\r\n");
          if (end == std::string::npos) continue;
          std::string head = buffer.substr(0, end);
          buffer.erase(0, end + 4);
          head_done = true;
          if (head.find(" 200 ") == std::string::npos) {
            std::fprintf(stderr, "pkgtrust watch: %s answered: %s %s\n", options.url.c_str(),
                         head.substr(0, head.find("\r\n")).c_str(), buffer.c_str());
            return 1;
          }
          backoff_ms = 500;
        }
        std::size_t at;
        while ((at = buffer.find("\n\n")) != std::string::npos) {
          std::string block = buffer.substr(0, at);
          buffer.erase(0, at + 2);
          std::string event = "message", data;
          std::optional<long long> id;
          std::size_t start = 0;
          while (start < block.size()) {
            std::size_t eol = block.find('\n', start);
            std::string line = block.substr(start, eol == std::string::npos ? std::string::npos : eol - start);
            start = eol == std::string::npos ? block.size() : eol + 1;
            if (line.starts_with("event: ")) event = line.substr(7);
            if (line.starts_with("data: ")) data += line.substr(6);
            if (line.starts_with("id: ")) id = std::atoll(line.c_str() + 4);
          }
          if (data.empty()) continue;  // a comment
          if (id) last_id = id;
          if (event == "reset") {
            last_id.reset();  // the state follows
            std::fprintf(stderr, "pkgtrust watch: reset: %s\n", data.c_str());
            continue;
          }
          if (event == "snapshot_end") {
            std::fprintf(stderr, "pkgtrust watch: state received, following changes after offset %lld\n",
                         last_id.value_or(0));
            continue;
          }
          if (event != "snapshot" && event != "change") continue;
          json parsed = core::JsonNestingWithin(data) ? json::parse(data, nullptr, false) : json();
          if (!parsed.is_object()) {
            std::fprintf(stderr, "pkgtrust watch: skipping a %s event whose data is not a JSON object: %.200s\n",
                         event.c_str(), data.c_str());
            continue;
          }
          if (options.json)
            std::printf("%s\n", data.c_str());
          else
            std::printf("%s\n", Describe(event, parsed).c_str());
          std::fflush(stdout);
          if (options.max_events > 0 && ++printed >= options.max_events) return 0;
        }
      }
    } catch (const boost::system::system_error& e) {
      // The code's own text ("Connection refused"); what() also names Boost's source file.
      if (!g_stop)
        std::fprintf(stderr, "pkgtrust watch: %s: %s; retrying in %d ms\n", options.url.c_str(),
                     e.code().message().c_str(), backoff_ms);
    } catch (const std::exception& e) {
      if (!g_stop)
        std::fprintf(stderr, "pkgtrust watch: %s: %s; retrying in %d ms\n", options.url.c_str(), e.what(),
                     backoff_ms);
    }
    if (g_stop) break;
    for (int waited = 0; waited < backoff_ms && !g_stop; waited += 100)
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    backoff_ms = std::min(backoff_ms * 2, 30'000);
  }
  return 0;
}

}  // namespace pkgtrust::app
