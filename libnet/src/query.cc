// Percent-encoding and query strings (Boost.URL), and host:port parsing.
#include "mayfly/net/query.h"

#include <boost/url/encode.hpp>
#include <boost/url/parse_query.hpp>
#include <boost/url/pct_string_view.hpp>
#include <boost/url/rfc/unreserved_chars.hpp>

#include <charconv>

#include "mayfly/identity.h"

namespace mayfly::net {

namespace urls = boost::urls;

Result<std::string> PercentEncode(std::string_view text) {
  return urls::encode(text, urls::unreserved_chars);  // uppercase hex digits
}

Result<std::string> PercentDecode(std::string_view text, bool plus_is_space) {
  auto valid = urls::make_pct_string_view(text);
  if (!valid) {
    return InvalidInputError(ErrorCode::kInvalidArgument, "percent-encoding", text,
                             "'%' must be followed by two hex digits");
  }
  urls::encoding_opts opts;
  opts.space_as_plus = plus_is_space;
  return valid->decode(opts);
}

Result<std::map<std::string, std::string>> ParseQuery(std::string_view query) {
  std::map<std::string, std::string> out;
  if (query.empty()) return out;
  // Boost 1.81's parse_query reads its input up to a NUL, whatever the
  // view's size (a query inside a request buffer runs on into the headers):
  // it parses a terminated copy.
  const std::string terminated(query);
  auto params = urls::parse_query(terminated);
  if (!params) {
    return InvalidInputError(ErrorCode::kInvalidArgument, "query", query,
                             "'%' must be followed by two hex digits");
  }
  // Each parameter is decoded here, not through params_view, so that '+'
  // reads as a space in keys and values alike (form encoding).
  auto view = [](urls::pct_string_view s) { return std::string_view(s.data(), s.size()); };
  for (const urls::param_pct_view& param : *params) {
    if (param.key.empty() && !param.has_value) continue;  // "a=1&&b=2"
    auto key = PercentDecode(view(param.key), true);
    if (!key) return std::unexpected(key.error());
    auto value = PercentDecode(view(param.value), true);
    if (!value) return std::unexpected(value.error());
    if (!out.emplace(std::move(*key), std::move(*value)).second) {
      return InvalidInputError(ErrorCode::kInvalidArgument, "query parameter", view(param.key),
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
