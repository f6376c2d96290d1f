// Public keys as JSON Web Keys (RFC 7517, 7518) and the base64 forms JOSE uses.
#pragma once

#include <openssl/evp.h>

#include <boost/json/object.hpp>
#include <string>
#include <string_view>

#include "mayfly/error.h"
#include "mayfly/ossl_ptr.h"

namespace mayfly {

// Standard base64 with padding (x5c members, RFC 7517 section 4.7).
std::string Base64(std::string_view bytes);
// RFC 7515 appendix C: base64url without padding.
std::string Base64Url(std::string_view bytes);
// The inverse of Base64Url; kInvalidArgument for anything else.
[[nodiscard]] Result<std::string> DecodeBase64Url(std::string_view text);

// The public half of `key` as JWK members: kty and its parameters (EC P-256
// and P-384, RSA, Ed25519). kInvalidArgument for a key JWK cannot carry;
// `what` names the key in messages ("a root").
[[nodiscard]] Result<boost::json::object> PublicJwk(const EVP_PKEY* key, std::string_view what);
// The inverse for EC keys (P-256, P-384), the only JWT keys Mayfly makes or
// accepts. kInvalidArgument naming what is wrong with the JWK.
[[nodiscard]] Result<OsslPtr<EVP_PKEY>> PublicKeyFromJwk(const boost::json::object& jwk);

}  // namespace mayfly
