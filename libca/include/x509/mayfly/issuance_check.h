// The pre-issuance check: every certificate and CRL the CA signs is parsed
// back with OpenSSL's own decoder (not the DER writer that built it) and
// compared with what was authorized before it is stored or handed out.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mayfly/clock.h"
#include "mayfly/crl.h"
#include "mayfly/error.h"
#include "mayfly/identity.h"
#include "mayfly/keys.h"
#include "mayfly/ossl_ptr.h"

namespace mayfly {

// Which kind of object a check was for: the `kind` label of
// mayfly_issuance_check_failures_total.
inline constexpr std::string_view kCheckLeaf = "leaf";
inline constexpr std::string_view kCheckRoot = "root";
inline constexpr std::string_view kCheckIntermediate = "intermediate";
inline constexpr std::string_view kCheckCross = "cross";
inline constexpr std::string_view kCheckCrl = "crl";
inline constexpr std::string_view kCheckOcspResponder = "ocsp_responder";

// What was authorized for one leaf, filled from the same inputs the issuer
// gets. Adding an expectation (say an AIA OCSP URL) is a field here and a
// comparison in CheckLeaf; extensions not expected are refused.
struct ExpectedLeaf {
  const X509* issuer = nullptr;           // signs it; its SKI is the AKI, its subject the issuer name
  std::string spki_der;                   // the CSR's SubjectPublicKeyInfo
  KeyType key_type = KeyType::kEcdsaP256;
  std::string spiffe_id;
  std::vector<std::string> dns;
  std::vector<IpAddress> ips;
  TimePoint now;                          // the issuer's clock when it signed
  std::chrono::seconds backdate{0};
  std::chrono::seconds ttl{0};
  std::string crl_url;                    // empty: no CRL distribution point
  std::string ocsp_url;                   // empty: no authorityInfoAccess
};

// What a check found wrong; never key material.
struct IssuanceCheckFailure {
  std::string kind;      // kCheckLeaf, kCheckCrl, ...
  std::string subject;   // the SPIFFE ID or CA name the object was for
  std::string field;     // e.g. "subjectAltName", "notAfter", "signature"
  std::string expected;
  std::string found;
};

// Each check parses the object and compares it with what was authorized:
// nullopt when it matches, else the first difference found.
using CheckResult = std::optional<IssuanceCheckFailure>;

// The issuer's name constraints, when it has any, must be satisfied too.
[[nodiscard]] CheckResult CheckLeaf(std::string_view der, const ExpectedLeaf& expected);

// What was authorized for a CA certificate (root, intermediate, cross).
struct ExpectedCa {
  std::string_view kind = kCheckIntermediate;
  const X509* issuer = nullptr;       // the signer; for a root, the root itself
  const X509_NAME* subject = nullptr;
  std::string spki_der;               // the CA key's SubjectPublicKeyInfo
  int path_len = 0;
  bool name_constraints = false;      // present (critical) or absent
};
[[nodiscard]] CheckResult CheckCaCert(const X509* cert, const ExpectedCa& expected);

// What was authorized for a delegated OCSP responder certificate: an
// end-entity certificate for OCSP signing only, with id-pkix-ocsp-nocheck.
struct ExpectedOcspResponder {
  const X509* issuer = nullptr;  // the CA it answers for, which signs it
  std::string spki_der;          // the responder key's SubjectPublicKeyInfo
  TimePoint not_after;           // the latest notAfter authorized
};
[[nodiscard]] CheckResult CheckOcspResponderCert(std::string_view der, const ExpectedOcspResponder& expected);

// Parses a CRL back and checks its signature under the issuer's key, its
// issuer name, number, thisUpdate/nextUpdate, and that its entries are
// exactly `spec.revoked` (serials, dates and reasons).
[[nodiscard]] CheckResult CheckCrl(std::string_view der, const X509* issuer, const CrlSpec& spec);

// Told of every failed check in the process (from the thread that ran it)
// before the error is returned: the daemon audits and counts it. Registered
// for the handle's lifetime.
using IssuanceCheckObserver = std::function<void(const IssuanceCheckFailure&)>;
class ScopedIssuanceCheckObserver {
 public:
  explicit ScopedIssuanceCheckObserver(IssuanceCheckObserver observer);
  ~ScopedIssuanceCheckObserver();
  ScopedIssuanceCheckObserver(const ScopedIssuanceCheckObserver&) = delete;
  ScopedIssuanceCheckObserver& operator=(const ScopedIssuanceCheckObserver&) = delete;

 private:
  uint64_t id_;
};

}  // namespace mayfly
