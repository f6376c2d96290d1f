// The synchronous HTTP client of the admin CLI and the agent: HTTPS with a
// verified server (and optionally a client certificate), or the admin socket.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/asio/ssl/context.hpp>

#include "mayfly/error.h"
#include "mayfly/net/http_types.h"
#include "mayfly/net/query.h"  // PercentEncode, for query values

namespace mayfly::net {

namespace ssl = boost::asio::ssl;

// The path of the SPIFFE ID that the CA daemon's server certificate carries
// (spiffe://<trust domain>/mayfly/ca). Paths under /mayfly/ are reserved: no
// registration entry can name one, so only the CA itself holds this one.
inline constexpr std::string_view kCaSpiffePath = "/mayfly/ca";

// Who the server must be, beyond a chain to the trusted roots that names the
// URL's host: the SPIFFE ID of its verified certificate.
struct ServerIdentity {
  // The SPIFFE ID's trust domain; empty accepts any, for a client that does
  // not know it yet (an agent's first enrollment: see agent_ca_client.h).
  std::string trust_domain;
  // The SPIFFE ID's path; kCaSpiffePath for Mayfly's CA.
  std::string path{kCaSpiffePath};

  // "spiffe://example.org/mayfly/ca", or "spiffe://<any trust domain>/mayfly/ca".
  std::string ToString() const;
};

// The CA's identity in the trust domain of the leaf of `chain_pem`: the
// client's own certificate (an agent's node certificate, an admin's), which
// the CA issued in its own trust domain. kInvalidArgument when the PEM holds
// no certificate, kInvalidSpiffeId when the leaf carries no single valid
// SPIFFE ID; both messages start with `what`.
[[nodiscard]] Result<ServerIdentity> CaIdentityOf(const std::string& chain_pem, const std::string& what);

struct ClientOptions {
  // Bounds each step: connect, TLS handshake, writing the request, reading
  // the response.
  std::chrono::seconds timeout{10};
  // Largest response body accepted (CRLs and bundles included).
  size_t max_response_body = 64 * 1024 * 1024;
  // When set (https only): after each handshake the verified server
  // certificate must carry exactly one URI SAN, a SPIFFE ID with this trust
  // domain (unless empty) and path; otherwise the request fails before it is
  // sent, kUnavailable "<url>: TLS verification failed: the server is not the
  // CA: it presents <ID>, expected <ID>". Unset: only the roots and the host
  // name are checked (the agent's unverified first contact, which pins a
  // root instead). Mayfly's agent and admin CLI always set it.
  std::optional<ServerIdentity> server_identity;
};

// What the server proved on the connection that the latest response came
// over (TLS only; empty for plain HTTP, the unix socket, or before any).
struct VerifiedServer {
  // The SPIFFE ID of its verified certificate; "" when it has none, several
  // URI SANs, or the context does not verify.
  std::string spiffe_id;
  // DER of the trusted root its chain verified to; "" when not verified.
  std::string root_der;
};

// One connection to one server, kept open between requests and reopened
// transparently when the server has closed it. Not thread-safe: one client per
// thread. Movable.
class HttpClient {
 public:
  // "https://host:port[/prefix]" (port 443 when omitted) with a context from
  // MakeClientTlsContext; the server certificate must name `host` (DNS SAN, or
  // IP SAN for an address literal) and, when options.server_identity is set,
  // carry that SPIFFE ID. "http://" is accepted for plain HTTP, and then `tls`
  // is ignored. kInvalidArgument for a URL it cannot use, or a server identity
  // asked of plain HTTP.
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
  // (connection refused, timed out, verifying the server's certificate failed:
  // <OpenSSL reason>, TLS verification failed: the server is not the CA: ...).
  // A request is resent once on a new connection only when a reused
  // connection turned out closed before any of the response arrived.
  [[nodiscard]] Result<HttpResponse> Request(
      const std::string& method, const std::string& target, const std::string& body = "",
      const std::vector<std::pair<std::string, std::string>>& headers = {});

  // Whether the latest Request wrote (any of) its request to a connection.
  // False when it failed before: resolving, connecting, the TLS handshake or
  // the server's identity check -- then the server certainly did not act on
  // it, and a caller may send a non-idempotent request elsewhere.
  bool request_sent() const;
  // The URL or socket path, as used in error messages.
  const std::string& endpoint() const;
  // What the server proved on the connection of the latest response.
  const VerifiedServer& verified_server() const;

  class Impl;

 private:
  explicit HttpClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace mayfly::net
