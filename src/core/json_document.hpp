// Fast reading of JSON documents (upstream answers, stored facts) with simdjson's DOM,
// Debian's libsimdjson-dev: 10 to 40 times faster than building a nlohmann DOM for the
// same answers (see bench/README.md). Header-only and private: modules that parse include
// it from src/ and link simdjson themselves; no public header names simdjson.
#pragma once

#include <simdjson.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace pkgtrust::core {

// A value, or the error that stands for it (a missing member, a wrong type): members of
// a missing value are missing too, so lookups chain without checks.
using JsonValue = simdjson::simdjson_result<simdjson::dom::element>;

// One parsed document. Its parser comes from a small per-thread pool and goes back when
// the document is destroyed, so documents may nest. Parsers that
// grew past 1 MB for a large document are freed instead of kept.
class JsonDocument {
 public:
  explicit JsonDocument(std::string_view text) : parser_(Acquire()) {
    error_ = parser_->parse(text.data(), text.size(), /*realloc_if_needed=*/true).get(root_);
  }
  ~JsonDocument() { Release(std::move(parser_)); }
  JsonDocument(const JsonDocument&) = delete;
  JsonDocument& operator=(const JsonDocument&) = delete;

  bool ok() const { return error_ == simdjson::SUCCESS; }
  std::string error() const { return simdjson::error_message(error_); }
  JsonValue root() const { return ok() ? JsonValue(simdjson::dom::element(root_)) : JsonValue(error_); }

 private:
  static constexpr std::size_t kKeepCapacity = 1u << 20;
  static std::vector<std::unique_ptr<simdjson::dom::parser>>& Pool() {
    thread_local std::vector<std::unique_ptr<simdjson::dom::parser>> pool;
    return pool;
  }
  static std::unique_ptr<simdjson::dom::parser> Acquire() {
    auto& pool = Pool();
    if (pool.empty()) return std::make_unique<simdjson::dom::parser>();
    auto parser = std::move(pool.back());
    pool.pop_back();
    return parser;
  }
  static void Release(std::unique_ptr<simdjson::dom::parser> parser) {
    if (parser && parser->capacity() <= kKeepCapacity && Pool().size() < 4)
      Pool().push_back(std::move(parser));
  }

  std::unique_ptr<simdjson::dom::parser> parser_;
  simdjson::dom::element root_;
  simdjson::error_code error_ = simdjson::UNINITIALIZED;
};

// Lenient accessors: a missing member or one of another type reads as the fallback, as
// upstream answers often omit or null fields.
inline std::string StringAt(JsonValue object, std::string_view key, std::string_view fallback = {}) {
  std::string_view s;
  return object[key].get(s) == simdjson::SUCCESS ? std::string(s) : std::string(fallback);
}
inline std::int64_t IntAt(JsonValue object, std::string_view key, std::int64_t fallback = 0) {
  JsonValue value = object[key];
  std::int64_t i;
  if (value.get(i) == simdjson::SUCCESS) return i;
  std::uint64_t u;
  if (value.get(u) == simdjson::SUCCESS) return static_cast<std::int64_t>(u);
  return fallback;
}
inline bool BoolAt(JsonValue object, std::string_view key, bool fallback = false) {
  bool b;
  return object[key].get(b) == simdjson::SUCCESS ? b : fallback;
}
// The array at `value`, or an error; iterate only after checking it.
inline bool AsArray(JsonValue value, simdjson::dom::array& out) {
  return value.get(out) == simdjson::SUCCESS;
}
inline bool AsObject(JsonValue value, simdjson::dom::object& out) {
  return value.get(out) == simdjson::SUCCESS;
}

// The same for a value known to exist (an array's element, an object's member).
inline std::string StringAt(simdjson::dom::element object, std::string_view key,
                            std::string_view fallback = {}) {
  return StringAt(JsonValue(std::move(object)), key, fallback);
}
inline std::int64_t IntAt(simdjson::dom::element object, std::string_view key, std::int64_t fallback = 0) {
  return IntAt(JsonValue(std::move(object)), key, fallback);
}
inline bool BoolAt(simdjson::dom::element object, std::string_view key, bool fallback = false) {
  return BoolAt(JsonValue(std::move(object)), key, fallback);
}
inline bool AsArray(simdjson::dom::element value, simdjson::dom::array& out) {
  return value.get(out) == simdjson::SUCCESS;
}
inline bool AsObject(simdjson::dom::element value, simdjson::dom::object& out) {
  return value.get(out) == simdjson::SUCCESS;
}

}  // namespace pkgtrust::core
