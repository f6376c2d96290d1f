// Converts between Beast's HTTP messages and Mayfly's HttpRequest and
// HttpResponse, on both the server and the client side.
#pragma once

#include <string_view>

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include "mayfly/error.h"
#include "mayfly/net/http_types.h"

namespace mayfly::net {

using BeastRequest = boost::beast::http::request<boost::beast::http::string_body>;
using BeastResponse = boost::beast::http::response<boost::beast::http::string_body>;

// True when a header name or value holds a CR or LF, which would end the
// field early and let the rest forge new headers.
bool HasLineBreak(std::string_view s);

// Method, path, percent-decoded query, lowercased headers (repeats joined with
// ", ") and the body, moved out of `req`. The peer is left for the caller.
// kInvalidArgument when the target is not a path or its query is malformed.
[[nodiscard]] Result<HttpRequest> FromBeastRequest(BeastRequest& req);

// A response to send: status (500 when out of range), Server: mayfly, the
// content type, the extra headers (any with a line break dropped) and the
// body. Keep-alive and the payload size are the caller's.
BeastResponse ToBeastResponse(HttpResponse response, unsigned version);

// A received response, header names lowercased.
HttpResponse FromBeastResponse(BeastResponse& res);

}  // namespace mayfly::net
