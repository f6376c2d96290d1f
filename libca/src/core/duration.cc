// Durations as written in config files and on the command line: "90s", "10m", "1h", "30d".
#include <array>
#include <charconv>
#include <cstdint>
#include <string>

#include "mayfly/duration.h"
#include "mayfly/identity.h"

namespace mayfly {
namespace {

struct Unit {
  char suffix;
  int64_t seconds;
};

// Largest first, so FormatDuration finds the shortest exact form.
constexpr std::array<Unit, 4> kUnits = {{
    {'d', 86400}, {'h', 3600}, {'m', 60}, {'s', 1}}};

constexpr std::string_view kExpected =
    R"(expected a duration like "90s", "10m", "1h" or "30d" )"
    R"((a positive integer and one unit of s, m, h, d))";

}  // namespace

Result<Duration> ParseDuration(std::string_view text) {
  auto bad = [&] {
    return MakeError(ErrorCode::kInvalidArgument,
                     std::string(kExpected) + ", got " + QuoteForMessage(text));
  };
  if (text.size() < 2) return bad();
  const char suffix = text.back();
  std::string_view digits = text.substr(0, text.size() - 1);
  // from_chars alone would accept a leading '-'; only digits are allowed.
  for (char c : digits) {
    if (c < '0' || c > '9') return bad();
  }
  const Unit* unit = nullptr;
  for (const Unit& u : kUnits) {
    if (u.suffix == suffix) unit = &u;
  }
  if (unit == nullptr) return bad();

  int64_t count = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), count);
  const bool too_large = ec == std::errc::result_out_of_range ||
                         count > kMaxDuration.count() / unit->seconds;
  if (too_large) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "expected a duration of at most " + FormatDuration(kMaxDuration) +
                         ", got " + QuoteForMessage(text));
  }
  if (ec != std::errc() || end != digits.data() + digits.size() || count == 0) {
    return bad();
  }
  return Duration(count * unit->seconds);
}

std::string FormatDuration(Duration d) {
  const int64_t s = d.count();
  if (s == 0) return "0s";
  std::string sign = s < 0 ? "-" : "";
  // Negating INT64_MIN overflows; fall back to seconds for it.
  if (s == INT64_MIN) return std::to_string(s) + "s";
  const int64_t magnitude = s < 0 ? -s : s;
  for (const Unit& u : kUnits) {
    if (magnitude % u.seconds == 0) {
      return sign + std::to_string(magnitude / u.seconds) + u.suffix;
    }
  }
  return sign + std::to_string(magnitude) + "s";  // unreachable: 1 divides everything
}

}  // namespace mayfly
