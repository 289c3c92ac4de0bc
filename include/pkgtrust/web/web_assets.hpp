// The web page's files, built from web/ by web/build.mjs at build time and compiled in
// (the generated web_assets.cpp): the binary serves the page with nothing else installed.
#pragma once

#include <string_view>
#include <vector>

namespace pkgtrust::web {

struct EmbeddedAsset {
  std::string_view path;          // "/index.html", "/assets/app-3FQ2KX7L.js"
  std::string_view content_type;  // "text/javascript; charset=utf-8"
  std::string_view etag;          // quoted, from the content's hash
  bool immutable;                 // a hashed name under /assets/: its content never changes
  std::string_view body;
  std::string_view gzip;  // the body gzip-compressed
};

// Every file of the page, in path order.
const std::vector<EmbeddedAsset>& EmbeddedAssets();

}  // namespace pkgtrust::web
