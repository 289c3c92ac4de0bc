// The HTTP/1.1 server under the REST API, the webhook and /metrics, on Boost.Beast: one
// strand per connection, keep-alive, pipelined requests answered one at a time in order,
// limits on header, trailer and body size, a deadline on every read and write (a slowloris
// client is cut off), a connection cap, and a graceful stop that finishes requests in
// flight. No input ends the process: an exception escaping a handler on an I/O thread is
// logged and the thread goes on serving. Handlers are asynchronous: they answer through a
// Responder, from any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "pkgtrust/core/status.hpp"

namespace pkgtrust::api {

// Beast keeps a header or trailer field's offsets in 16 bits and throws past 64 KiB: every
// header and trailer byte a request can hold stays below that (the config refuses more).
inline constexpr std::size_t kMaxHeaderBytesLimit = 60 * 1024;

struct ServerConfig {
  std::string host = "127.0.0.1";
  int port = 8080;  // 0: any free port (tests); see HttpServer::port()
  int threads = 2;
  std::size_t max_header_bytes =
      16 * 1024;  // headers, and a chunked body's trailer; at most kMaxHeaderBytesLimit
  std::size_t max_body_bytes = 1024 * 1024;
  // A request's headers and body must arrive within this; an idle keep-alive connection
  // is closed after it too.
  std::chrono::milliseconds request_timeout{15'000};
  std::chrono::milliseconds write_timeout{15'000};
  // A streamed body (change stream) whose client reads nothing for this long is cut off:
  // a stalled subscriber holds a page of events in memory while it stays.
  std::chrono::milliseconds stream_write_timeout{30'000};
  int max_connections = 4096;
};

struct ServerRequest {
  std::string method;                                        // "GET", "POST", ...
  std::string path;                                          // the target before '?', still percent-encoded
  std::string query;                                         // after '?', still encoded; empty when none
  std::vector<std::pair<std::string, std::string>> headers;  // names in lower case
  std::string body;
  std::string remote;  // client address

  const std::string* Header(std::string_view lower_case_name) const;
};

// A body produced as it goes (Server-Sent Events). The server writes the status line and
// headers (no Content-Length; the connection closes when the stream ends), then asks for
// the next bytes each time the previous ones are written, so a client that reads slowly
// slows only its own stream.
class ResponseStream {
 public:
  virtual ~ResponseStream() = default;
  // Called after each write, the first time after the headers. Must call `deliver` exactly
  // once, now or later, from any thread: the next bytes, and `end` to finish after them.
  virtual void Next(std::function<void(std::string bytes, bool end)> deliver) = 0;
  // The connection is closing (the client went away, a write failed or timed out, the
  // server stops). Next is not called again; a pending `deliver` may be dropped.
  virtual void Cancel() {}
};

struct ServerResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  std::shared_ptr<ResponseStream> stream;  // set: `body` is ignored, the stream is the body
  // Set: `body` is ignored and this is written without a copy (kept alive until written).
  std::shared_ptr<const std::string> shared_body;
  // For a stream whose length is known (a package file): sent as Content-Length, and the
  // connection stays open for the next request once exactly that many bytes went out. A
  // stream that ends early closes the connection, so the client sees a truncated body.
  std::optional<std::uint64_t> stream_length;
  // The status line's reason phrase instead of the standard one (pip prints it when it
  // refuses a file); control characters are replaced.
  std::string reason;
};

// Must be called exactly once, from any thread.
using Responder = std::function<void(ServerResponse)>;

class RequestHandler {
 public:
  virtual ~RequestHandler() = default;
  // Must not throw; may answer later (waiting for a package) from another thread.
  virtual void Handle(ServerRequest request, Responder respond) = 0;
};

// The JSON error body of DESIGN.md: {"error": {"code": ..., "message": ...}}.
ServerResponse ErrorResponse(int status, std::string_view code, std::string_view message);

// Safe for concurrent use. The handler must outlive the server.
class HttpServer {
 public:
  HttpServer(ServerConfig config, RequestHandler& handler);
  ~HttpServer();

  // Binds and starts accepting; an error names the address (e.g. already in use).
  core::Status Start();
  // Drains, then closes everything and joins the threads. While draining, the listener
  // stays open (so a load balancer's readiness probe gets the API's 503, not a refused
  // connection): idle connections are closed, each connection is answered one more request
  // at most and then closed. Draining lasts at least `delay` and then until no request is
  // in flight, for at most `grace` more.
  void Stop(std::chrono::milliseconds grace = std::chrono::seconds(10),
            std::chrono::milliseconds delay = std::chrono::milliseconds(0));
  int port() const;

  struct Stats {
    std::int64_t connections_open = 0, connections_total = 0, requests = 0, requests_in_flight = 0,
                 rejected_connections = 0, timeouts = 0;
  };
  Stats GetStats() const;

  class Impl;  // public only so the connection class in the .cpp can name it

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace pkgtrust::api
