// The HTTP request path up to routing: Beast's parser with the server's
// limits, then the conversion to Mayfly's request (target, percent-decoded
// query, headers) that the router sees.
#include <cstddef>
#include <cstdint>

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include "http_message.h"
#include "mayfly/net/query.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace http = boost::beast::http;
  http::request_parser<http::string_body> parser;
  parser.header_limit(8 * 1024);
  parser.body_limit(64 * 1024);
  parser.eager(true);
  boost::beast::error_code ec;
  size_t used = 0;
  while (used < size && !parser.is_done()) {
    const size_t n = parser.put(boost::asio::buffer(data + used, size - used), ec);
    if (ec || n == 0) break;
    used += n;
  }
  if (!ec && !parser.is_done() && used == size) parser.put_eof(ec);
  if (ec || !parser.is_done()) return 0;
  auto request = mayfly::net::FromBeastRequest(parser.get());
  if (request) {
    for (const auto& [name, value] : request->headers) (void)mayfly::net::PercentEncode(value);
  }
  return 0;
}
