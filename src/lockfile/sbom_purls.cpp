#include "lockfile/sbom_purls.hpp"

#include <fmt/format.h>

#include <cstdint>
#include <string>
#include <utility>

namespace pkgtrust::lockfile {

namespace {

// Appends the UTF-8 bytes of `code_point`.
void AppendUtf8(std::uint32_t code_point, std::string* out) {
  if (code_point < 0x80) {
    *out += static_cast<char>(code_point);
  } else if (code_point < 0x800) {
    *out += static_cast<char>(0xC0 | (code_point >> 6));
    *out += static_cast<char>(0x80 | (code_point & 0x3F));
  } else if (code_point < 0x10000) {
    *out += static_cast<char>(0xE0 | (code_point >> 12));
    *out += static_cast<char>(0x80 | ((code_point >> 6) & 0x3F));
    *out += static_cast<char>(0x80 | (code_point & 0x3F));
  } else {
    *out += static_cast<char>(0xF0 | (code_point >> 18));
    *out += static_cast<char>(0x80 | ((code_point >> 12) & 0x3F));
    *out += static_cast<char>(0x80 | ((code_point >> 6) & 0x3F));
    *out += static_cast<char>(0x80 | (code_point & 0x3F));
  }
}

bool ReadHex4(std::string_view text, std::size_t at, std::uint32_t* value) {
  if (at + 4 > text.size()) return false;
  *value = 0;
  for (char c : text.substr(at, 4)) {
    int digit = c >= '0' && c <= '9'   ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                       : -1;
    if (digit < 0) return false;
    *value = *value * 16 + static_cast<std::uint32_t>(digit);
  }
  return true;
}

// Whether the JSON string whose text starts at `at` (after its opening quote) decodes to
// `value`. Writers escape differently ("\/" from PHP, "\u0026" from Go), so the text is
// decoded rather than searched for one spelling.
bool StringEquals(std::string_view text, std::size_t at, std::string_view value) {
  std::string decoded;
  while (at < text.size() && decoded.size() <= value.size()) {
    char c = text[at++];
    if (c == '"') return decoded == value;
    if (c != '\\') {
      decoded += c;
      continue;
    }
    if (at >= text.size()) return false;
    char escape = text[at++];
    std::uint32_t code_point = 0;
    switch (escape) {
      case 'b':
        decoded += '\b';
        break;
      case 'f':
        decoded += '\f';
        break;
      case 'n':
        decoded += '\n';
        break;
      case 'r':
        decoded += '\r';
        break;
      case 't':
        decoded += '\t';
        break;
      case 'u': {
        if (!ReadHex4(text, at, &code_point)) return false;
        at += 4;
        std::uint32_t low = 0;
        if (code_point >= 0xD800 && code_point < 0xDC00 && text.substr(at, 2) == "\\u" &&
            ReadHex4(text, at + 2, &low) && low >= 0xDC00 && low < 0xE000) {
          code_point = 0x10000 + ((code_point - 0xD800) << 10) + (low - 0xDC00);
          at += 6;
        }
        AppendUtf8(code_point, &decoded);
        break;
      }
      default:
        decoded += escape;  // '"', '\\' and '/'
    }
  }
  return false;
}

}  // namespace

int FindMemberLine(const LineIndex& lines, std::string_view text, std::string_view key,
                   std::string_view value, std::size_t* from) {
  std::string needle = fmt::format("\"{}\"", key);
  std::size_t cursor = *from;
  while (int line = lines.FindLine(needle, &cursor)) {
    std::size_t at = text.find_first_not_of(" \t\r\n", cursor);
    if (at == std::string_view::npos || text[at] != ':') continue;
    at = text.find_first_not_of(" \t\r\n", at + 1);
    if (at == std::string_view::npos || text[at] != '"' || !StringEquals(text, at + 1, value)) continue;
    *from = at + 1;
    return line;
  }
  return 0;
}

core::Purl Respelled(core::Purl purl) {
  core::Result<core::PackageKey> key = core::PackageKeyFromPurl(purl);
  if (!key.ok()) return purl;
  std::string name = purl.type == "maven"      ? fmt::format("{}:{}", purl.namespace_, purl.name)
                     : purl.namespace_.empty() ? purl.name
                                               : fmt::format("{}/{}", purl.namespace_, purl.name);
  core::Purl respelled = Dependency(key->ecosystem, name, purl.version, 0).purl;
  respelled.qualifiers = std::move(purl.qualifiers);
  respelled.subpath = std::move(purl.subpath);
  return respelled;
}

}  // namespace pkgtrust::lockfile
