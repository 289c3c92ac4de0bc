// A blocking HTTP client for tests of the service's own API, on the project's real
// client (sockets, keep-alive) with retries off so every status reaches the test.
#pragma once

#include <future>
#include <nlohmann/json.hpp>
#include <string>

#include "pkgtrust/net/http_client.hpp"

namespace pkgtrust::testing {

struct ApiResponse {
  int status = 0;  // 0: no answer (the error says why)
  std::string body;
  std::string error;
  net::Headers headers;

  nlohmann::json Json() const { return nlohmann::json::parse(body, nullptr, false); }
  std::string Header(const std::string& lower_case_name) const {
    for (const auto& [k, v] : headers)
      if (k == lower_case_name) return v;
    return {};
  }
};

class ApiClient {
 public:
  explicit ApiClient(std::string base_url) : base_url_(std::move(base_url)), client_(Config()) {}

  ApiResponse Call(const std::string& method, const std::string& path, const std::string& body = {},
                   net::Headers headers = {}) {
    net::HttpRequest request;
    request.method = method;
    request.url = base_url_ + path;
    request.body = body;
    request.headers = std::move(headers);
    if (!body.empty()) request.headers.emplace_back("Content-Type", "application/json");
    request.max_attempts = 1;
    request.timeout = std::chrono::seconds(60);
    std::promise<ApiResponse> promise;
    client_.Fetch(std::move(request), [&promise](core::Result<net::HttpResponse> r) {
      ApiResponse out;
      if (r.ok()) {
        out.status = r->status;
        out.body = std::move(r->body);
        out.headers = std::move(r->headers);
      } else {
        out.error = r.status().message();
      }
      promise.set_value(std::move(out));
    });
    return promise.get_future().get();
  }
  ApiResponse Get(const std::string& path) { return Call("GET", path); }
  ApiResponse Post(const std::string& path, const std::string& body, net::Headers headers = {}) {
    return Call("POST", path, body, std::move(headers));
  }

 private:
  static net::HttpClientConfig Config() {
    net::HttpClientConfig config;
    config.threads = 1;
    return config;
  }
  std::string base_url_;
  net::BeastHttpClient client_;
};

}  // namespace pkgtrust::testing
