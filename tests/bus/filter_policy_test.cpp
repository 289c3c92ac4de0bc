// Filter policies against the examples of the SNS developer guide
// (tests/fixtures/sns_filter_policy_cases.json names the pages).
#include "pkgtrust/bus/filter_policy.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "support/test_support.hpp"

using namespace pkgtrust;
using nlohmann::json;

namespace {

bus::Attributes ToAttributes(const json& object) {
  bus::Attributes attrs;
  for (auto& [name, value] : object.items()) {
    std::string type = value["Type"];
    bus::AttributeType t = type == "Number"         ? bus::AttributeType::kNumber
                           : type == "String.Array" ? bus::AttributeType::kStringArray
                                                    : bus::AttributeType::kString;
    attrs.Set(name,
              {t, value["Value"].is_string() ? value["Value"].get<std::string>() : value["Value"].dump()});
  }
  return attrs;
}

json Cases() { return json::parse(testing::ReadText(testing::FixturePath("sns_filter_policy_cases.json"))); }

}  // namespace

TEST_CASE("filter policies match as the SNS documentation says", "[bus][filter]") {
  json doc = Cases();
  REQUIRE(doc["cases"].size() >= 40);
  for (const json& c : doc["cases"]) {
    INFO(c["doc"].get<std::string>() << "\npolicy " << c["policy"].dump() << "\nattributes "
                                     << c["attributes"].dump());
    auto policy = bus::FilterPolicy::Parse(c["policy"].dump());
    REQUIRE(policy.ok());
    CHECK(policy->Matches(ToAttributes(c["attributes"])) == c["matches"].get<bool>());
  }
}

TEST_CASE("invalid filter policies are rejected with the key named", "[bus][filter]") {
  json doc = Cases();
  REQUIRE(doc["invalid_policies"].size() >= 4);
  for (const json& c : doc["invalid_policies"]) {
    INFO(c["why"].get<std::string>() << "\npolicy " << c["policy"].dump());
    auto policy = bus::FilterPolicy::Parse(c["policy"].dump());
    CHECK_FALSE(policy.ok());
  }
  std::string key;
  auto unknown =
      bus::FilterPolicy::Parse(R"({"priority": ["1"], "package_type": [{"regex": "np.*"}]})", &key);
  REQUIRE_FALSE(unknown.ok());
  CHECK(key == "package_type");
  CHECK_THAT(unknown.status().message(), Catch::Contains("regex") && Catch::Contains("package_type"));
  CHECK_FALSE(bus::FilterPolicy::Parse("not json").ok());
  CHECK_FALSE(bus::FilterPolicy::Parse("[1, 2]").ok());
}

TEST_CASE("the topology's policies route priority and package type", "[bus][filter]") {
  auto priority = bus::FilterPolicy::Parse(
      R"({"priority": ["1"], "package_type": ["pypi", "npm", "crates", "maven", "go"]})");
  REQUIRE(priority.ok());
  CHECK(priority->Matches({{"priority", "1"}, {"package_type", "npm"}}));
  CHECK_FALSE(priority->Matches({{"priority", "2"}, {"package_type", "npm"}}));
  CHECK_FALSE(priority->Matches({{"priority", "1"}, {"package_type", "nuget"}}));
  CHECK_FALSE(priority->Matches({{"priority", "1"}}));
  bus::FilterPolicy everything;
  CHECK(everything.Matches({}));
  CHECK(everything.Matches({{"x", "y"}}));
}

TEST_CASE("a malformed String.Array attribute does not match and does not crash", "[bus][filter]") {
  auto policy = bus::FilterPolicy::Parse(R"({"k": ["a"]})");
  REQUIRE(policy.ok());
  bus::Attributes attrs;
  attrs.Set("k", {bus::AttributeType::kStringArray, "[\"a\""});
  CHECK_FALSE(policy->Matches(attrs));
  attrs.Set("k", {bus::AttributeType::kNumber, "not-a-number"});
  CHECK_FALSE(policy->Matches(attrs));
}

TEST_CASE("numeric bounds: >= and <= include their bound, > and < exclude it, on both sides",
          "[bus][filter]") {
  auto matches = [](const std::string& condition, const std::string& value) {
    auto policy = bus::FilterPolicy::Parse(R"({"score": [{"numeric": )" + condition + "}]}");
    REQUIRE(policy.ok());
    bus::Attributes attrs;
    attrs.Set("score", {bus::AttributeType::kNumber, value});
    return policy->Matches(attrs);
  };
  CHECK(matches(R"([">=", 5])", "5"));
  CHECK_FALSE(matches(R"([">=", 5])", "4.99"));
  CHECK_FALSE(matches(R"([">", 5])", "5"));
  CHECK(matches(R"([">", 5])", "5.01"));
  CHECK(matches(R"(["<=", 5])", "5"));
  CHECK_FALSE(matches(R"(["<=", 5])", "5.01"));
  CHECK_FALSE(matches(R"(["<", 5])", "5"));
  CHECK(matches(R"(["<", 5])", "4.99"));
  CHECK(matches(R"(["=", 5])", "5"));
  CHECK_FALSE(matches(R"(["=", 5])", "5.01"));
  // A range: both ends pinned.
  CHECK(matches(R"([">=", 0, "<", 4])", "0"));
  CHECK_FALSE(matches(R"([">=", 0, "<", 4])", "4"));
  CHECK(matches(R"([">=", 0, "<", 4])", "3.99"));
  CHECK_FALSE(matches(R"([">", 0, "<=", 4])", "0"));
  CHECK(matches(R"([">", 0, "<=", 4])", "4"));
}
