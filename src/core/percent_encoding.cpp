#include "pkgtrust/core/percent_encoding.hpp"

#include <cctype>

namespace pkgtrust::core {

std::string PercentEncode(std::string_view text, std::string_view also_safe) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (unsigned char c : text) {
    bool safe = std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~' ||
                also_safe.find(static_cast<char>(c)) != std::string_view::npos;
    if (safe) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

}  // namespace pkgtrust::core
