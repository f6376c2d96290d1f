// Certificate signing requests: parsed, self-signature checked, names read.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "mayfly/error.h"
#include "mayfly/identity.h"
#include "mayfly/keys.h"
#include "mayfly/public_key.h"
#include "mayfly/ossl_ptr.h"

namespace mayfly {

// Bounds on what one CSR may carry, so a hostile one costs little.
inline constexpr size_t kMaxCsrDerBytes = 16 * 1024;
inline constexpr size_t kMaxCsrNames = 64;
inline constexpr size_t kMaxUriNameBytes = 2048;
inline constexpr size_t kMaxDnsNameBytes = 253;

// A parsed CSR whose self-signature verified and whose key the policy
// accepts. Only the public key and the requested subjectAltNames are read;
// every other requested extension and the subject are ignored, because the CA
// builds every extension itself. Names are returned as found: deciding
// whether they are well-formed and allowed is the caller's job.
class Csr {
 public:
  // Accepts PEM ("CERTIFICATE REQUEST" or "NEW CERTIFICATE REQUEST") or DER.
  // kInvalidCsr for anything malformed (garbage, truncation, trailing bytes,
  // a bad signature, a weak signature algorithm, too many or oversized
  // names, unsupported name types); kWeakKey for a key outside the policy
  // (an EC point must be 04 || x || y on its curve: the point at infinity
  // and the hybrid form are refused; RSA as ClassifyKey); kInvalidArgument
  // for an EC point in compressed form ("compressed EC points are not
  // accepted; send the uncompressed point"), so each key has one encoding.
  [[nodiscard]] static Result<Csr> Parse(std::string_view pem_or_der);

  KeyType key_type() const { return key_type_; }
  // The request's public key, ready for a leaf (see issuer.h).
  const SubjectPublicKey& public_key() const { return public_key_; }

  const std::vector<std::string>& uri_names() const { return uris_; }
  const std::vector<std::string>& dns_names() const { return dns_; }
  const std::vector<IpAddress>& ip_names() const { return ips_; }

 private:
  Csr() = default;
  // Reads the GeneralNames of a requested subjectAltName into the lists.
  Result<void> ReadNames(std::string_view san);

  SubjectPublicKey public_key_;
  KeyType key_type_ = KeyType::kEcdsaP256;
  std::vector<std::string> uris_;
  std::vector<std::string> dns_;
  std::vector<IpAddress> ips_;
};

// Builds a PEM CSR for `key` naming these SANs (the agent's side; also tests).
[[nodiscard]] Result<std::string> MakeCsrPem(const EVP_PKEY* key,
                                             const std::vector<std::string>& uris,
                                             const std::vector<std::string>& dns,
                                             const std::vector<std::string>& ips);

}  // namespace mayfly
