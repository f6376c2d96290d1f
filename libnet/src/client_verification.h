// How the API server verifies client certificates at the handshake and what
// it records about them for the connection's requests.
#pragma once

#include <openssl/ssl.h>

#include <string>

#include "mayfly/error.h"
#include "mayfly/net/http_types.h"

namespace mayfly::net {

// Makes the server context `ctx`, whose verify store already holds the
// client trust, verify each client certificate (asked for, not required)
// from that store alone: a chain is built only from the certificates in it,
// whatever intermediates the client sends, so it passes only through a CA
// the server trusts now. A certificate that fails there only because its
// issuer is not in the store, but verifies against `recovery_pem` (roots
// and the CAs whose leaves may still come back for one thing: Mayfly's
// revoked intermediates), completes the handshake as a recovery
// certificate; every other failure fails the handshake. Also caps each
// session the server caches at its client certificate's notAfter, so that
// resuming it never outlives the certificate, and keeps the verified issuer
// in the session for resumptions. kCrypto when `recovery_pem` (may be empty)
// does not parse.
[[nodiscard]] Result<void> UseClientVerification(SSL_CTX* ctx, const std::string& recovery_pem);

// Fills in `peer`'s client certificate after a completed handshake (full or
// resumed): client_cert and client_issuer_key_id when its chain verified
// against the client trust, recovery_cert when it verified only against the
// recovery store, nothing when the client sent no certificate.
void RecordClientCertificate(SSL* ssl, PeerInfo& peer);

}  // namespace mayfly::net
