// Shared by the libFuzzer targets (fuzz/README.md): splitting one input into parts, and an
// HTTP client that answers from the input, so that code reading upstream answers through
// net::HttpClient (the GitHub adapter, the AWS client) is fuzzed on its real path.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <vector>

#include "pkgtrust/net/http_client.hpp"

namespace pkgtrust::fuzz {

inline std::string_view AsText(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// The input cut at each occurrence of `separator` (a byte sequence unlikely in real data, so
// the fuzzer learns it from the dictionary or the seeds).
inline std::vector<std::string_view> SplitParts(std::string_view text,
                                                std::string_view separator = "\n--\n") {
  std::vector<std::string_view> parts;
  while (true) {
    auto at = text.find(separator);
    parts.push_back(text.substr(0, at));
    if (at == std::string_view::npos) return parts;
    text.remove_prefix(at + separator.size());
  }
}

// Answers each request, in order, with the next scripted response; 404 once they run out.
// Synchronous: `done` runs inside Fetch.
class ScriptedHttpClient final : public net::HttpClient {
 public:
  void Add(int status, std::string body, net::Headers headers = {}) {
    net::HttpResponse r;
    r.status = status;
    r.body = std::move(body);
    r.headers = std::move(headers);
    responses_.push_back(std::move(r));
  }
  void Fetch(net::HttpRequest request, std::function<void(core::Result<net::HttpResponse>)> done) override {
    net::HttpResponse r;
    if (responses_.empty()) {
      r.status = 404;
      r.body = R"({"message":"Not Found"})";
    } else {
      r = std::move(responses_.front());
      responses_.pop_front();
    }
    r.url = request.url;
    done(std::move(r));
  }

 private:
  std::deque<net::HttpResponse> responses_;
};

}  // namespace pkgtrust::fuzz
