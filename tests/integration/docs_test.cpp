// docs/api.md cannot drift from the server: every `$ curl` example in it is run, in the
// order of the document, against a running service whose upstreams replay a small fixed
// world (left-pad, fsevents and its ranged advisory, packages that do not exist), and the
// answer is compared with the documented one: the status, the documented headers, and
// the body field by field (strings and booleans exactly, numbers and times by type; a
// "..." key or element stands for what the example leaves out).
//
// How an example is written in docs/api.md: a fenced block whose first line is `$ curl ...`
// (-i, -s, -N, -X METHOD, -H 'Name: value', -d 'body'; `$PKGTRUST_ADMIN_TOKEN` and
// `$PKGTRUST_FEED_TOKEN` stand for the tokens), then `HTTP/1.1 <status>`, the headers
// that matter, a blank line and the body, in that block or in the next ```json block. A
// `text/event-stream` answer may list events: then its first `snapshot` event is compared,
// and the stream must reach `snapshot_end`.
#include <fmt/format.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "app/config.hpp"
#include "app/service.hpp"
#include "support/http_test_client.hpp"
#include "support/replay_server.hpp"
#include "support/sse_client.hpp"
#include "support/test_support.hpp"

using namespace pkgtrust;
using namespace std::chrono_literals;
using nlohmann::json;
using testing::ReplayResponse;

namespace {

constexpr const char* kAdminToken = "docs-admin-token";
constexpr const char* kFeedToken = "docs-feed-token";

struct Example {
  int line = 0;  // of the `$ curl` in docs/api.md
  std::string command;
  std::string method = "GET", target, body;
  std::vector<std::pair<std::string, std::string>> headers;
  int status = 0;
  std::vector<std::pair<std::string, std::string>> documented_headers;
  std::string documented_body;
};

// Shell words as a POSIX shell splits this much of a command: quotes, no expansions but
// the two token variables.
std::vector<std::string> ShellWords(const std::string& text) {
  std::vector<std::string> words;
  std::string word;
  bool in_word = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '\'' || c == '"') {
      std::size_t end = text.find(c, i + 1);
      REQUIRE(end != std::string::npos);
      word += text.substr(i + 1, end - i - 1);
      in_word = true;
      i = end;
    } else if (c == ' ' || c == '\t' || c == '\n') {
      if (in_word) words.push_back(word);
      word.clear();
      in_word = false;
    } else {
      word += c;
      in_word = true;
    }
  }
  if (in_word) words.push_back(word);
  for (std::string& w : words) {
    for (auto [name, value] :
         {std::pair{"$PKGTRUST_ADMIN_TOKEN", kAdminToken}, {"$PKGTRUST_FEED_TOKEN", kFeedToken}})
      if (auto at = w.find(name); at != std::string::npos) w.replace(at, std::string(name).size(), value);
  }
  return words;
}

Example ParseCurl(int line, const std::string& command) {
  Example example;
  example.line = line;
  example.command = command;
  std::vector<std::string> words = ShellWords(command);
  REQUIRE(words.size() >= 2);
  REQUIRE(words[0] == "curl");
  bool method_set = false;
  for (std::size_t i = 1; i < words.size(); ++i) {
    const std::string& w = words[i];
    if (w == "-i" || w == "-s" || w == "-N" || w == "-sS") continue;
    if (w == "-X" && i + 1 < words.size()) {
      example.method = words[++i];
      method_set = true;
    } else if (w == "-H" && i + 1 < words.size()) {
      const std::string& header = words[++i];
      auto colon = header.find(':');
      REQUIRE(colon != std::string::npos);
      example.headers.emplace_back(header.substr(0, colon),
                                   header.substr(header.find_first_not_of(' ', colon + 1)));
    } else if ((w == "-d" || w == "--data") && i + 1 < words.size()) {
      example.body = words[++i];
      if (!method_set) example.method = "POST";
    } else if (w.starts_with("http://127.0.0.1:8080")) {
      example.target = w.substr(std::string("http://127.0.0.1:8080").size());
    } else {
      FAIL(fmt::format("docs/api.md:{}: curl option '{}' is not understood by this check", line, w));
    }
  }
  REQUIRE_FALSE(example.target.empty());
  return example;
}

// Every `$ curl` example of the document with its documented answer.
std::vector<Example> ReadExamples(const std::string& markdown) {
  std::vector<std::string> lines;
  std::istringstream in(markdown);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  std::vector<Example> examples;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    if (!lines[i].starts_with("$ curl ")) continue;
    std::string command = lines[i].substr(2);
    int line = static_cast<int>(i) + 1;
    // A line ending in a backslash, or a quote still open, continues on the next line.
    auto open_quote = [](const std::string& text) {
      char quote = 0;
      for (char c : text)
        if (quote == 0 && (c == '\'' || c == '"'))
          quote = c;
        else if (c == quote)
          quote = 0;
      return quote != 0;
    };
    while (i + 1 < lines.size() && (command.ends_with("\\") || open_quote(command))) {
      if (command.ends_with("\\"))
        command.pop_back();
      else
        command += "\n";
      command += lines[++i];
    }
    Example example = ParseCurl(line, command);
    // The answer: the status line in this block, else in the next block.
    std::size_t j = i + 1;
    while (j < lines.size() && !lines[j].starts_with("HTTP/1.1 ") && !lines[j].starts_with("$ curl ")) ++j;
    INFO("docs/api.md:" << line << ": " << command);
    REQUIRE(j < lines.size());
    REQUIRE(lines[j].starts_with("HTTP/1.1 "));
    example.status = std::atoi(lines[j].c_str() + 9);
    for (++j; j < lines.size() && !lines[j].empty() && !lines[j].starts_with("```"); ++j) {
      auto colon = lines[j].find(": ");
      REQUIRE(colon != std::string::npos);
      example.documented_headers.emplace_back(lines[j].substr(0, colon), lines[j].substr(colon + 2));
    }
    // The body: the rest of the block, or the next ```json block when this one ends here.
    if (j < lines.size() && lines[j].starts_with("```")) {
      ++j;
      if (j < lines.size() && lines[j] == "```json")
        ++j;
      else
        j = lines.size();  // no body documented
    } else {
      ++j;  // the blank line
    }
    for (; j < lines.size() && !lines[j].starts_with("```"); ++j) example.documented_body += lines[j] + "\n";
    examples.push_back(std::move(example));
  }
  return examples;
}

bool LooksLikeTime(const std::string& s) {
  static const std::regex kTime(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z)");
  return std::regex_match(s, kTime);
}

// Appends to `problems` where `actual` does not say what `documented` says.
void Compare(const json& documented, const json& actual, const std::string& path,
             std::vector<std::string>& problems) {
  auto problem = [&](const std::string& what) {
    problems.push_back(fmt::format("{}: {}", path.empty() ? "(body)" : path, what));
  };
  if (documented.is_object()) {
    if (!actual.is_object()) return problem(fmt::format("documented an object, got {}", actual.dump()));
    for (const auto& [key, value] : documented.items()) {
      if (key == "...") continue;
      if (!actual.contains(key)) {
        problem(fmt::format("documented key '{}' is missing", key));
        continue;
      }
      Compare(value, actual[key], path + "." + key, problems);
    }
  } else if (documented.is_array()) {
    if (!actual.is_array()) return problem(fmt::format("documented an array, got {}", actual.dump()));
    bool partial =
        std::any_of(documented.begin(), documented.end(), [](const json& e) { return e == "..."; });
    if (!partial && documented.size() != actual.size())
      return problem(fmt::format("documented {} elements, got {}", documented.size(), actual.size()));
    for (std::size_t i = 0; i < documented.size() && i < actual.size(); ++i)
      if (documented[i] != "...") Compare(documented[i], actual[i], fmt::format("{}[{}]", path, i), problems);
  } else if (documented.is_number()) {
    if (!actual.is_number()) problem(fmt::format("documented a number, got {}", actual.dump()));
  } else if (documented.is_string() && LooksLikeTime(documented.get<std::string>())) {
    if (!actual.is_string() || !LooksLikeTime(actual.get<std::string>()))
      problem(fmt::format("documented a time, got {}", actual.dump()));
  } else if (documented.is_string() && actual.is_string()) {
    // Numbers inside text ("last push 3130 days ago") follow the clock and the data like
    // numeric fields do: compared as "some number".
    static const std::regex kDigits(R"(\d+)");
    if (std::regex_replace(documented.get<std::string>(), kDigits, "#") !=
        std::regex_replace(actual.get<std::string>(), kDigits, "#"))
      problem(fmt::format("documented {}, got {}", documented.dump(), actual.dump()));
  } else if (documented != actual) {
    problem(fmt::format("documented {}, got {}", documented.dump(), actual.dump()));
  }
}

struct Outcome {
  std::vector<std::string> problems;
  std::string got;
};

Outcome Run(const Example& example, int port) {
  Outcome out;
  bool stream = false;
  for (const auto& [name, value] : example.documented_headers)
    stream |= name == "Content-Type" && value == "text/event-stream";
  if (stream) {
    testing::SseClient client(port, example.target);
    std::string head = client.Head();
    out.got = head;
    if (head.find(fmt::format(" {} ", example.status)) == std::string::npos)
      out.problems.push_back(
          fmt::format("status: documented {}, got {}", example.status, head.substr(0, head.find('\r'))));
    // The documented first snapshot event's data, if the example shows one.
    std::istringstream lines(example.documented_body);
    std::string line, documented_data;
    bool in_snapshot = false;
    while (std::getline(lines, line)) {
      if (line == "event: snapshot") in_snapshot = true;
      if (in_snapshot && line.starts_with("data: ")) {
        documented_data = line.substr(6);
        break;
      }
    }
    if (documented_data.empty()) return out;  // a stream whose events the example does not show
    std::optional<testing::SseEvent> first_snapshot;
    bool ended = false;
    while (auto event = client.Next(10s)) {
      if (event->event == "snapshot" && !first_snapshot) first_snapshot = event;
      if (event->event == "snapshot_end") {
        ended = true;
        break;
      }
    }
    if (!ended) out.problems.push_back("the stream never sent snapshot_end");
    if (!first_snapshot) {
      out.problems.push_back("no snapshot event arrived");
    } else {
      out.got += "\n" + first_snapshot->data;
      Compare(json::parse(documented_data), json::parse(first_snapshot->data), "snapshot", out.problems);
    }
    return out;
  }
  testing::ApiClient client(fmt::format("http://127.0.0.1:{}", port));
  net::Headers headers(example.headers.begin(), example.headers.end());
  testing::ApiResponse r = client.Call(example.method, example.target, example.body, headers);
  out.got = fmt::format("{} {}", r.status, r.body);
  if (r.status != example.status)
    out.problems.push_back(fmt::format("status: documented {}, got {}", example.status, r.status));
  for (const auto& [name, value] : example.documented_headers) {
    std::string lower = name;
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (r.Header(lower) != value)
      out.problems.push_back(
          fmt::format("header {}: documented '{}', got '{}'", name, value, r.Header(lower)));
  }
  if (!example.documented_body.empty()) {
    json documented = json::parse(example.documented_body, nullptr, false);
    if (documented.is_discarded())
      out.problems.push_back("the documented body is not JSON");
    else
      Compare(documented, r.Json(), "", out.problems);
  }
  return out;
}

}  // namespace

TEST_CASE("every request example in docs/api.md gets the documented answer", "[integration]") {
  std::vector<Example> examples = ReadExamples(testing::ReadText(PKGTRUST_SOURCE_DIR "/docs/api.md"));
  // The document shows each endpoint at least once.
  std::set<std::string> shown;
  for (const Example& e : examples) shown.insert(e.method + " " + e.target.substr(0, e.target.find('?')));
  for (const char* endpoint :
       {"GET /v1/packages/npm/left-pad", "GET /v1/packages", "POST /v1/packages:query", "POST /v1/check",
        "GET /v1/search", "POST /v1/packages/npm/left-pad:refresh", "POST /v1/feeds/package-feeds",
        "GET /v1/changes", "GET /readyz", "GET /healthz"}) {
    INFO(endpoint);
    CHECK(shown.contains(endpoint));
  }

  // The world the examples were recorded in.
  testing::TempDir dir;
  testing::ReplayServer upstream(2);
  auto fixture = [](const char* path) { return testing::ReadText(testing::FixturePath(path)); };
  json left_pad = json::parse(fixture("registry/npm/left-pad.json"));
  left_pad["repository"] = {{"type", "git"}, {"url", "git+https://github.com/stevemao/left-pad.git"}};
  upstream.Add("GET", "/left-pad", ReplayResponse{200, {}, left_pad.dump()});
  upstream.Add("GET", "/repos/stevemao/left-pad",
               ReplayResponse{200, {}, R"({"full_name":"stevemao/left-pad","stargazers_count":1200,
                 "forks_count":300,"open_issues_count":10,"archived":true,"fork":false,
                 "created_at":"2014-03-01T00:00:00Z","pushed_at":"2018-05-01T00:00:00Z",
                 "default_branch":"master","license":{"spdx_id":"WTFPL"}})"});
  // Written for this test (the shapes of npm's downloads API and GitHub's contents API).
  upstream.Add(
      "GET", "/npm-downloads/downloads/point/last-month/left-pad",
      ReplayResponse{
          200, {}, R"({"downloads":2764000,"start":"2026-10-01","end":"2026-10-30","package":"left-pad"})"});
  upstream.Add(
      "GET", "/repos/stevemao/left-pad/contents/package.json",
      ReplayResponse{
          200,
          {},
          R"({"type":"file","encoding":"base64","path":"package.json","content":"eyJuYW1lIjogImxlZnQtcGFkIiwgInZlcnNpb24iOiAiMS4zLjAiLCAicmVwb3NpdG9yeSI6ICJzdGV2ZW1hby9sZWZ0LXBhZCJ9Cg=="})"});
  upstream.Add("GET", "/fsevents", ReplayResponse{200, {}, fixture("registry/npm/fsevents.json")});
  ReplayResponse slow_missing{404, {}, R"({"error":"Not found"})"};
  slow_missing.delay = 1500ms;  // in flight for a while, then not found
  upstream.Add("GET", "/left-pad2", slow_missing);
  // Everything else (no-such-thing, GitHub's other endpoints) answers 404.

  std::string db = dir.File("docs.db");
  {
    std::string command =
        fmt::format("{} import-osv {} --db {} > {} 2>&1", PKGTRUST_BINARY,
                    testing::FixturePath("osv-handwritten/first"), db, dir.File("import.log"));
    INFO(testing::ReadText(dir.File("import.log")));
    REQUIRE(std::system(command.c_str()) == 0);
  }
  app::Config config = app::DefaultConfig();
  config.database.path = db;
  config.server.port = 0;
  std::string base = upstream.BaseUrl();
  config.upstreams = {{"npm", base},   {"npm_downloads", base + "/npm-downloads"},
                      {"pypi", base},  {"crates", base},
                      {"maven", base}, {"go", base},
                      {"github", base}};
  config.secrets.admin_token_env = "PKGTRUST_DOCS_TEST_ADMIN";
  config.secrets.feed_token_env = "PKGTRUST_DOCS_TEST_FEED";
  setenv("PKGTRUST_DOCS_TEST_ADMIN", kAdminToken, 1);
  setenv("PKGTRUST_DOCS_TEST_FEED", kFeedToken, 1);
  config.log_level = core::LogLevel::kWarn;
  core::SetLogLevel(core::LogLevel::kWarn);
  app::Service service(config);
  service.Start();

  for (const Example& example : examples) {
    INFO("docs/api.md:" << example.line << ": " << example.command);
    // An answer that depends on a run finishing (a search listing a package that is still
    // in flight) may take a moment: a GET is asked again until it matches, for 10 s.
    Outcome outcome = Run(example, service.http_port());
    for (int attempt = 0; !outcome.problems.empty() && example.method == "GET" && attempt < 50; ++attempt) {
      std::this_thread::sleep_for(200ms);
      outcome = Run(example, service.http_port());
    }
    std::string problems;
    for (const std::string& p : outcome.problems) problems += "\n  " + p;
    INFO("problems:" << problems << "\ngot: " << outcome.got.substr(0, 4000));
    CHECK(outcome.problems.empty());
  }
  service.Stop();
  unsetenv("PKGTRUST_DOCS_TEST_ADMIN");
  unsetenv("PKGTRUST_DOCS_TEST_FEED");
}
