// Signing DER that libca assembles itself (leaves, CRLs): the signing
// context and AlgorithmIdentifier prepared once per CA key, one signature
// per structure (internal to libca).
#pragma once

#include <string>
#include <string_view>

#include "mayfly/error.h"
#include "mayfly/ossl_ptr.h"

namespace mayfly {

class DerSigner {
 public:
  // The digest that fits `key` (SigningDigest); the key must outlive the signer.
  [[nodiscard]] static Result<DerSigner> Create(const EVP_PKEY* key);

  // The AlgorithmIdentifier DER the signatures carry (it goes inside the
  // to-be-signed structure too).
  const std::string& algorithm() const { return algorithm_; }

  // SEQUENCE { tbs, algorithm, BIT STRING signature-over-tbs }: a signed
  // certificate or CRL. Thread-safe. `what` names it in errors.
  [[nodiscard]] Result<std::string> Sign(std::string tbs, std::string_view what) const;

 private:
  DerSigner() = default;
  OsslPtr<EVP_MD_CTX> template_;
  std::string algorithm_;
  size_t max_signature_ = 0;
};

}  // namespace mayfly
