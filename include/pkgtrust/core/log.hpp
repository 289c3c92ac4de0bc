// Minimal leveled logging to stderr: one line per event, "time level [component] message".
// Safe for concurrent use (each line is written with a single call).
#pragma once

#include <fmt/format.h>

#include <string_view>

namespace pkgtrust::core {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3, kOff = 4 };

void SetLogLevel(LogLevel level);
LogLevel GetLogLevel();
bool ParseLogLevel(std::string_view text, LogLevel* out);
void WriteLogLine(LogLevel level, std::string_view component, std::string_view message);

template <typename... Args>
void Log(LogLevel level, std::string_view component, fmt::format_string<Args...> format, Args&&... args) {
  if (level < GetLogLevel()) return;
  WriteLogLine(level, component, fmt::format(format, std::forward<Args>(args)...));
}

}  // namespace pkgtrust::core
