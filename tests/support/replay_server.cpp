#include "support/replay_server.hpp"

#include <fmt/format.h>
#include <zlib.h>

#include <algorithm>
#include <atomic>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <cmath>
#include <ctime>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace pkgtrust::testing {

std::string Gzip(const std::string& text) {
  z_stream zs{};
  deflateInit2(&zs, 9, Z_DEFLATED, 16 + MAX_WBITS, 9, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&zs, text.size()) + 64, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(text.data()));
  zs.avail_in = static_cast<uInt>(text.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  deflate(&zs, Z_FINISH);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

namespace {
std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("replay: cannot read " + path);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}
}  // namespace

class ReplayServer::Impl {
 public:
  Impl(int threads, const TlsFiles* tls) : acceptor_(io_), rng_(1) {
    if (tls) {
      tls_ = std::make_unique<ssl::context>(ssl::context::tls_server);
      tls_->use_certificate_chain_file(tls->certificate);
      tls_->use_private_key_file(tls->private_key, ssl::context::pem);
    }
    tcp::endpoint endpoint(asio::ip::make_address("127.0.0.1"), 0);
    acceptor_.open(endpoint.protocol());
    acceptor_.set_option(asio::socket_base::reuse_address(true));
    acceptor_.bind(endpoint);
    acceptor_.listen();
    port_ = acceptor_.local_endpoint().port();
    asio::co_spawn(io_, Accept(), asio::detached);
    for (int i = 0; i < std::max(1, threads); ++i) threads_.emplace_back([this] { io_.run(); });
  }

  ~Impl() {
    io_.stop();
    for (auto& t : threads_) t.join();
  }

  struct Route {
    std::vector<ReplayResponse> responses;
    int hits = 0;
  };

  asio::awaitable<void> Accept() {
    while (true) {
      boost::system::error_code ec;
      tcp::socket socket = co_await acceptor_.async_accept(asio::redirect_error(asio::use_awaitable, ec));
      if (ec) co_return;
      if (tls_) {
        auto stream = std::make_shared<beast::ssl_stream<beast::tcp_stream>>(std::move(socket), *tls_);
        asio::co_spawn(acceptor_.get_executor(), TlsSession(stream), asio::detached);
      } else {
        auto stream = std::make_shared<beast::tcp_stream>(std::move(socket));
        asio::co_spawn(acceptor_.get_executor(), Serve(stream, *stream), asio::detached);
      }
    }
  }

  asio::awaitable<void> TlsSession(std::shared_ptr<beast::ssl_stream<beast::tcp_stream>> stream) {
    boost::system::error_code ec;
    beast::get_lowest_layer(*stream).expires_after(std::chrono::seconds(10));
    co_await stream->async_handshake(ssl::stream_base::server, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return;
    co_await Serve(stream, beast::get_lowest_layer(*stream));
  }

  // What to answer, with faults applied; counts the hit.
  ReplayResponse Pick(const std::string& method, const std::string& target, const std::string& body) {
    std::optional<ReplayResponse> generated;
    {
      std::lock_guard lock(mu_);
      total_++;
      if (routes_.find(method + " " + target) == routes_.end() &&
          routes_.find(method + " " + target.substr(0, target.find('?'))) == routes_.end() && generator_)
        generated.emplace();
    }
    if (generated) generated = generator_(method, target, body);  // outside the lock: it may be slow
    std::lock_guard lock(mu_);
    ReplayResponse response;
    auto it = routes_.find(method + " " + target);
    if (it == routes_.end()) it = routes_.find(method + " " + target.substr(0, target.find('?')));
    if (generated) {
      response = std::move(*generated);
    } else if (it == routes_.end()) {
      response.status = 404;
      response.headers = {{"content-type", "application/json"}};
      response.body = R"json({"message":"Not Found (no recording for this request)"})json";
    } else {
      Route& route = it->second;
      std::size_t index = std::min<std::size_t>(route.hits, route.responses.size() - 1);
      route.hits++;
      response = route.responses[index];
    }
    if (response.no_faults) return response;
    std::uniform_real_distribution<double> unit(0, 1);
    if (faults_.latency_median.count() > 0) {
      double median = static_cast<double>(faults_.latency_median.count());
      double p99 = std::max(median, static_cast<double>(faults_.latency_p99.count()));
      double sigma = std::log(p99 / median) / 2.326;
      std::lognormal_distribution<double> latency(std::log(median), sigma);
      response.delay += std::chrono::milliseconds(static_cast<std::int64_t>(latency(rng_)));
    }
    if (faults_.timeout_rate > 0 && unit(rng_) < faults_.timeout_rate) response.hang = true;
    if (faults_.error_rate > 0 && unit(rng_) < faults_.error_rate) {
      response =
          ReplayResponse{503, {{"content-type", "text/plain"}}, "injected error", false, response.delay};
    }
    if (faults_.rate_limit > 0 && target.starts_with(faults_.rate_limit_prefix)) {
      std::int64_t now = std::time(nullptr);
      if (now >= window_reset_) {
        window_reset_ = now + faults_.rate_window.count();
        remaining_ = faults_.rate_limit;
      }
      if (remaining_ == 0) {
        response = ReplayResponse{
            403,
            {{"content-type", "application/json"}},
            R"({"message":"API rate limit exceeded","documentation_url":"https://docs.github.com/rest"})"};
      } else {
        remaining_--;
      }
      response.headers.emplace_back("x-ratelimit-limit", std::to_string(faults_.rate_limit));
      response.headers.emplace_back("x-ratelimit-remaining", std::to_string(remaining_));
      response.headers.emplace_back("x-ratelimit-reset", std::to_string(window_reset_));
    }
    return response;
  }

  template <typename Stream>
  asio::awaitable<void> Serve(std::shared_ptr<Stream> stream_owner, beast::tcp_stream& lowest) {
    Stream& stream = *stream_owner;
    beast::flat_buffer buffer;
    boost::system::error_code ec;
    while (true) {
      http::request<http::string_body> req;
      lowest.expires_after(std::chrono::seconds(60));
      co_await http::async_read(stream, buffer, req, asio::redirect_error(asio::use_awaitable, ec));
      if (ec) co_return;
      {
        std::vector<std::pair<std::string, std::string>> headers;
        for (const auto& field : req) {
          std::string name(field.name_string());
          for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
          headers.emplace_back(std::move(name), std::string(field.value()));
        }
        std::lock_guard lock(mu_);
        last_headers_[std::string(req.method_string()) + " " + std::string(req.target())] =
            std::move(headers);
      }
      ReplayResponse r = Pick(std::string(req.method_string()), std::string(req.target()), req.body());
      if (r.delay.count() > 0) {
        asio::steady_timer timer(co_await asio::this_coro::executor, r.delay);
        co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      }
      if (r.hang) {
        asio::steady_timer timer(co_await asio::this_coro::executor, std::chrono::seconds(120));
        co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        co_return;
      }
      if (r.truncate) {
        std::string head =
            fmt::format("HTTP/1.1 {} OK\r\nContent-Length: {}\r\nContent-Type: application/json\r\n\r\n",
                        r.status, r.body.size());
        head += r.body.substr(0, r.body.size() / 2);
        co_await asio::async_write(stream, asio::buffer(head), asio::redirect_error(asio::use_awaitable, ec));
        lowest.socket().shutdown(tcp::socket::shutdown_both, ec);
        co_return;
      }
      http::response<http::string_body> res{static_cast<http::status>(r.status), req.version()};
      for (const auto& [name, value] : r.headers) res.set(name, value);
      if (r.gzip) res.set(http::field::content_encoding, "gzip");
      res.body() = std::move(r.body);
      res.keep_alive(req.keep_alive());
      res.prepare_payload();
      lowest.expires_after(std::chrono::seconds(60));
      co_await http::async_write(stream, res, asio::redirect_error(asio::use_awaitable, ec));
      if (ec || !res.keep_alive()) co_return;
    }
  }

  asio::io_context io_;
  tcp::acceptor acceptor_;
  std::unique_ptr<ssl::context> tls_;
  int port_ = 0;
  std::vector<std::thread> threads_;
  mutable std::mutex mu_;
  std::map<std::string, Route> routes_;
  std::map<std::string, std::vector<std::pair<std::string, std::string>>> last_headers_;
  ReplayFaults faults_;
  ReplayServer::BodyGenerator generator_;
  std::mt19937_64 rng_;
  int total_ = 0;
  int remaining_ = 0;
  std::int64_t window_reset_ = 0;
};

ReplayServer::ReplayServer(int threads, const TlsFiles* tls) : impl_(std::make_unique<Impl>(threads, tls)) {}
ReplayServer::~ReplayServer() = default;

std::string ReplayServer::BaseUrl() const {
  return fmt::format("{}://127.0.0.1:{}", impl_->tls_ ? "https" : "http", impl_->port_);
}
int ReplayServer::port() const { return impl_->port_; }

void ReplayServer::Add(const std::string& method, const std::string& target,
                       std::vector<ReplayResponse> responses) {
  if (responses.empty()) throw std::invalid_argument("replay: a route needs at least one response");
  std::lock_guard lock(impl_->mu_);
  impl_->routes_[method + " " + target] = {std::move(responses), 0};
}

void ReplayServer::LoadFolder(const std::string& folder) {
  auto routes = nlohmann::json::parse(ReadFile(folder + "/routes.json"));
  for (const auto& route : routes) {
    std::vector<ReplayResponse> responses;
    for (const auto& r : route.at("responses")) {
      ReplayResponse response;
      response.status = r.value("status", 200);
      if (r.contains("headers"))
        for (auto& [k, v] : r["headers"].items()) response.headers.emplace_back(k, v.get<std::string>());
      if (r.contains("body_file")) {
        std::string file = r["body_file"];
        response.body = ReadFile(folder + "/" + file);
        response.gzip = file.ends_with(".gz");
      } else {
        response.body = r.value("body", "");
      }
      response.truncate = r.value("truncate", false);
      response.hang = r.value("hang", false);
      responses.push_back(std::move(response));
    }
    Add(route.value("method", "GET"), route.at("path"), std::move(responses));
  }
}

void ReplayServer::LoadCassette(const std::string& folder) {
  auto index = nlohmann::json::parse(ReadFile(folder + "/index.json"));
  std::vector<std::pair<std::string, std::vector<ReplayResponse>>> routes;
  for (const auto& interaction : index.at("interactions")) {
    std::string uri = interaction.at("uri");
    auto scheme = uri.find("://");
    auto slash = uri.find('/', scheme == std::string::npos ? 0 : scheme + 3);
    std::string key =
        interaction.value("method", "GET") + " " + (slash == std::string::npos ? "/" : uri.substr(slash));
    ReplayResponse response;
    response.status = interaction.value("status", 200);
    if (interaction.contains("response_headers"))
      for (auto& [name, values] : interaction["response_headers"].items()) {
        std::string lower = name;
        std::transform(lower.begin(), lower.end(), lower.begin(),
                       [](unsigned char c) { return std::tolower(c); });
        if (lower == "transfer-encoding" || lower == "content-encoding" || lower == "content-length" ||
            lower == "connection")
          continue;
        for (const auto& value : values) response.headers.emplace_back(name, value.get<std::string>());
      }
    if (interaction.contains("body_file"))
      response.body = ReadFile(folder + "/" + interaction["body_file"].get<std::string>());
    auto it = std::find_if(routes.begin(), routes.end(), [&](const auto& r) { return r.first == key; });
    if (it == routes.end())
      routes.emplace_back(key, std::vector<ReplayResponse>{std::move(response)});
    else
      it->second.push_back(std::move(response));
  }
  for (auto& [key, responses] : routes) {
    auto space = key.find(' ');
    Add(key.substr(0, space), key.substr(space + 1), std::move(responses));
  }
}

void ReplayServer::SetGenerator(Generator generator) {
  SetBodyGenerator(
      [generator = std::move(generator)](const std::string& method, const std::string& target,
                                         const std::string&) { return generator(method, target); });
}

void ReplayServer::SetBodyGenerator(BodyGenerator generator) {
  std::lock_guard lock(impl_->mu_);
  impl_->generator_ = std::move(generator);
}

void ReplayServer::SetFaults(const ReplayFaults& faults) {
  std::lock_guard lock(impl_->mu_);
  impl_->faults_ = faults;
  impl_->rng_.seed(faults.seed);
  impl_->window_reset_ = 0;
}

int ReplayServer::Hits(const std::string& method, const std::string& target) const {
  std::lock_guard lock(impl_->mu_);
  auto it = impl_->routes_.find(method + " " + target);
  return it == impl_->routes_.end() ? 0 : it->second.hits;
}

std::vector<std::pair<std::string, std::string>> ReplayServer::LastHeaders(const std::string& method,
                                                                           const std::string& target) const {
  std::lock_guard lock(impl_->mu_);
  auto it = impl_->last_headers_.find(method + " " + target);
  return it == impl_->last_headers_.end() ? std::vector<std::pair<std::string, std::string>>{} : it->second;
}

int ReplayServer::TotalRequests() const {
  std::lock_guard lock(impl_->mu_);
  return impl_->total_;
}

}  // namespace pkgtrust::testing
