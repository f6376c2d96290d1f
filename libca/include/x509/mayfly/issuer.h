// Signs leaf certificates with the profile docs/pki.md describes.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "mayfly/clock.h"
#include "mayfly/error.h"
#include "mayfly/identity.h"
#include "mayfly/keys.h"
#include "mayfly/ossl_ptr.h"
#include "mayfly/public_key.h"

namespace mayfly {

struct IssuerOptions {
  // notBefore is set this far in the past to absorb clock skew.
  std::chrono::seconds backdate = std::chrono::minutes(1);
  // CRL distribution point URL put in every leaf; empty: none.
  std::string crl_url;
  // OCSP responder URL put in every leaf's Authority Information Access
  // (id-ad-ocsp); empty: none.
  std::string ocsp_url;
};

// What goes into one leaf. Names must already be checked and authorized: the
// issuer signs what it is given.
struct LeafSpec {
  const SubjectPublicKey* public_key = nullptr;  // e.g. &Csr::public_key()
  KeyType key_type = KeyType::kEcdsaP256;   // RSA leaves also get keyEncipherment
  std::string spiffe_id;                    // the one URI SAN
  std::vector<std::string> dns;
  std::vector<IpAddress> ips;
  std::chrono::seconds ttl{0};              // > 0; cut to the issuer's notAfter
};

struct IssuedCert {
  std::string der;
  std::string serial;      // lowercase hex
  TimePoint not_before;
  TimePoint not_after;
  std::string Pem() const;
};

// An issuing CA: its certificate and key, and everything constant about the
// leaves it signs, prepared once. Issue() is thread-safe.
class Issuer {
 public:
  [[nodiscard]] static Result<std::unique_ptr<Issuer>> Create(OsslPtr<X509> cert,
                                                              OsslPtr<EVP_PKEY> key,
                                                              IssuerOptions options,
                                                              const Clock& clock);
  ~Issuer();

  // Leaf extensions: basicConstraints CA:FALSE (critical), keyUsage
  // digitalSignature (critical; + keyEncipherment for RSA), EKU serverAuth +
  // clientAuth, SKI, AKI, SAN (the SPIFFE ID, DNS names, IPs), CRL DP and AIA
  // OCSP when configured. Serial: 128 random bits. Subject: O=Mayfly, plus CN = the
  // first DNS name when there is one of at most 64 characters.
  [[nodiscard]] Result<IssuedCert> Issue(const LeafSpec& spec) const;

  const X509* cert() const { return cert_.get(); }
  const EVP_PKEY* key() const { return key_.get(); }
  // Hex subject key identifier: names this issuer in the store.
  const std::string& id() const { return id_; }
  TimePoint not_after() const { return not_after_; }

 private:
  struct Prepared;
  Issuer(OsslPtr<X509> cert, OsslPtr<EVP_PKEY> key, IssuerOptions options, const Clock& clock);

  OsslPtr<X509> cert_;
  OsslPtr<EVP_PKEY> key_;
  IssuerOptions options_;
  const Clock& clock_;
  std::string id_;
  TimePoint not_after_;
  std::unique_ptr<Prepared> prepared_;
};

}  // namespace mayfly
