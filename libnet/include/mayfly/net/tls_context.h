// TLS contexts for Mayfly's listeners and clients: strict versions, ciphers and
// certificate verification, built once and shared by many connections.
#pragma once

#include <memory>
#include <string>

#include <boost/asio/ssl/context.hpp>

#include "mayfly/error.h"
#include "mayfly/ossl_ptr.h"

namespace mayfly::net {

namespace ssl = boost::asio::ssl;

struct ServerTlsConfig {
  // The server certificate first, then its intermediates (PEM).
  std::string cert_chain_pem;
  // The server certificate's private key; the context takes its own reference.
  const EVP_PKEY* key = nullptr;
  // Roots and intermediates that client certificates must chain to (PEM).
  // Chains are built from these alone: the intermediates a client sends are
  // not used, so every intermediate a client certificate may come from must
  // be here. Each intermediate that chains to a root given here is a trust
  // anchor of its own (its validity is checked at each handshake, its
  // signature once, here); one that does not is left out. Empty: no client
  // certificate is ever accepted as verified.
  std::string client_trust_pem;
  // "1.3" (default) or "1.2"; 1.2 then offers only ECDHE key exchange with AEAD
  // ciphers.
  std::string min_version = "1.3";
  // Roots and CA certificates whose leaves complete the handshake without
  // counting as verified (PeerInfo::recovery_cert): for Mayfly, the revoked
  // intermediates, whose nodes may still renew. Empty (the default): none.
  std::string client_recovery_pem;
};

// A server context: the chosen minimum version, no compression, no
// renegotiation, session tickets (TLS 1.3 resumption, never past the client
// certificate's notAfter). It asks every client for a certificate
// (SSL_VERIFY_PEER) but does not require one, so a client without a
// certificate still completes the handshake and the routes decide; a
// certificate that is presented must verify against client_trust_pem for the
// TLS client purpose, or (when only its issuer is missing there) against
// client_recovery_pem, or the handshake fails.
// Errors: kInvalidArgument for a bad min_version or a missing key, kCrypto
// (with OpenSSL's reason) for PEM that does not parse or a key that does not
// match the certificate.
[[nodiscard]] Result<std::shared_ptr<ssl::context>> MakeServerTlsContext(
    const ServerTlsConfig& config);

struct ClientTlsConfig {
  // Roots the server's chain must lead to (PEM); required.
  std::string trust_pem;
  // Optional client certificate (leaf first, then intermediates) and its key.
  std::string cert_chain_pem;
  const EVP_PKEY* key = nullptr;
  // Whether the handshake carries cert_chain_pem's intermediates. A Mayfly
  // server builds client chains from its own trust and never reads them, so
  // by default only the leaf is sent; a peer that builds chains from what
  // the client sends (cfssl, Go's TLS) needs them.
  bool send_intermediates = false;
  // "1.3" (default) or "1.2".
  std::string min_version = "1.3";
};

// A client context that verifies the server's chain against trust_pem. The
// server's name (DNS or IP) is checked per connection by HttpClient, which
// sets SNI and the expected host on each SSL object, and so is its SPIFFE ID
// (ClientOptions::server_identity) once the chain has verified.
// Errors as for MakeServerTlsContext; kInvalidArgument when trust_pem is empty
// or a certificate is given without a key.
[[nodiscard]] Result<std::shared_ptr<ssl::context>> MakeClientTlsContext(
    const ClientTlsConfig& config);

}  // namespace mayfly::net
