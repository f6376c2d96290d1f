// A public key as it travels from a CSR (or a generated key) into a leaf.
#pragma once

#include <string>

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

}  // namespace mayfly
