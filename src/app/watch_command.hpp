// `pkgtrust watch`: follows GET /v1/changes and prints each report change as it comes,
// one line per package (or the event's JSON with --json). After a disconnect it
// reconnects with the last offset it printed (Last-Event-ID), so nothing is printed twice
// and nothing is missed while the log still holds it; a `reset` starts over from the state.
#pragma once

#include <optional>
#include <string>

namespace pkgtrust::app {

struct WatchOptions {
  std::string url = "http://127.0.0.1:8080";  // the service
  std::string query;                          // filters, already as a query string
  std::optional<long long> from_offset;       // start after this offset instead of the state
  bool json = false;
  int max_events = 0;  // exit after this many events (0: never; tests)
};

// Returns the exit code: 0 after max_events or SIGINT/SIGTERM, 2 for a bad URL.
int RunWatch(const WatchOptions& options);

}  // namespace pkgtrust::app
