// The web page's server side: which paths answer index.html, the embedded assets with
// their cache headers, the Content-Security-Policy, ETag revalidation and gzip.
#include "pkgtrust/web/web_app.hpp"

#include <zlib.h>

#include <catch2/catch.hpp>
#include <optional>

#include "pkgtrust/web/web_assets.hpp"

using namespace pkgtrust;

namespace {

api::ServerResponse Get(web::WebApp& app, const std::string& path,
                        std::vector<std::pair<std::string, std::string>> headers = {},
                        const std::string& method = "GET") {
  api::ServerRequest request;
  request.method = method;
  request.path = path;
  request.headers = std::move(headers);
  std::optional<api::ServerResponse> answer;
  app.Handle(std::move(request), [&](api::ServerResponse response) { answer = std::move(response); });
  REQUIRE(answer.has_value());  // answered at once, on the calling thread
  return std::move(*answer);
}

std::string HeaderOf(const api::ServerResponse& response, const std::string& name) {
  for (const auto& [key, value] : response.headers)
    if (key == name) return value;
  return {};
}

std::string BodyOf(const api::ServerResponse& response) {
  return response.shared_body ? *response.shared_body : response.body;
}

std::string Gunzip(const std::string& data) {
  z_stream stream{};
  REQUIRE(inflateInit2(&stream, 16 + MAX_WBITS) == Z_OK);
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  stream.avail_in = static_cast<uInt>(data.size());
  std::string out;
  char buffer[65536];
  int rc = Z_OK;
  while (rc == Z_OK) {
    stream.next_out = reinterpret_cast<Bytef*>(buffer);
    stream.avail_out = sizeof(buffer);
    rc = inflate(&stream, Z_NO_FLUSH);
    out.append(buffer, sizeof(buffer) - stream.avail_out);
  }
  inflateEnd(&stream);
  REQUIRE(rc == Z_STREAM_END);
  return out;
}

}  // namespace

TEST_CASE("the page's own paths answer index.html; others are not the page's", "[web]") {
  for (const char* path : {"/", "/search", "/live", "/check", "/adoption", "/adoption/npm/left-pad",
                           "/package/npm/left-pad", "/package/npm/@babel/core", "/package/go/github.com/a/b"})
    CHECK(web::IsPagePath(path));
  for (const char* path :
       {"", "/index.html", "/package/", "/package/npm", "/package/npm/", "/package//x", "/lives", "/checks",
        "/v1/packages/npm/left-pad", "/favicon.ico", "/adoptionx", "/adoption/npm", "/adoption/npm/"})
    CHECK_FALSE(web::IsPagePath(path));
}

TEST_CASE("the web page: index.html revalidated, hashed assets cached for a year, a strict CSP everywhere",
          "[web]") {
  web::WebApp app;
  api::ServerResponse index = Get(app, "/package/npm/left-pad");
  CHECK(index.status == 200);
  CHECK(index.content_type == "text/html; charset=utf-8");
  CHECK(HeaderOf(index, "Cache-Control") == "no-cache");
  CHECK(HeaderOf(index, "Content-Security-Policy") == web::kContentSecurityPolicy);
  CHECK(HeaderOf(index, "X-Content-Type-Options") == "nosniff");
  CHECK(HeaderOf(index, "Content-Encoding").empty());  // no Accept-Encoding: as it is
  const std::string html = BodyOf(index);
  CHECK(html.find("<main id=\"main\"") != std::string::npos);
  CHECK(html.find("{{") == std::string::npos);  // every placeholder filled in
  // No inline script or style: the CSP would refuse them.
  CHECK(html.find("<script>") == std::string::npos);
  CHECK(html.find("<style") == std::string::npos);
  CHECK(html.find("style=") == std::string::npos);
  CHECK(BodyOf(Get(app, "/")) == html);

  // Every file index.html names is served, immutable, under its hashed name.
  std::size_t named = 0;
  for (const web::EmbeddedAsset& asset : web::EmbeddedAssets()) {
    if (!asset.path.starts_with("/assets/")) continue;
    if (asset.path.ends_with(".js") && html.find(asset.path) == std::string::npos) continue;  // a lazy chunk
    api::ServerResponse file = Get(app, std::string(asset.path));
    CHECK(file.status == 200);
    CHECK(HeaderOf(file, "Cache-Control") == "public, max-age=31536000, immutable");
    CHECK(HeaderOf(file, "Content-Security-Policy") == web::kContentSecurityPolicy);
    CHECK(file.content_type == asset.content_type);
    CHECK(BodyOf(file) == asset.body);
    if (html.find(asset.path) != std::string::npos) named++;
  }
  CHECK(named == 3);  // the script, the style sheet, the icon

  // ETag: the same content is not sent again.
  std::string etag = HeaderOf(index, "ETag");
  REQUIRE(etag.size() > 2);
  api::ServerResponse again = Get(app, "/", {{"if-none-match", etag}});
  CHECK(again.status == 304);
  CHECK(BodyOf(again).empty());
  CHECK(Get(app, "/", {{"if-none-match", "\"something-else\""}}).status == 200);

  // gzip for clients that take it, and only for them.
  api::ServerResponse zipped = Get(app, "/", {{"accept-encoding", "gzip, deflate, br"}});
  CHECK(HeaderOf(zipped, "Content-Encoding") == "gzip");
  CHECK(HeaderOf(zipped, "Vary") == "Accept-Encoding");
  CHECK(Gunzip(BodyOf(zipped)) == html);
  CHECK(BodyOf(zipped).size() < html.size());
  CHECK(HeaderOf(Get(app, "/", {{"accept-encoding", "gzip;q=0, identity"}}), "Content-Encoding").empty());
  CHECK(HeaderOf(Get(app, "/", {{"accept-encoding", "br"}}), "Content-Encoding").empty());
  CHECK(HeaderOf(Get(app, "/", {{"accept-encoding", "*;q=0.5"}}), "Content-Encoding") == "gzip");
  CHECK(HeaderOf(Get(app, "/", {{"accept-encoding", "*;q=0.5, gzip;q=0"}}), "Content-Encoding").empty());
  CHECK(HeaderOf(Get(app, "/", {{"accept-encoding", "gzip;q=0, *"}}), "Content-Encoding").empty());
  CHECK(HeaderOf(Get(app, "/", {{"accept-encoding", "GZIP; Q=0"}}), "Content-Encoding").empty());
  CHECK(HeaderOf(Get(app, "/", {{"accept-encoding", "GZip"}}), "Content-Encoding") == "gzip");
  CHECK(HeaderOf(Get(app, "/", {{"accept-encoding", "gzip;q=0.001"}}), "Content-Encoding") == "gzip");

  // Not the page's: a JSON 404 naming the path; another method: 405.
  api::ServerResponse missing = Get(app, "/assets/app-NOSUCHFILE.js");
  CHECK(missing.status == 404);
  CHECK(missing.body.find("no_such_route") != std::string::npos);
  CHECK(Get(app, "/wp-login.php").status == 404);
  api::ServerResponse posted = Get(app, "/", {}, "POST");
  CHECK(posted.status == 405);
  CHECK(HeaderOf(posted, "Allow") == "GET");
}
