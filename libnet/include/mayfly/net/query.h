// URL pieces: percent-encoding, query strings and "host:port" addresses.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "mayfly/error.h"

namespace mayfly::net {

// Percent-encodes everything but RFC 3986's unreserved characters
// (A-Z a-z 0-9 - . _ ~), for query values such as ?spiffe_id=spiffe%3A%2F%2F…
// Never fails today; Result keeps room for a future size limit.
[[nodiscard]] Result<std::string> PercentEncode(std::string_view text);

// Decodes %XX escapes, and '+' as a space when plus_is_space (form encoding,
// which query strings use). kInvalidArgument on a truncated or non-hex escape.
[[nodiscard]] Result<std::string> PercentDecode(std::string_view text, bool plus_is_space);

// "a=1&b=x%20y&c" → {a:"1", b:"x y", c:""}. Empty pieces ("a=1&&b=2") are
// skipped. kInvalidArgument on a bad escape or a key given twice (so that two
// layers can never read different values of one parameter).
[[nodiscard]] Result<std::map<std::string, std::string>> ParseQuery(std::string_view query);

struct HostPort {
  std::string host;  // "127.0.0.1", "::1" (no brackets), "ca.internal"
  uint16_t port = 0;
};

// "host:port", "[v6]:port". The port is required (0 allowed when allow_zero).
// kInvalidArgument naming the text otherwise.
[[nodiscard]] Result<HostPort> ParseHostPort(std::string_view text, bool allow_zero);

}  // namespace mayfly::net
