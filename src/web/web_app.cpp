#include "pkgtrust/web/web_app.hpp"

#include <fmt/format.h>

#include <cctype>
#include <optional>

#include "pkgtrust/web/web_assets.hpp"

namespace pkgtrust::web {

namespace {

constexpr std::string_view kIndex = "/index.html";

// Whether an Accept-Encoding header lets gzip through: `gzip` (else `*`) without q=0. An
// explicit gzip entry decides over `*`; names and q are case-insensitive.
bool AcceptsGzip(const std::string* header) {
  if (!header) return false;
  std::optional<bool> gzip, any;
  std::string_view rest = *header;
  while (!rest.empty()) {
    std::size_t comma = rest.find(',');
    std::string_view item = rest.substr(0, comma);
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    std::string compact;  // lower case, without spaces
    for (char c : item)
      if (c != ' ' && c != '\t') compact += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    std::size_t semicolon = compact.find(';');
    std::string coding = compact.substr(0, semicolon);
    if (coding != "gzip" && coding != "*") continue;
    std::string params = semicolon == std::string::npos ? "" : compact.substr(semicolon + 1);
    // q=0, q=0.0, q=0.000: refused.
    bool refused = params.starts_with("q=0") && params.find_first_not_of("0.", 2) == std::string::npos;
    (coding == "gzip" ? gzip : any) = !refused;
  }
  return gzip.value_or(any.value_or(false));
}

bool EtagMatches(const std::string* if_none_match, std::string_view etag) {
  if (!if_none_match) return false;
  std::string_view value = *if_none_match;
  return value == "*" || value.find(etag) != std::string_view::npos;
}

}  // namespace

bool IsPagePath(std::string_view path) {
  if (path == "/" || path == "/search" || path == "/live" || path == "/check" || path == "/adoption")
    return true;
  // /package/{ecosystem}/{name} and /adoption/{ecosystem}/{name}: a name may hold slashes
  // (@babel/core, Go module paths).
  for (std::string_view prefix : {std::string_view("/package/"), std::string_view("/adoption/")}) {
    if (!path.starts_with(prefix)) continue;
    std::string_view rest = path.substr(prefix.size());
    std::size_t slash = rest.find('/');
    return slash != std::string_view::npos && slash > 0 && slash + 1 < rest.size();
  }
  return false;
}

WebApp::WebApp() {
  for (const EmbeddedAsset& asset : EmbeddedAssets())
    files_.emplace(std::string(asset.path), File{asset.content_type, asset.etag, asset.immutable,
                                                 std::make_shared<const std::string>(asset.body),
                                                 std::make_shared<const std::string>(asset.gzip)});
}

void WebApp::Handle(api::ServerRequest request, api::Responder respond) {
  std::string_view path = request.path;
  auto found = files_.end();
  if (IsPagePath(path))
    found = files_.find(kIndex);
  else if (path.starts_with("/assets/"))
    found = files_.find(path);
  if (found == files_.end())
    return respond(api::ErrorResponse(
        404, "no_such_route",
        fmt::format("no endpoint or page {} {}; see docs/api.md and docs/web.md", request.method, path)));
  if (request.method != "GET") {
    api::ServerResponse refused = api::ErrorResponse(
        405, "method_not_allowed", fmt::format("{} takes GET, not {}", path, request.method));
    refused.headers.emplace_back("Allow", "GET");
    return respond(std::move(refused));
  }
  const File& file = found->second;
  api::ServerResponse response;
  response.content_type = std::string(file.content_type);
  response.headers = {
      {"Content-Security-Policy", std::string(kContentSecurityPolicy)},
      {"X-Content-Type-Options", "nosniff"},
      {"Referrer-Policy", "no-referrer"},
      {"Cache-Control", file.immutable ? "public, max-age=31536000, immutable" : "no-cache"},
      {"ETag", std::string(file.etag)},
      {"Vary", "Accept-Encoding"},
  };
  if (EtagMatches(request.Header("if-none-match"), file.etag)) {
    response.status = 304;
    return respond(std::move(response));
  }
  if (AcceptsGzip(request.Header("accept-encoding"))) {
    response.headers.emplace_back("Content-Encoding", "gzip");
    response.shared_body = file.gzip;
  } else {
    response.shared_body = file.body;
  }
  respond(std::move(response));
}

}  // namespace pkgtrust::web
