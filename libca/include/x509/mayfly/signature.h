// Signatures over a message with a certificate's key pair: how a holder
// proves possession of its key outside a TLS handshake.
#pragma once

#include <string>
#include <string_view>

#include "mayfly/error.h"
#include "mayfly/ossl_ptr.h"

namespace mayfly {

// Signs `message` with `key` (a private key), hashing with the digest that
// fits it (SigningDigest: none for Ed25519). Returns the raw signature
// (DER for ECDSA). kCrypto when OpenSSL fails.
[[nodiscard]] Result<std::string> SignMessage(const EVP_PKEY* key, std::string_view message);

// True when `signature` is SignMessage's over `message` by the private half
// of `key` (a public key), false for any other bytes. kCrypto only when the
// check itself cannot be made.
[[nodiscard]] Result<bool> VerifyMessage(const EVP_PKEY* key, std::string_view message, std::string_view signature);

// Standard base64 with padding, the form DecodeBase64 (ocsp.h) reads.
std::string EncodeBase64(std::string_view bytes);

}  // namespace mayfly
