// Limits on JSON from outside (request bodies, webhook events, queue messages, upstream
// answers): checked before a DOM is built, because a DOM of a document nested 100,000 deep
// is copied, printed and compared by recursion, which runs out of stack.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace pkgtrust::core {

// Deep enough for every document pkgtrust reads (OSV records and packuments nest under 10).
inline constexpr int kMaxJsonDepth = 64;

// Whether the arrays and objects of `text` nest at most `max_depth` deep. Strings (with
// their escapes) are skipped; nothing else is checked: a parser still validates the rest.
// One pass, no allocation.
bool JsonNestingWithin(std::string_view text, int max_depth = kMaxJsonDepth);

// No field pkgtrust reads from an upstream answer comes near this; a README can.
inline constexpr std::size_t kMaxJsonStringBytes = 1u << 20;

// Replaces, in place, every string of `text` (key or value) longer than `max_bytes` as
// written (escapes included) by "", and returns how many it replaced. A parser otherwise
// builds each string whole, its buffer doubling as it goes: a 40 MB README in a packument
// costs 100 MB on top of the body. One pass, no allocation; an unterminated string is left
// as it is for the parser to refuse.
std::size_t ElideLongJsonStrings(std::string& text, std::size_t max_bytes = kMaxJsonStringBytes);

// Appends `text` as a JSON string ('"' and '\\' escaped, control characters as \u00XX), for
// JSON written by hand where building a DOM would cost more than the answer (the change
// stream's events, the gateway's filtered packuments and indexes).
void AppendJsonString(std::string& out, std::string_view text);

}  // namespace pkgtrust::core
