// A public key as it travels from a CSR (or a generated key) into a leaf.
#pragma once

#include <string>
#include <string_view>

#include "mayfly/error.h"
#include "mayfly/ossl_ptr.h"

namespace mayfly {

struct SubjectPublicKey {
  std::string spki_der;   // the DER SubjectPublicKeyInfo, copied into the leaf
  std::string key_bits;   // its subjectPublicKey BIT STRING content (for the SKI)
};

// The SubjectPublicKeyInfo of a key Mayfly generated (e.g. the first admin
// credential).
[[nodiscard]] Result<SubjectPublicKey> PublicKeyOf(const EVP_PKEY* key);

// The key a DER SubjectPublicKeyInfo holds; kCrypto when it is not one.
[[nodiscard]] Result<OsslPtr<EVP_PKEY>> PublicKeyFromDer(std::string_view spki_der);

// Whether `spki_der` (a DER SubjectPublicKeyInfo) holds the same public key
// as `key`, compared as keys (EVP_PKEY_eq), never as bytes: one EC point has
// an uncompressed and a compressed encoding. Keys of different algorithms
// are different keys. kCrypto when either key cannot be read or the two
// cannot be compared; a caller asking "is this a new key?" must refuse on
// an error, never take it for "different".
[[nodiscard]] Result<bool> SamePublicKey(std::string_view spki_der, const EVP_PKEY* key);

}  // namespace mayfly
