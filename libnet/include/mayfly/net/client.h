// The synchronous HTTP client of the admin CLI and the agent: HTTPS with a
// verified server (and optionally a client certificate), or the admin socket.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <boost/asio/ssl/context.hpp>

#include "mayfly/error.h"
#include "mayfly/net/http_types.h"
#include "mayfly/net/query.h"  // PercentEncode, for query values

namespace mayfly::net {

namespace ssl = boost::asio::ssl;

struct ClientOptions {
  // Bounds each step: connect, TLS handshake, writing the request, reading
  // the response.
  std::chrono::seconds timeout{10};
  // Largest response body accepted (CRLs and bundles included).
  size_t max_response_body = 64 * 1024 * 1024;
};

// One connection to one server, kept open between requests and reopened
// transparently when the server has closed it. Not thread-safe: one client per
// thread. Movable.
class HttpClient {
 public:
  // "https://host:port[/prefix]" (port 443 when omitted) with a context from
  // MakeClientTlsContext; the server certificate must name `host` (DNS SAN, or
  // IP SAN for an address literal). "http://" is accepted for plain HTTP, and
  // then `tls` is ignored. kInvalidArgument for a URL it cannot use.
  [[nodiscard]] static Result<HttpClient> ForUrl(const std::string& base_url,
                                                 std::shared_ptr<ssl::context> tls,
                                                 ClientOptions options = {});
  // Plain HTTP over a unix socket (the admin socket).
  [[nodiscard]] static Result<HttpClient> ForUnixSocket(const std::string& path,
                                                        ClientOptions options = {});

  HttpClient(HttpClient&&) noexcept;
  HttpClient& operator=(HttpClient&&) noexcept;
  ~HttpClient();

  // Sends one request (target = path + query, appended to the URL's prefix)
  // and returns the response, whatever its status; `headers` of the response
  // have lowercased names. A body without a content-type header is sent as
  // application/json. Failures to reach or talk to the server are
  // kUnavailable, the message naming the URL or socket and the cause
  // (connection refused, timed out, TLS verification failed: <OpenSSL reason>).
  // A request is resent once on a new connection only when a reused
  // connection turned out closed before any of the response arrived.
  [[nodiscard]] Result<HttpResponse> Request(
      const std::string& method, const std::string& target, const std::string& body = "",
      const std::vector<std::pair<std::string, std::string>>& headers = {});

  // The URL or socket path, as used in error messages.
  const std::string& endpoint() const;

  class Impl;

 private:
  explicit HttpClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace mayfly::net
