// Timestamps from upstreams: RFC 3339 / ISO 8601 in the variants registries emit
// ("2010-11-01T18:23:54Z", "...54.297Z", "...54.297000+00:00", "2019-01-01 10:00:00").
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "pkgtrust/core/clock.hpp"

namespace pkgtrust::core {

std::optional<Millis> ParseTimestamp(std::string_view text);
// Strictly RFC 3339's date-time: "YYYY-MM-DDThh:mm:ss", an optional fraction, and "Z" or
// "+hh:mm"/"-hh:mm" (never a bare local time, a space, or a date alone).
bool IsRfc3339Timestamp(std::string_view text);
std::string FormatTimestamp(Millis millis);  // "2024-12-09T00:15:25.297Z"
// A UTC calendar time (month 1-12) as ms since the epoch; no range checks.
Millis UtcMillis(int year, int month, int day, int hour = 0, int minute = 0, int second = 0);

}  // namespace pkgtrust::core
