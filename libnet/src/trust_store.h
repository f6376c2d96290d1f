// A verification store of trust anchors read from PEM (internal to libnet).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "mayfly/error.h"
#include "mayfly/ossl_ptr.h"

namespace mayfly::net {

struct TrustStore {
  OsslPtr<X509_STORE> store;        // the anchors
  std::vector<OsslPtr<X509>> certs;  // the same certificates (PEM order; with CA anchors roots first)
};

// kCrypto naming `what` ("TLS trust", ...) when the PEM does not parse or the
// store cannot be built.
[[nodiscard]] Result<TrustStore> TrustStoreFromPem(const std::string& pem, std::string_view what);

// A store for verifying clients with the CA's own certificates as anchors:
// the self-signed roots of `pem`, and each other certificate of `pem` that
// verifies up to one of those roots (through the others, signatures and CA
// constraints checked, validity left to each handshake), with
// X509_V_FLAG_PARTIAL_CHAIN so that a chain ends at the first of them. A
// certificate of `pem` that does not chain to its roots is left out (of
// `certs` too): trusting it alone would let it stand in for a root nobody
// configured. Errors as TrustStoreFromPem.
[[nodiscard]] Result<TrustStore> TrustStoreWithCaAnchors(const std::string& pem, std::string_view what);

}  // namespace mayfly::net
