// HTTP requests and responses as the daemon's handlers see them, whatever
// listener (mTLS, admin unix socket, metrics) they arrived on.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "mayfly/ossl_ptr.h"

namespace mayfly::net {

// kOcsp: the plain-HTTP OCSP listener, which serves only the OCSP routes.
enum class Listener { kApi, kAdminSocket, kMetrics, kOcsp };

// Who is on the other end of the connection.
struct PeerInfo {
  Listener listener = Listener::kApi;
  std::string ip;                  // "127.0.0.1", "::1"; empty on the unix socket
  // The client certificate, present only when the TLS handshake verified its
  // chain against the server's client trust alone (what the client sends
  // beyond its leaf is not used). Revocation, bans and its validity at the
  // time of a request are not checked yet.
  OsslPtr<X509> client_cert;
  // CertSpiffeId(client_cert) (its one URI name, not yet validated), read
  // once per connection rather than decoded again for every request.
  std::string client_spiffe_id;
  // Who issued client_cert according to the chain the TLS layer verified
  // (not to the certificate's own AKI, which its holder chose): the hex
  // SubjectKeyIdentifier of the CA certificate right above it in that chain.
  std::string client_issuer_key_id;
  // A client certificate that did not verify against the client trust but
  // only against the recovery store (ServerTlsConfig::client_recovery_pem):
  // the client holds its key and a recovery CA signed it, nothing more.
  // Never set together with client_cert; only a route that exists for
  // recovery looks at it, every other one sees an anonymous caller.
  OsslPtr<X509> recovery_cert;

  // Sets client_cert, the client_spiffe_id read from it and its verified
  // issuer: the one place that derives the ID.
  void SetClientCert(OsslPtr<X509> cert, std::string issuer_key_id);
  // The same peer for another request on the connection: the certificates
  // are shared (their reference counts go up), nothing is decoded again.
  PeerInfo Share() const;
};

struct HttpRequest {
  std::string method;              // "GET", "POST", "DELETE"
  std::string path;                // "/v1/sign" (no query)
  std::map<std::string, std::string> query;    // decoded ?a=b&c=d
  std::map<std::string, std::string> headers;  // names lowercased
  std::string body;
  PeerInfo peer;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers (ETag, Retry-After)
};

// Completes a request. May be called from any thread, exactly once.
using Respond = std::function<void(HttpResponse)>;

// Handles a request; may respond before returning or later (e.g. once the
// certificate it issued is committed).
using Handler = std::function<void(HttpRequest request, Respond respond)>;

}  // namespace mayfly::net
