// RFC 6960 OCSP without sockets: parsing a request, naming an issuer the way
// a CertID does, the delegated responder certificate's profile, and signed
// and unsigned responses.
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "mayfly/clock.h"
#include "mayfly/error.h"
#include "mayfly/ossl_ptr.h"
#include "mayfly/store_records.h"

namespace mayfly {

// The hash a CertID names its issuer with. openssl and nginx send SHA-1.
enum class OcspHash { kSha1, kSha256 };
std::string_view OcspHashName(OcspHash hash);  // "sha1", "sha256"

// The one certificate a request asks about.
struct OcspQuery {
  std::string cert_id_der;   // the CertID as sent, echoed in the response
  OcspHash hash = OcspHash::kSha1;
  std::string name_hash;     // issuerNameHash (raw bytes)
  std::string key_hash;      // issuerKeyHash (raw bytes)
  std::string serial;        // lowercase hex, as the store keeps serials
  bool has_nonce = false;    // the request carried a nonce extension
};

// Parses a DER OCSPRequest. kInvalidArgument (a malformedRequest answer)
// for bytes that are not one, trailing bytes, no CertID, more than one
// CertID (Mayfly answers one certificate per request, as openssl and nginx
// ask), a hash other than SHA-1 or SHA-256, or a negative serial. A request
// signature is ignored: anyone may ask.
[[nodiscard]] Result<OcspQuery> ParseOcspRequest(std::string_view der);

// Standard base64 (padding optional) to bytes: the path segment of
// GET /ocsp/{request} once percent-decoded. kInvalidArgument otherwise.
[[nodiscard]] Result<std::string> DecodeBase64(std::string_view text);

// How CertIDs name one CA certificate: hashes of its subject name and of its
// public key's BIT STRING, for each supported hash.
struct OcspIssuerHashes {
  std::string sha1_name, sha1_key, sha256_name, sha256_key;

  bool Matches(const OcspQuery& query) const;
};
[[nodiscard]] Result<OcspIssuerHashes> HashOcspIssuer(const X509* issuer);

// A delegated OCSP responder certificate for `issuer`, signed with
// `issuer_key`, for `responder_key`: CA:FALSE (critical), keyUsage
// digitalSignature (critical), EKU id-kp-OCSPSigning, id-pkix-ocsp-nocheck,
// SKI, AKI; subject O=Mayfly, CN="Mayfly OCSP responder"; 128 random serial
// bits; notBefore = now - backdate, notAfter = now + ttl cut to the issuer's
// notAfter. Read back and checked before it is returned (CheckOcspResponderCert):
// kInternal, and the failure reported, when it differs.
[[nodiscard]] Result<OsslPtr<X509>> IssueOcspResponderCert(const X509* issuer, EVP_PKEY* issuer_key,
                                                          EVP_PKEY* responder_key, std::chrono::seconds ttl,
                                                          std::chrono::seconds backdate, TimePoint now);

// What a response says of the certificate.
struct OcspStatus {
  enum Kind { kGood, kRevoked, kUnknown } kind = kUnknown;
  TimePoint revoked_at{};
  RevocationReason reason = RevocationReason::kUnspecified;
};

// A successful response for `query` signed by `responder` (its key id
// names it), carrying `responder` and `chain` (the issuer, so a client that
// trusts only the root can verify) and no nonce. DER.
[[nodiscard]] Result<std::string> BuildOcspResponse(const OcspQuery& query, const OcspStatus& status,
                                                    TimePoint this_update, TimePoint next_update,
                                                    X509* responder, EVP_PKEY* responder_key,
                                                    const std::vector<X509*>& chain);

// An unsigned error response, DER: OCSP_RESPONSE_STATUS_MALFORMEDREQUEST,
// _UNAUTHORIZED, _TRYLATER or _INTERNALERROR.
[[nodiscard]] Result<std::string> OcspErrorResponse(int response_status);

}  // namespace mayfly
