// `pkgtrust import-access-log FILE --format nginx-combined`: the access log of an nginx that
// fronts an npm or PyPI mirror becomes request log rows, as if the gateway had answered the
// requests, so an organisation gets adoption data without switching to the gateway. The
// address is replaced by its origin key as each line is read; the rest of the line goes no
// further than the parser. Lines that are not in the format are counted and named by their
// number, never fatal.
#pragma once

#include <cstdint>
#include <istream>
#include <string>
#include <string_view>
#include <vector>

#include "pkgtrust/adoption/origin.hpp"
#include "pkgtrust/core/status.hpp"
#include "pkgtrust/store/store.hpp"

namespace pkgtrust::adoption {

// One line of nginx's "combined" format:
//   $remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent
//   "$http_referer" "$http_user_agent"
struct CombinedLine {
  std::string address;
  core::Millis at = 0;
  std::string method;
  std::string target;  // path and query, as requested
  int status = 0;
  std::int64_t bytes = 0;
  std::string user_agent;
};

core::Result<CombinedLine> ParseCombinedLine(std::string_view line);

struct AccessLogImportOptions {
  // "npm" or "pypi": what the mirror serves. Empty: each line by its path (/simple/ and
  // /packages/ are PyPI, the rest npm).
  std::string ecosystem;
  std::string prefix = "/";  // where the mirror's root is below the server's
  std::size_t batch_rows = 10'000;
};

struct AccessLogImport {
  std::int64_t lines = 0, imported = 0, outside_prefix = 0, malformed = 0;
  std::vector<std::string> malformed_examples;  // "line 12: ..." (the first 20)
};

// Reads `in` to its end, writing rows with `keys` (one instance per import) to the store.
core::Result<AccessLogImport> ImportAccessLog(std::istream& in, const AccessLogImportOptions& options,
                                              OriginKeys& keys, store::Store& store);

}  // namespace pkgtrust::adoption
