#include "pkgtrust/core/json_limits.hpp"

namespace pkgtrust::core {

bool JsonNestingWithin(std::string_view text, int max_depth) {
  int depth = 0;
  bool in_string = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (in_string) {
      if (c == '\\')
        ++i;  // the escaped character, whatever it is
      else if (c == '"')
        in_string = false;
      continue;
    }
    switch (c) {
      case '"':
        in_string = true;
        break;
      case '[':
      case '{':
        if (++depth > max_depth) return false;
        break;
      case ']':
      case '}':
        --depth;
        break;
      default:
        break;
    }
  }
  return true;
}

std::size_t ElideLongJsonStrings(std::string& text, std::size_t max_bytes) {
  std::size_t read = 0, write = 0, elided = 0;
  const std::size_t size = text.size();
  while (read < size) {
    if (text[read] != '"') {
      text[write++] = text[read++];
      continue;
    }
    std::size_t end = read + 1;  // the closing quote
    while (end < size && text[end] != '"') end += text[end] == '\\' ? 2 : 1;
    if (end >= size) break;  // unterminated: the rest is copied below
    if (end - read - 1 > max_bytes) {
      text[write++] = '"';
      text[write++] = '"';
      ++elided;
    } else {
      for (std::size_t i = read; i <= end; ++i) text[write++] = text[i];
    }
    read = end + 1;
  }
  while (read < size) text[write++] = text[read++];
  text.resize(write);
  if (elided > 0) text.shrink_to_fit();  // the long strings' memory goes now, not with the text
  return elided;
}

void AppendJsonString(std::string& out, std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  out += '"';
  for (char c : text) {
    auto byte = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (byte < 0x20) {
      out += "\\u00";
      out += kHex[byte >> 4];
      out += kHex[byte & 0xf];
    } else {
      out += c;
    }
  }
  out += '"';
}

}  // namespace pkgtrust::core
