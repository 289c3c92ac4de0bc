// The limits put on outside JSON before it is parsed: nesting depth, and strings too long
// to be worth building.
#include "pkgtrust/core/json_limits.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <string>

using namespace pkgtrust;
using nlohmann::json;

namespace {

std::string Nested(int depth) { return std::string(depth, '[') + std::string(depth, ']'); }

}  // namespace

TEST_CASE("JSON nesting: the limit itself passes, one more does not", "[core]") {
  CHECK(core::JsonNestingWithin(Nested(core::kMaxJsonDepth)));
  CHECK_FALSE(core::JsonNestingWithin(Nested(core::kMaxJsonDepth + 1)));
  CHECK(core::JsonNestingWithin(Nested(3), 3));
  CHECK_FALSE(core::JsonNestingWithin(Nested(4), 3));
  // Objects count like arrays, and depth is the deepest point, not the number of brackets.
  CHECK(core::JsonNestingWithin(R"({"a":{"b":[1]},"c":{"d":[2]}})", 3));
  CHECK_FALSE(core::JsonNestingWithin(R"({"a":{"b":[{}]}})", 3));
  // Brackets inside strings, escaped quotes included, are text.
  CHECK(core::JsonNestingWithin(R"(["[[[[", "\"[[[[\\", "]]"])", 1));
}

TEST_CASE("long JSON strings: the limit itself is kept, one byte more is elided", "[core]") {
  std::string kept = R"({"readme":")" + std::string(100, 'a') + R"(","name":"x"})";
  std::string original = kept;
  CHECK(core::ElideLongJsonStrings(kept, 100) == 0);
  CHECK(kept == original);

  std::string cut = R"({"readme":")" + std::string(101, 'a') + R"(","name":"x"})";
  CHECK(core::ElideLongJsonStrings(cut, 100) == 1);
  CHECK(cut == R"({"readme":"","name":"x"})");
  CHECK(json::parse(cut)["name"] == "x");
}

TEST_CASE("long JSON strings: escapes count as written and never end a string", "[core]") {
  // 50 escaped quotes are 100 bytes as written: over a limit of 99, within one of 100.
  std::string escapes;
  for (int i = 0; i < 50; ++i) escapes += "\\\"";
  std::string text = R"(["a",")" + escapes + R"(","b"])";
  std::string copy = text;
  CHECK(core::ElideLongJsonStrings(copy, 100) == 0);
  CHECK(copy == text);
  CHECK(core::ElideLongJsonStrings(text, 99) == 1);
  CHECK(text == R"(["a","","b"])");
  CHECK(json::parse(text) == json::array({"a", "", "b"}));

  // A backslash before the closing quote: the string goes on.
  std::string tricky = R"(["x\\",")" + std::string(20, 'y') + R"("])";
  CHECK(core::ElideLongJsonStrings(tricky, 10) == 1);
  CHECK(tricky == R"(["x\\",""])");
}

TEST_CASE("long JSON strings: keys too, several of them, and an unterminated one is left alone", "[core]") {
  std::string text = "{\"" + std::string(30, 'k') + "\":\"" + std::string(30, 'v') + "\",\"short\":[\"" +
                     std::string(31, 'z') + "\"]}";
  CHECK(core::ElideLongJsonStrings(text, 20) == 3);
  CHECK(text == R"({"":"","short":[""]})");

  std::string open = R"({"a":"ok","b":")" + std::string(50, 'q');
  std::string before = open;
  CHECK(core::ElideLongJsonStrings(open, 10) == 0);
  CHECK(open == before);  // the parser refuses it as it is
  CHECK_FALSE(json::accept(open));

  std::string empty;
  CHECK(core::ElideLongJsonStrings(empty, 10) == 0);
  CHECK(empty.empty());
}

TEST_CASE("AppendJsonString escapes quotes, backslashes and control characters, and keeps UTF-8", "[core]") {
  std::string out = "x";
  core::AppendJsonString(out, "a\"b\\c\n\x01 \xc3\xa9");
  CHECK(out == "x\"a\\\"b\\\\c\\u000a\\u0001 \xc3\xa9\"");
  CHECK(nlohmann::json::parse(out.substr(1)) == "a\"b\\c\n\x01 \xc3\xa9");
}
