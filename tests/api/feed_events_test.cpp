// The package-feeds webhook body: what is accepted, ignored and rejected, and why.
#include "api/feed_events.hpp"

#include <catch2/catch.hpp>
#include <sstream>

#include "support/test_support.hpp"

using namespace pkgtrust;

TEST_CASE("every recorded sample event is accepted, one object or all in an array", "[api]") {
  std::istringstream lines(testing::ReadText(testing::FixturePath("feeds/events-sample.jsonl")));
  std::string array = "[";
  std::size_t count = 0;
  for (std::string line; std::getline(lines, line);) {
    if (line.empty()) continue;
    api::FeedBatch one = api::ParseFeedEvents(line);
    INFO(line);
    CHECK(one.error.empty());
    CHECK(one.rejected.empty());
    CHECK(one.accepted.size() + one.ignored == 1);
    array += (count++ ? "," : "") + line;
  }
  array += "]";
  api::FeedBatch all = api::ParseFeedEvents(array);
  CHECK(all.accepted.size() == count);
  CHECK(all.accepted[0].key.name == "@angular/core");
  CHECK(all.accepted[0].version == "22.2.6");
  CHECK(all.accepted[0].priority == core::Priority::kRegular);
}

TEST_CASE("feed names map to ecosystems; feeds we do not score are ignored", "[api]") {
  auto event = [](const std::string& type, const std::string& name) {
    return R"({"name":")" + name +
           R"(","version":"1.0.0","created_date":"2026-01-02T03:04:05.123Z","type":")" + type +
           R"(","schema_ver":"1.0"})";
  };
  CHECK(api::ParseFeedEvents(event("crates", "Serde_Json")).accepted.at(0).key.ToString() ==
        "crates/serde-json");
  CHECK(api::ParseFeedEvents(event("goproxy", "github.com/gin-gonic/gin")).accepted.at(0).key.ecosystem ==
        core::Ecosystem::kGo);
  CHECK(api::ParseFeedEvents(event("pypi", "Flask_Login")).accepted.at(0).key.name == "flask-login");
  CHECK(api::ParseFeedEvents(event("maven", "org.slf4j:slf4j-api")).accepted.size() == 1);
  for (const char* type : {"nuget", "rubygems", "packagist", "something-new", "Maven-Central", "npm "}) {
    api::FeedBatch batch = api::ParseFeedEvents(event(type, "Some.Package"));
    CHECK(batch.ignored == 1);
    CHECK(batch.accepted.empty());
    CHECK(batch.rejected.empty());
  }
}

// Events exactly as package-feeds' publisher sends them: encoding/json of its feeds.Package
// (pkg/feeds/feed.go, schema 1.1, at ossf/package-feeds 9398901), one event per POST, the
// fields in struct order without spaces, created_date as Go's time.Time marshals it
// (RFC 3339 with nanoseconds, "Z" or the local offset), `type` each feed's FeedName.
TEST_CASE("every feed package-feeds publishes is scored or ignored as documented", "[api]") {
  struct Case {
    const char* body;
    const char* key;  // empty: ignored
  };
  const Case cases[] = {
      {R"({"name":"@scope/pkg","version":"1.2.3","created_date":"2024-08-27T14:31:05.123Z","type":"npm","artifact_id":"","schema_ver":"1.1"})",
       "npm/@scope/pkg"},
      {R"({"name":"Flask_Login","version":"0.6.3","created_date":"2024-08-27T14:31:05.483921Z","type":"pypi","artifact_id":"","schema_ver":"1.1"})",
       "pypi/flask-login"},
      {R"({"name":"flask","version":"3.0.3","created_date":"2024-08-27T14:31:05Z","type":"pypi-artifacts","artifact_id":"flask-3.0.3-py3-none-any.whl","schema_ver":"1.1"})",
       "pypi/flask"},
      {R"({"name":"serde_json","version":"1.0.127","created_date":"2024-08-27T14:31:05.817634Z","type":"crates","artifact_id":"","schema_ver":"1.1"})",
       "crates/serde-json"},
      {R"({"name":"github.com/gin-gonic/gin","version":"v1.10.0","created_date":"2024-08-27T14:31:05.293859Z","type":"goproxy","artifact_id":"","schema_ver":"1.1"})",
       "go/github.com/gin-gonic/gin"},
      // The Maven feed's times are time.Unix(...): the publisher's local zone.
      {R"({"name":"org.slf4j:slf4j-api","version":"2.0.16","created_date":"2024-08-27T16:31:05+02:00","type":"maven-central","artifact_id":"","schema_ver":"1.1"})",
       "maven/org.slf4j:slf4j-api"},
      {R"({"name":"Newtonsoft.Json","version":"13.0.3","created_date":"2024-08-27T14:31:05.41Z","type":"nuget","artifact_id":"","schema_ver":"1.1"})",
       ""},
      {R"({"name":"laravel/framework","version":"v11.21.0","created_date":"2024-08-27T14:31:05Z","type":"packagist","artifact_id":"","schema_ver":"1.1"})",
       ""},
      {R"({"name":"rails","version":"7.2.1","created_date":"2024-08-27T14:31:05-05:00","type":"rubygems","artifact_id":"","schema_ver":"1.1"})",
       ""},
  };
  for (const Case& c : cases) {
    INFO(c.body);
    api::FeedBatch batch = api::ParseFeedEvents(c.body);
    CHECK(batch.error.empty());
    CHECK(batch.rejected.empty());
    if (std::string(c.key).empty()) {
      CHECK(batch.ignored == 1);
      CHECK(batch.accepted.empty());
    } else {
      REQUIRE(batch.accepted.size() == 1);
      CHECK(batch.accepted[0].key.ToString() == c.key);
      CHECK(batch.accepted[0].restart_finished);
    }
  }
}

TEST_CASE("created_date must be RFC 3339 with its offset; a bare local time is refused", "[api]") {
  auto event = [](const std::string& created) {
    return R"({"name":"left-pad","version":"1","created_date":")" + created +
           R"(","type":"npm","schema_ver":"1.1"})";
  };
  for (const char* ok :
       {"2026-01-02T03:04:05Z", "2026-01-02T03:04:05.123456789Z", "2026-01-02T03:04:05+02:00",
        "2026-01-02T03:04:05.5-07:00", "2026-01-02t03:04:05z"}) {
    INFO(ok);
    CHECK(api::ParseFeedEvents(event(ok)).accepted.size() == 1);
  }
  for (const char* bad : {"2026-01-02T03:04:05", "2026-01-02T03:04:05.123", "2026-01-02 03:04:05Z",
                          "2026-01-02", "2026-01-02T03:04:05+0200", "2026-01-02T03:04:05.Z",
                          "2026-13-02T03:04:05Z", "2026-01-02T03:04:05+02:00x"}) {
    INFO(bad);
    api::FeedBatch batch = api::ParseFeedEvents(event(bad));
    REQUIRE(batch.rejected.size() == 1);
    CHECK(batch.rejected[0].message ==
          "created_date '" + std::string(bad) +
              "' is not an RFC 3339 time (e.g. 2026-11-20T10:00:00Z; the offset, Z or "
              "+hh:mm, is required)");
  }
}

TEST_CASE("malformed events are rejected with a message naming the problem", "[api]") {
  CHECK(api::ParseFeedEvents("{").error == "the body is not valid JSON");
  CHECK(api::ParseFeedEvents("\"npm\"").error == "the body must be an event object or an array of events");
  auto rejected = [](const std::string& body) {
    api::FeedBatch batch = api::ParseFeedEvents(body);
    REQUIRE(batch.rejected.size() == 1);
    return batch.rejected[0].message;
  };
  std::string ok_rest =
      R"("version":"1","created_date":"2026-01-02T03:04:05Z","type":"npm","schema_ver":"1.1")";
  CHECK(rejected(R"({)" + ok_rest + "}") == "missing field 'name'");
  CHECK(rejected(R"({"name":["a"],)" + ok_rest + "}") == "field 'name' must be a string");
  CHECK(rejected(R"({"name":"a","artifact_id":7,)" + ok_rest + "}") ==
        "field 'artifact_id' must be a string");
  CHECK_THAT(rejected(R"({"name":"a b c",)" + ok_rest + "}"), Catch::Contains("a b c"));
  CHECK_THAT(rejected(R"({"name":")" + std::string(2000, 'a') + "\"," + ok_rest + "}"),
             Catch::Contains("longer than 1024 bytes"));
  CHECK(rejected(R"([1])") == "an event must be a JSON object");
  CHECK(
      rejected(R"({"name":"a","version":"1","created_date":"not a date","type":"npm","schema_ver":"1.1"})") ==
      "created_date 'not a date' is not an RFC 3339 time (e.g. 2026-11-20T10:00:00Z; the offset, Z or "
      "+hh:mm, is "
      "required)");
}

TEST_CASE("any 1.x schema version is read; other versions are rejected by name", "[api]") {
  auto event = [](const std::string& schema) {
    return R"({"name":"left-pad","version":"1","created_date":"2026-01-02T03:04:05Z","type":"npm","schema_ver":")" +
           schema + R"("})";
  };
  for (const char* ok : {"1.0", "1.1", "1.5", "1.10"})
    CHECK(api::ParseFeedEvents(event(ok)).accepted.size() == 1);
  for (const char* bad : {"2.0", "1", "1.", "1.x", "", "10.0"}) {
    api::FeedBatch batch = api::ParseFeedEvents(event(bad));
    INFO(bad);
    REQUIRE(batch.rejected.size() == 1);
    CHECK_THAT(batch.rejected[0].message, Catch::Contains("schema_ver '" + std::string(bad) + "'"));
  }
}
