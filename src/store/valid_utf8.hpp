// Private to the store (src/store/): text for the database's text columns.
#pragma once

#include <algorithm>
#include <string>
#include <string_view>

namespace pkgtrust::store {

// At most `max_bytes` of `text` as valid UTF-8 without NUL. An error message may quote the
// bytes of a broken upstream answer: PostgreSQL refuses text that is not UTF-8, and SQLite
// would keep it and hand it on in JSON answers; both stores keep this text. Invalid bytes
// become U+FFFD; a character is never cut in half.
inline std::string ValidUtf8(std::string_view text, std::size_t max_bytes) {
  std::string out;
  out.reserve(std::min(text.size(), max_bytes));
  for (std::size_t i = 0; i < text.size();) {
    auto byte = static_cast<unsigned char>(text[i]);
    std::size_t length = byte < 0x80           ? 1
                         : (byte >> 5) == 0x6  ? 2
                         : (byte >> 4) == 0xE  ? 3
                         : (byte >> 3) == 0x1E ? 4
                                               : 0;
    bool valid = length > 0 && i + length <= text.size();
    for (std::size_t k = 1; valid && k < length; ++k)
      valid = (static_cast<unsigned char>(text[i + k]) >> 6) == 0x2;
    // No overlong forms, no surrogates, nothing above U+10FFFF.
    auto second = valid && length > 1 ? static_cast<unsigned char>(text[i + 1]) : 0;
    if (valid && length == 2) valid = byte >= 0xC2;
    if (valid && length == 3) valid = !(byte == 0xE0 && second < 0xA0) && !(byte == 0xED && second >= 0xA0);
    if (valid && length == 4)
      valid = byte <= 0xF4 && !(byte == 0xF0 && second < 0x90) && !(byte == 0xF4 && second >= 0x90);
    std::string_view piece = valid ? text.substr(i, length) : std::string_view("\xEF\xBF\xBD");
    if (byte == 0) piece = "\xEF\xBF\xBD";
    if (out.size() + piece.size() > max_bytes) break;
    out += piece;
    i += valid ? length : 1;
  }
  return out;
}

}  // namespace pkgtrust::store
