// A verification store of trust anchors read from PEM (internal to libnet).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "mayfly/error.h"
#include "mayfly/ossl_ptr.h"

namespace mayfly::net {

struct TrustStore {
  OsslPtr<X509_STORE> store;        // every certificate of the PEM, as an anchor
  std::vector<OsslPtr<X509>> certs;  // the same certificates, in PEM order
};

// kCrypto naming `what` ("TLS trust", ...) when the PEM does not parse or the
// store cannot be built.
[[nodiscard]] Result<TrustStore> TrustStoreFromPem(const std::string& pem, std::string_view what);

}  // namespace mayfly::net
