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

enum class Listener { kApi, kAdminSocket, kMetrics };

// Who is on the other end of the connection.
struct PeerInfo {
  Listener listener = Listener::kApi;
  std::string ip;                  // "127.0.0.1", "::1"; empty on the unix socket
  // The client certificate, present only when the TLS handshake verified it
  // against Mayfly's trust chain. Revocation and bans are not checked yet.
  OsslPtr<X509> client_cert;
  // CertSpiffeId(client_cert) (its one URI name, not yet validated), read
  // once per connection rather than decoded again for every request.
  std::string client_spiffe_id;

  // Sets client_cert and the client_spiffe_id read from it: the one place
  // that derives the ID.
  void SetClientCert(OsslPtr<X509> cert);
  // The same peer for another request on the connection: the certificate is
  // shared (its reference count goes up), nothing is decoded again.
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
