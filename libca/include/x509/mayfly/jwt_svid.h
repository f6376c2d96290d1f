// JWT-SVIDs (SPIFFE JWT-SVID specification): compact JWS tokens naming a
// SPIFFE ID, for services that authenticate callers by a bearer token
// rather than mutual TLS.
#pragma once

#include <openssl/evp.h>

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "mayfly/error.h"
#include "mayfly/ossl_ptr.h"

namespace mayfly {

struct JwtSvidClaims {
  std::string subject;                 // the SPIFFE ID ("sub")
  std::vector<std::string> audience;   // "aud", at least one
  int64_t issued_at = 0;               // "iat", Unix seconds
  int64_t expires_at = 0;              // "exp"
};

// A new JWT signing key. Always EC P-256, signing ES256, whatever the X.509
// CA's key type: every JWT-SVID validator must accept ES256, and the JOSE
// algorithms list neither Ed25519 under the SPIFFE profile nor a choice
// that would gain anything here.
[[nodiscard]] Result<OsslPtr<EVP_PKEY>> GenerateJwtKey();
// The key's "kid": the first 32 hex digits of the SHA-256 of its
// SubjectPublicKeyInfo, stable across instances that load the same key.
[[nodiscard]] Result<std::string> JwtKeyId(const EVP_PKEY* key);

// `claims` signed by `key` (a P-256 key: ES256) with `kid` in the header.
// kInvalidArgument when claims has no subject or audience.
[[nodiscard]] Result<std::string> SignJwtSvid(const EVP_PKEY* key, std::string_view kid, const JwtSvidClaims& claims);

// Checks a token as a JWT-SVID relying party must: three base64url parts,
// alg ES256 or ES384 and a kid naming one of `keys`, a valid signature by
// that key, "sub" a SPIFFE ID, "exp" after `now`, and `audience` among
// "aud". kUnauthenticated with the reason otherwise.
// The JWT authorities of a SPIFFE bundle: its keys with "use" "jwt-svid".
struct JwtAuthorities {
  std::map<std::string, OsslPtr<EVP_PKEY>, std::less<>> keys;  // by kid
  std::string jwks_json;  // {"keys": [...]}, those keys only, as the bundle has them

  // `keys` as VerifyJwtSvid takes them.
  std::map<std::string, const EVP_PKEY*, std::less<>> View() const;
};
// kInvalidArgument when the bundle is not a JWKS or a jwt-svid key has no
// kid or cannot be read. Keys of other uses are left out unread.
[[nodiscard]] Result<JwtAuthorities> JwtAuthoritiesFromBundle(std::string_view spiffe_bundle_json);

[[nodiscard]] Result<JwtSvidClaims> VerifyJwtSvid(std::string_view token, std::string_view audience,
                                                   const std::map<std::string, const EVP_PKEY*, std::less<>>& keys,
                                                   int64_t now);

}  // namespace mayfly
