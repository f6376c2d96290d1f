// Durations as written in config files and on the command line: "90s", "10m", "1h", "30d".
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "mayfly/error.h"

namespace mayfly {

using Duration = std::chrono::seconds;

// The longest duration ParseDuration accepts: 100 years ("36500d"). Far past
// any sensible certificate lifetime, and small enough that adding it to any
// clock's now() cannot overflow.
inline constexpr Duration kMaxDuration = std::chrono::hours(24 * 36500);

// Parses "90s", "10m", "1h", "30d": one positive integer (digits only) and one
// unit of s, m, h, d. Zero, signs, fractions, spaces, several units ("1h30m")
// and anything above kMaxDuration are kInvalidArgument, with a message saying
// what was expected and quoting what was given.
[[nodiscard]] Result<Duration> ParseDuration(std::string_view text);
// The shortest exact form: 3600s -> "1h", 90s -> "90s", 0s -> "0s".
// ParseDuration(FormatDuration(d)) == d for every d ParseDuration accepts.
std::string FormatDuration(Duration d);

}  // namespace mayfly
