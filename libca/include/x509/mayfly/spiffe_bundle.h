// The trust bundle in the SPIFFE bundle format (a JWKS, SPIFFE Trust Domain
// and Bundle specification): `GET /v1/bundle?format=spiffe`.
#pragma once

#include <openssl/x509.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "mayfly/error.h"

namespace mayfly {

// How often relying parties are told to fetch the bundle again.
inline constexpr std::chrono::seconds kSpiffeRefreshHint{300};

// A published JWT-SVID signing key.
struct JwtAuthority {
  std::string kid;
  const EVP_PKEY* key = nullptr;  // the public key
};

// The JWKS of `roots` (one key per root, "use": "x509-svid", the
// certificate in "x5c") and of `jwt_keys` ("use": "jwt-svid" with their
// "kid"), `sequence` as spiffe_sequence. kInvalidArgument for a key type JWK
// cannot carry.
[[nodiscard]] Result<std::string> SpiffeBundleJson(const std::vector<const X509*>& roots,
                                                   const std::vector<JwtAuthority>& jwt_keys, int64_t sequence);

}  // namespace mayfly
