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
  for (const char* type : {"nuget", "rubygems", "packagist", "something-new"}) {
    api::FeedBatch batch = api::ParseFeedEvents(event(type, "Some.Package"));
    CHECK(batch.ignored == 1);
    CHECK(batch.accepted.empty());
    CHECK(batch.rejected.empty());
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
      "created_date 'not a date' is not an RFC 3339 time");
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
