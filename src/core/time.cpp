#include "pkgtrust/core/time.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <ctime>

namespace pkgtrust::core {

std::optional<Millis> ParseTimestamp(std::string_view s) {
  auto digits = [&](std::size_t pos, std::size_t n, int* out) {
    if (pos + n > s.size()) return false;
    int v = 0;
    for (std::size_t i = pos; i < pos + n; ++i) {
      if (!std::isdigit(static_cast<unsigned char>(s[i]))) return false;
      v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
  };
  int year, month, day, hour = 0, minute = 0, second = 0;
  if (!digits(0, 4, &year) || s.size() < 10 || s[4] != '-' || !digits(5, 2, &month) || s[7] != '-' ||
      !digits(8, 2, &day))
    return std::nullopt;
  std::size_t pos = 10;
  Millis millis = 0;
  Millis offset_seconds = 0;
  if (pos < s.size() && (s[pos] == 'T' || s[pos] == 't' || s[pos] == ' ')) {
    if (!digits(pos + 1, 2, &hour) || s.size() < pos + 9 || s[pos + 3] != ':' ||
        !digits(pos + 4, 2, &minute) || s[pos + 6] != ':' || !digits(pos + 7, 2, &second))
      return std::nullopt;
    pos += 9;
    if (pos < s.size() && s[pos] == '.') {
      ++pos;
      int scale = 100;
      while (pos < s.size() && std::isdigit(static_cast<unsigned char>(s[pos]))) {
        millis += (s[pos] - '0') * scale;
        scale /= 10;
        ++pos;
      }
    }
    if (pos < s.size()) {
      if (s[pos] == 'Z' || s[pos] == 'z') {
        ++pos;
      } else if (s[pos] == '+' || s[pos] == '-') {
        int oh, om;
        if (!digits(pos + 1, 2, &oh)) return std::nullopt;
        std::size_t mpos = pos + 3;
        if (mpos < s.size() && s[mpos] == ':') ++mpos;
        if (!digits(mpos, 2, &om)) return std::nullopt;
        offset_seconds = (s[pos] == '+' ? 1 : -1) * (oh * 3600 + om * 60);
        pos = mpos + 2;
      }
    }
  }
  if (pos != s.size()) return std::nullopt;
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60)
    return std::nullopt;
  return UtcMillis(year, month, day, hour, minute, second) - offset_seconds * 1000 + millis;
}

bool IsRfc3339Timestamp(std::string_view s) {
  // ParseTimestamp checks the numbers; this checks the shape it is lenient about.
  if (s.size() < 20 || (s[10] != 'T' && s[10] != 't')) return false;
  std::size_t pos = 19;
  if (s[pos] == '.') {
    std::size_t digits = 0;
    while (++pos < s.size() && std::isdigit(static_cast<unsigned char>(s[pos]))) digits++;
    if (digits == 0) return false;
  }
  std::string_view zone = s.substr(std::min(pos, s.size()));
  bool offset = zone.size() == 6 && (zone[0] == '+' || zone[0] == '-') && zone[3] == ':';
  if (zone != "Z" && zone != "z" && !offset) return false;
  return ParseTimestamp(s).has_value();
}

std::string FormatTimestamp(Millis millis) {
  std::time_t secs = static_cast<std::time_t>(millis / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, millis % 1000);
}

Millis UtcMillis(int year, int month, int day, int hour, int minute, int second) {
  std::tm tm{};
  tm.tm_year = year - 1900;
  tm.tm_mon = month - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = minute;
  tm.tm_sec = second;
  return static_cast<Millis>(timegm(&tm)) * 1000;
}

}  // namespace pkgtrust::core
