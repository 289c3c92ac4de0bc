// The web page (docs/web.md): GET / and the page paths answer the single-page application's
// index.html; GET /assets/... its scripts, styles and icon, embedded in the binary
// (web_assets.hpp). Mounted as the API's fallback, so every /v1/ route stays the API's.
//
// Every answer carries a strict Content-Security-Policy (scripts, styles, images and
// connections from this origin only; no inline script or style, no frames, no plugins)
// and nosniff. Hashed assets are cached for a year (`immutable`); index.html is revalidated
// each time (ETag, 304). Clients that accept gzip get the precompressed copy.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "pkgtrust/api/http_server.hpp"

namespace pkgtrust::web {

// The Content-Security-Policy of every web answer.
inline constexpr std::string_view kContentSecurityPolicy =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

// True for the paths the application routes itself (they answer index.html): "/",
// "/search", "/package/{ecosystem}/{name}", "/live", "/check", "/adoption[/...]".
bool IsPagePath(std::string_view path);

// Safe for concurrent use.
class WebApp final : public api::RequestHandler {
 public:
  WebApp();
  void Handle(api::ServerRequest request, api::Responder respond) override;

 private:
  struct File {
    std::string_view content_type, etag;
    bool immutable;
    std::shared_ptr<const std::string> body, gzip;
  };
  std::map<std::string, File, std::less<>> files_;  // by path
};

}  // namespace pkgtrust::web
