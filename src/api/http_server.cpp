#include "pkgtrust/api/http_server.hpp"

#include <fmt/format.h>

#include <array>
#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <condition_variable>
#include <future>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>
#include <unordered_map>

#include "pkgtrust/core/log.hpp"

namespace pkgtrust::api {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

const std::string* ServerRequest::Header(std::string_view name) const {
  for (const auto& [k, v] : headers)
    if (k == name) return &v;
  return nullptr;
}

ServerResponse ErrorResponse(int status, std::string_view code, std::string_view message) {
  ServerResponse response;
  response.status = status;
  // Messages may quote the request (a name, a parameter): invalid UTF-8 there is replaced,
  // never allowed to throw.
  response.body = nlohmann::json{{"error", {{"code", code}, {"message", message}}}}.dump(
      -1, ' ', false, nlohmann::json::error_handler_t::replace);
  return response;
}

namespace {
class Session;
}

class HttpServer::Impl {
 public:
  Impl(ServerConfig config, RequestHandler& handler)
      : config_(std::move(config)), handler_(handler), acceptor_(ioc_) {}
  ~Impl() { Stop(std::chrono::milliseconds(0), std::chrono::milliseconds(0)); }

  core::Status Start();
  void Stop(std::chrono::milliseconds grace, std::chrono::milliseconds delay);
  void Accept();
  void RunIo();

  // Session bookkeeping, so Stop can close idle connections.
  void Register(Session* session, std::weak_ptr<Session> weak);
  void Unregister(Session* session);
  void RequestStarted() {
    in_flight_.fetch_add(1);
    requests_.fetch_add(1, std::memory_order_relaxed);
  }
  void RequestFinished() {
    std::lock_guard lock(mu_);
    if (in_flight_.fetch_sub(1) == 1) idle_cv_.notify_all();
  }

  ServerConfig config_;
  RequestHandler& handler_;
  // Declared before the io_context: handlers it destroys may still unregister sessions.
  std::mutex mu_;
  std::condition_variable idle_cv_;
  std::unordered_map<Session*, std::weak_ptr<Session>> sessions_;
  std::atomic<std::int64_t> in_flight_{0}, requests_{0}, connections_total_{0}, rejected_{0}, timeouts_{0};
  std::atomic<bool> draining_{false};
  std::atomic<int> port_{0};
  bool started_ = false;

  asio::io_context ioc_;
  tcp::acceptor acceptor_;
  asio::steady_timer accept_retry_{ioc_};
  static constexpr std::chrono::milliseconds kAcceptRetry{100};
  std::atomic<std::int64_t> accept_errors_{0};
  std::vector<std::thread> threads_;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_;
};

namespace {

bool IsParseError(const beast::error_code& ec) {
  return ec.category() == http::make_error_code(http::error::end_of_stream).category();
}

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, HttpServer::Impl& server) : stream_(std::move(socket)), server_(server) {
    beast::error_code ec;
    auto endpoint = stream_.socket().remote_endpoint(ec);
    if (!ec) remote_ = endpoint.address().to_string();
  }
  ~Session() { server_.Unregister(this); }

  void Run() {
    server_.Register(this, weak_from_this());
    asio::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->Read(); });
  }

  // From Stop(): an idle connection closes now; a busy one closes after its answer; a
  // stream (it never finishes by itself) ends now.
  void Drain() {
    asio::post(stream_.get_executor(), [self = shared_from_this()] {
      if (self->body_stream_) return self->EndStream();
      if (!self->busy_) self->Close();
    });
  }

 private:
  void Read() {
    if (server_.draining_ && answered_ > 0) return Close();  // draining: one answer per connection
    // Beast bounds headers by header_limit but not a chunked body's trailer: the buffer's
    // own limit does (what it holds beyond the body it has parsed is a header or a trailer).
    buffer_.max_size(server_.config_.max_header_bytes + kBufferSlack);
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(server_.config_.max_header_bytes));
    parser_->body_limit(server_.config_.max_body_bytes);
    stream_.expires_after(server_.config_.request_timeout);
    http::async_read(stream_, buffer_, *parser_,
                     beast::bind_front_handler(&Session::OnRead, shared_from_this()));
  }

  void OnRead(beast::error_code ec, std::size_t) {
    if (ec == http::error::end_of_stream || ec == asio::error::operation_aborted) return Close();
    if (ec == beast::error::timeout) {
      server_.timeouts_.fetch_add(1, std::memory_order_relaxed);
      return Close();
    }
    // Answer what can be answered, then close: the rest of the stream cannot be trusted.
    if (ec == http::error::body_limit)
      return Reject(413, "body_too_large",
                    fmt::format("the request body is larger than {} bytes", server_.config_.max_body_bytes));
    if (ec == http::error::header_limit || ec == http::error::buffer_overflow)
      return Reject(
          431, "headers_too_large",
          fmt::format("the request headers are larger than {} bytes", server_.config_.max_header_bytes));
    if (IsParseError(ec)) return Reject(400, "bad_request", "malformed HTTP request: " + ec.message());
    if (ec) return Close();

    http::request<http::string_body> req = parser_->release();
    keep_alive_ = req.keep_alive();
    // RFC 9112 section 3.2: an HTTP/1.1 request without Host is answered 400.
    if (req.version() >= 11 && req.find(http::field::host) == req.end())
      return Reject(400, "bad_request", "an HTTP/1.1 request needs a Host header");
    ServerRequest request;
    request.method = std::string(req.method_string());
    std::string_view target = req.target();
    std::size_t q = target.find('?');
    request.path = std::string(target.substr(0, q));
    if (q != std::string_view::npos) request.query = std::string(target.substr(q + 1));
    for (const auto& field : req) {
      std::string name(field.name_string());
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      request.headers.emplace_back(std::move(name), std::string(field.value()));
    }
    request.body = std::move(req.body());
    request.remote = remote_;
    Dispatch(std::move(request));
  }

  void Dispatch(ServerRequest request) {
    busy_ = true;
    stream_.expires_never();  // the handler may wait for a package; the write has its own deadline
    server_.RequestStarted();
    // dispatch: an answer given on this connection's strand (most are) is written at once;
    // one from another thread (a waiting request) is queued to the strand. Only the first
    // answer counts, so a handler that throws after answering cannot cause a second write.
    auto answered = std::make_shared<std::atomic<bool>>(false);
    auto respond = [self = shared_from_this(), answered](ServerResponse response) {
      if (answered->exchange(true)) return;
      asio::dispatch(self->stream_.get_executor(),
                     [self, response = std::move(response)]() mutable { self->Write(std::move(response)); });
    };
    try {
      server_.handler_.Handle(std::move(request), respond);
    } catch (const std::exception& e) {
      // Handlers must not throw; if one does, the client still gets an answer.
      core::Log(core::LogLevel::kError, "http", "handler threw: {}", e.what());
      respond(ErrorResponse(500, "internal", "internal error"));
    }
  }

  void Reject(int status, std::string_view code, std::string_view message) {
    keep_alive_ = false;
    unread_input_ = true;
    busy_ = true;
    server_.RequestStarted();
    Write(ErrorResponse(status, code, message));
  }

  void Write(ServerResponse response) {
    if (response.stream) return StartStream(std::move(response));
    if (response.shared_body) return WriteShared(std::move(response));
    res_ = {};
    res_.version(11);
    res_.result(static_cast<unsigned>(response.status));
    if (!response.reason.empty()) res_.reason(ReasonPhrase(response));
    res_.set(http::field::server, "pkgtrust");
    res_.set(http::field::content_type, response.content_type);
    for (auto& [name, value] : response.headers) res_.set(name, value);
    res_.body() = std::move(response.body);
    res_.keep_alive(keep_alive_ && !server_.draining_);
    res_.prepare_payload();
    stream_.expires_after(server_.config_.write_timeout);
    http::async_write(stream_, res_, beast::bind_front_handler(&Session::OnWrite, shared_from_this()));
  }

  void OnWrite(beast::error_code ec, std::size_t) {
    busy_ = false;
    answered_++;
    server_.RequestFinished();
    if (!ec && unread_input_) return LingeringClose();
    if (ec || !res_.keep_alive()) return Close();
    Read();
  }

  // A body shared with its owner (a file in the gateway's memory): written from where it is.
  void WriteShared(ServerResponse response) {
    shared_owner_ = std::move(response.shared_body);
    shared_res_ = {};
    shared_res_.version(11);
    shared_res_.result(static_cast<unsigned>(response.status));
    if (!response.reason.empty()) shared_res_.reason(ReasonPhrase(response));
    shared_res_.set(http::field::server, "pkgtrust");
    shared_res_.set(http::field::content_type, response.content_type);
    for (auto& [name, value] : response.headers) shared_res_.set(name, value);
    shared_res_.body() =
        http::span_body<const char>::value_type(shared_owner_->data(), shared_owner_->size());
    shared_res_.keep_alive(keep_alive_ && !server_.draining_);
    shared_res_.prepare_payload();
    stream_.expires_after(server_.config_.write_timeout);
    http::async_write(stream_, shared_res_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
      self->shared_owner_.reset();
      self->busy_ = false;
      self->answered_++;
      self->server_.RequestFinished();
      if (ec || !self->shared_res_.keep_alive()) return self->Close();
      self->Read();
    });
  }

  // --- streamed bodies ----------------------------------------------------------------

  static std::string ReasonPhrase(const ServerResponse& response) {
    if (response.reason.empty())
      return std::string(http::obsolete_reason(static_cast<http::status>(response.status)));
    std::string reason = response.reason.substr(0, 512);
    for (char& c : reason)
      if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
    return reason;
  }

  void StartStream(ServerResponse response) {
    body_stream_ = std::move(response.stream);
    stream_length_ = response.stream_length;
    stream_sent_ = 0;
    beast::error_code ignored;
    // A small send buffer: a client that stops reading blocks the next write soon (and then
    // the stall timeout cuts it off) instead of parking megabytes in the kernel for ever. A
    // file of known length keeps the default: it ends by itself.
    if (!stream_length_)
      stream_.socket().set_option(asio::socket_base::send_buffer_size(kStreamSendBuffer), ignored);
    std::string head = fmt::format("HTTP/1.1 {} {}\r\nServer: pkgtrust\r\nContent-Type: {}\r\n",
                                   response.status, ReasonPhrase(response), response.content_type);
    for (const auto& [name, value] : response.headers) head += name + ": " + value + "\r\n";
    bool keep_alive = stream_length_ && keep_alive_ && !server_.draining_;
    if (stream_length_) head += fmt::format("Content-Length: {}\r\n", *stream_length_);
    head += keep_alive ? "\r\n" : "Connection: close\r\n\r\n";
    stream_keep_alive_ = keep_alive;
    stream_head_bytes_ = head.size();
    WriteStreamBytes(std::move(head), false);
  }

  void WriteStreamBytes(std::string bytes, bool end) {
    stream_sent_ += bytes.size();
    // A stream of known length never sends more than it announced.
    if (stream_length_ && stream_sent_ > stream_head_bytes_ + *stream_length_) {
      core::Log(core::LogLevel::kError, "http", "a streamed body went past its announced length; closed");
      return EndStream();
    }
    stream_out_ = std::move(bytes);
    stream_ends_ = end;
    stream_.expires_after(server_.config_.stream_write_timeout);
    asio::async_write(stream_, asio::buffer(stream_out_),
                      [self = shared_from_this()](beast::error_code ec, std::size_t) { self->OnStreamWrite(ec); });
  }

  void OnStreamWrite(beast::error_code ec) {
    stream_.expires_never();
    if (ec || !body_stream_) return EndStream();
    if (stream_ends_) return EndStream(/*sent=*/true);
    // The next bytes may come later, from another thread: back to this strand to write.
    body_stream_->Next([self = shared_from_this()](std::string bytes, bool end) {
      asio::dispatch(self->stream_.get_executor(), [self, bytes = std::move(bytes), end]() mutable {
        if (!self->body_stream_) return;  // ended meanwhile
        if (bytes.empty() && end) return self->EndStream(/*sent=*/true);
        self->WriteStreamBytes(std::move(bytes), end);
      });
    });
  }

  // `sent`: the stream ended by itself and everything it gave was written.
  void EndStream(bool sent = false) {
    // A stream of known length that went out whole leaves the connection open for the next
    // request; anything else closes it (a short body is then visible as such).
    bool whole = sent && stream_length_ && stream_sent_ == stream_head_bytes_ + *stream_length_;
    if (auto stream = std::move(body_stream_)) {
      stream->Cancel();
      busy_ = false;
      answered_++;
      server_.RequestFinished();
    }
    stream_length_.reset();
    if (whole && stream_keep_alive_) return Read();
    Close();
  }

  // After answering a request whose body was not read (413, 431, 400): stop sending, then
  // read and discard what the client is still sending for a while. Closing at once would
  // make the kernel reset the connection, and the client would lose the answer.
  void LingeringClose() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    stream_.expires_after(std::chrono::seconds(5));
    Discard();
  }

  void Discard() {
    stream_.async_read_some(asio::buffer(scratch_),
                            [self = shared_from_this()](beast::error_code ec, std::size_t n) {
                              self->discarded_ += n;
                              if (ec || self->discarded_ > kMaxDiscardBytes) return self->Close();
                              self->Discard();
                            });
  }

  void Close() {
    if (body_stream_) return EndStream();
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    stream_.close();
  }

  beast::tcp_stream stream_;
  HttpServer::Impl& server_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  http::response<http::string_body> res_;
  http::response<http::span_body<const char>> shared_res_;
  std::shared_ptr<const std::string> shared_owner_;  // the body shared_res_ points into
  std::shared_ptr<ResponseStream> body_stream_;  // set while a streamed body is being sent
  std::string stream_out_;
  bool stream_ends_ = false;
  std::optional<std::uint64_t> stream_length_;  // announced body length, for a file
  std::uint64_t stream_sent_ = 0, stream_head_bytes_ = 0;
  bool stream_keep_alive_ = false;
  std::string remote_;
  bool keep_alive_ = true;
  bool busy_ = false;
  int answered_ = 0;  // requests answered on this connection
  bool unread_input_ = false;
  static constexpr std::size_t kMaxDiscardBytes = 64u << 20;
  // Room in the read buffer beyond the header limit: one read's worth of the body that
  // follows the headers (the body itself goes to the parser, not the buffer).
  static constexpr std::size_t kBufferSlack = 2048;
  static constexpr int kStreamSendBuffer = 64 * 1024;
  std::size_t discarded_ = 0;
  std::array<char, 16384> scratch_;
};

}  // namespace

void HttpServer::Impl::Register(Session* session, std::weak_ptr<Session> weak) {
  std::lock_guard lock(mu_);
  sessions_.emplace(session, std::move(weak));
}

void HttpServer::Impl::Unregister(Session* session) {
  std::lock_guard lock(mu_);
  sessions_.erase(session);
}

core::Status HttpServer::Impl::Start() {
  beast::error_code ec;
  auto address = asio::ip::make_address(config_.host, ec);
  if (ec)
    return core::Status::InvalidArgument(
        fmt::format("server.listen: '{}' is not an IP address", config_.host));
  tcp::endpoint endpoint(address, static_cast<unsigned short>(config_.port));
  std::string where = fmt::format("{}:{}", config_.host, config_.port);
  if (acceptor_.open(endpoint.protocol(), ec); ec)
    return core::Status::Unavailable("cannot listen on " + where + ": " + ec.message());
  acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
  if (acceptor_.bind(endpoint, ec); ec)
    return core::Status::Unavailable("cannot listen on " + where + ": " + ec.message());
  if (acceptor_.listen(asio::socket_base::max_listen_connections, ec); ec)
    return core::Status::Unavailable("cannot listen on " + where + ": " + ec.message());
  port_ = acceptor_.local_endpoint().port();
  work_.emplace(ioc_.get_executor());
  Accept();
  for (int i = 0; i < std::max(1, config_.threads); ++i) threads_.emplace_back([this] { RunIo(); });
  started_ = true;
  return core::Status::Ok();
}

void HttpServer::Impl::RunIo() {
  // A handler that throws unwinds out of run(): log it and serve on. The connection whose
  // handler threw is dropped with it (its session is released); the others are not.
  while (true) {
    try {
      ioc_.run();
      return;
    } catch (const std::exception& e) {
      core::Log(core::LogLevel::kError, "http", "a connection's handler threw and was dropped: {}", e.what());
    } catch (...) {
      core::Log(core::LogLevel::kError, "http", "a connection's handler threw and was dropped");
    }
  }
}

void HttpServer::Impl::Accept() {
  acceptor_.async_accept(asio::make_strand(ioc_), [this](beast::error_code ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted || !acceptor_.is_open()) return;
    if (!ec) {
      std::size_t open;
      {
        std::lock_guard lock(mu_);
        open = sessions_.size();
      }
      if (open >= static_cast<std::size_t>(config_.max_connections)) {
        rejected_.fetch_add(1, std::memory_order_relaxed);
        beast::error_code ignored;
        socket.close(ignored);
      } else {
        connections_total_.fetch_add(1, std::memory_order_relaxed);
        socket.set_option(tcp::no_delay(true), ec);
        std::make_shared<Session>(std::move(socket), *this)->Run();
      }
    } else {
      // Out of file descriptors and the like: the condition may pass, but retrying at once
      // would spin a core and flood the log. Wait a little, then accept again.
      accept_errors_.fetch_add(1, std::memory_order_relaxed);
      core::Log(core::LogLevel::kWarn, "http", "accept failed: {}; retrying in {} ms", ec.message(),
                kAcceptRetry.count());
      accept_retry_.expires_after(kAcceptRetry);
      accept_retry_.async_wait([this](beast::error_code wait_ec) {
        if (!wait_ec && acceptor_.is_open()) Accept();
      });
      return;
    }
    Accept();
  });
}

void HttpServer::Impl::Stop(std::chrono::milliseconds grace, std::chrono::milliseconds delay) {
  if (!started_) return;
  started_ = false;
  draining_ = true;
  std::vector<std::shared_ptr<Session>> live;
  {
    std::lock_guard lock(mu_);
    for (auto& [ptr, weak] : sessions_)
      if (auto s = weak.lock()) live.push_back(std::move(s));
  }
  for (auto& s : live) s->Drain();
  live.clear();
  // The listener stays open meanwhile: connections made while draining get one answer
  // each (readiness says 503), so a load balancer learns from the API, not from a refusal.
  std::this_thread::sleep_for(delay);
  {
    std::unique_lock lock(mu_);
    idle_cv_.wait_for(lock, grace, [this] { return in_flight_.load() == 0; });
  }
  std::promise<void> closed;
  asio::post(acceptor_.get_executor(), [this, &closed] {
    beast::error_code ec;
    acceptor_.close(ec);
    accept_retry_.cancel();
    closed.set_value();
  });
  closed.get_future().wait();
  work_.reset();
  ioc_.stop();
  for (auto& t : threads_) t.join();
  threads_.clear();
}

HttpServer::HttpServer(ServerConfig config, RequestHandler& handler)
    : impl_(std::make_unique<Impl>(std::move(config), handler)) {}
HttpServer::~HttpServer() = default;
core::Status HttpServer::Start() { return impl_->Start(); }
void HttpServer::Stop(std::chrono::milliseconds grace, std::chrono::milliseconds delay) {
  impl_->Stop(grace, delay);
}
int HttpServer::port() const { return impl_->port_; }

HttpServer::Stats HttpServer::GetStats() const {
  Stats stats;
  {
    std::lock_guard lock(impl_->mu_);
    stats.connections_open = static_cast<std::int64_t>(impl_->sessions_.size());
  }
  stats.connections_total = impl_->connections_total_;
  stats.requests = impl_->requests_;
  stats.requests_in_flight = impl_->in_flight_;
  stats.rejected_connections = impl_->rejected_;
  stats.timeouts = impl_->timeouts_;
  return stats;
}

}  // namespace pkgtrust::api
