// Certificate encoding helpers: PEM/DER, serials, fingerprints, times.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "mayfly/clock.h"
#include "mayfly/error.h"
#include "mayfly/ossl_ptr.h"

namespace mayfly {

// Wraps DER in PEM armour with the given label ("CERTIFICATE", "X509 CRL").
std::string DerToPem(std::string_view der, std::string_view label);

[[nodiscard]] Result<OsslPtr<X509>> CertFromPem(std::string_view pem);
[[nodiscard]] Result<OsslPtr<X509>> CertFromDer(std::string_view der);
// Every certificate in a PEM text, in order; kInvalidArgument when none.
[[nodiscard]] Result<std::vector<OsslPtr<X509>>> CertsFromPem(std::string_view pem);
[[nodiscard]] Result<std::string> CertToDer(const X509* cert);
[[nodiscard]] Result<std::string> CertToPem(const X509* cert);
[[nodiscard]] Result<OsslPtr<X509>> LoadCertFile(const std::string& path);

[[nodiscard]] Result<OsslPtr<X509_CRL>> CrlFromPem(std::string_view pem);
[[nodiscard]] Result<std::string> CrlToDer(const X509_CRL* crl);

// Lowercase hex without leading zeros ("0" for zero).
std::string SerialHex(const ASN1_INTEGER* serial);
std::string CertSerialHex(const X509* cert);

// "sha256:<64 lowercase hex>" over the certificate's DER.
[[nodiscard]] Result<std::string> CertFingerprint(const X509* cert);
// Lowercase hex of bytes.
std::string HexEncode(std::string_view bytes);
// The SHA-256 digest of `data`: its 32 bytes, or as 64 lowercase hex digits.
std::string Sha256(std::string_view data);
std::string Sha256Hex(std::string_view data);
// The subject key identifier as hex ("" when absent).
std::string SubjectKeyIdHex(const X509* cert);
// A distinguished name as RFC 2253 text ("CN=…,OU=…,O=Mayfly"), for messages.
std::string NameText(const X509_NAME* name);
// The authority key identifier's key id as hex ("" when absent).
std::string AuthorityKeyIdHex(const X509* cert);

// ASN1_TIME to a time point; kInvalidArgument on a malformed time.
[[nodiscard]] Result<TimePoint> Asn1TimeToTimePoint(const ASN1_TIME* t);
TimePoint CertNotBefore(const X509* cert);
TimePoint CertNotAfter(const X509* cert);

// RFC 3339 UTC, second precision: "2026-11-26T16:22:34Z".
std::string FormatRfc3339(TimePoint t);
[[nodiscard]] Result<TimePoint> ParseRfc3339(std::string_view text);

// The URI SAN that holds the certificate's SPIFFE ID; "" when none or several.
std::string CertSpiffeId(const X509* cert);

}  // namespace mayfly
