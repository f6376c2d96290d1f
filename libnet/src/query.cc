// Percent-encoding, query strings and host:port parsing.
#include "mayfly/net/query.h"

#include <charconv>

#include "mayfly/identity.h"

namespace mayfly::net {
namespace {

bool IsUnreserved(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~';
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

Result<std::string> PercentEncode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (IsUnreserved(c)) {
      out += c;
    } else {
      const auto byte = static_cast<unsigned char>(c);
      out += '%';
      out += kHex[byte >> 4];
      out += kHex[byte & 0xf];
    }
  }
  return out;
}

Result<std::string> PercentDecode(std::string_view text, bool plus_is_space) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '%') {
      const bool complete = i + 2 < text.size();
      const int hi = complete ? HexValue(text[i + 1]) : -1;
      const int lo = complete ? HexValue(text[i + 2]) : -1;
      if (hi < 0 || lo < 0) {
        return InvalidInputError(ErrorCode::kInvalidArgument, "percent-encoding", text,
                                 "'%' must be followed by two hex digits");
      }
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out += ' ';
    } else {
      out += c;
    }
  }
  return out;
}

Result<std::map<std::string, std::string>> ParseQuery(std::string_view query) {
  std::map<std::string, std::string> out;
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view piece = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (piece.empty()) continue;
    size_t eq = piece.find('=');
    auto key = PercentDecode(piece.substr(0, eq), true);
    if (!key) return std::unexpected(key.error());
    auto value = PercentDecode(eq == std::string_view::npos ? "" : piece.substr(eq + 1), true);
    if (!value) return std::unexpected(value.error());
    if (!out.emplace(std::move(*key), std::move(*value)).second) {
      return InvalidInputError(ErrorCode::kInvalidArgument, "query parameter", piece,
                               "each parameter may appear only once");
    }
  }
  return out;
}

Result<HostPort> ParseHostPort(std::string_view text, bool allow_zero) {
  auto bad = [&](std::string_view rule) {
    return InvalidInputError(ErrorCode::kInvalidArgument, "address", text, rule);
  };
  HostPort out;
  std::string_view port;
  if (!text.empty() && text.front() == '[') {
    size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return bad("expected [IPv6]:port");
    }
    out.host = std::string(text.substr(1, close - 1));
    port = text.substr(close + 2);
  } else {
    size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) return bad("expected host:port");
    out.host = std::string(text.substr(0, colon));
    if (out.host.find(':') != std::string::npos) return bad("an IPv6 address needs [brackets]");
    port = text.substr(colon + 1);
  }
  if (out.host.empty()) return bad("the host is missing");
  unsigned value = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (port.empty() || ec != std::errc() || end != port.data() + port.size() || value > 65535 ||
      (value == 0 && !allow_zero)) {
    return bad(allow_zero ? "the port must be 0-65535" : "the port must be 1-65535");
  }
  out.port = static_cast<uint16_t>(value);
  return out;
}

}  // namespace mayfly::net
