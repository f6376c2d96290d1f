// Deciding whether a certificate the agent holds is still good: its files,
// its names, its renewal time, its revocation.
#pragma once

#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "agent_config.h"
#include "mayfly/clock.h"
#include "mayfly/error.h"
#include "mayfly/ossl_ptr.h"

namespace mayfly::agent {

// A certificate (and its chain) whose key file holds the matching key.
struct HeldCert {
  OsslPtr<X509> leaf;
  std::string chain_pem;  // leaf + chain, as on disk
  std::string serial;
  std::string spiffe_id;
  TimePoint not_before;
  TimePoint not_after;
};

// Loads cert (leaf + chain PEM) and key and checks they form a pair. The
// error says what is wrong (missing, unreadable, not a pair) in words for
// the log.
[[nodiscard]] Result<HeldCert> LoadHeldPair(const std::string& cert_path, const std::string& key_path);
// The same for a chain and key in memory; `what` names them in errors.
[[nodiscard]] Result<HeldCert> HeldFromPem(const std::string& chain_pem, const EVP_PKEY* key, const std::string& what);

// The names a certificate must carry, exactly: one URI SAN, these DNS names
// and these IP addresses (compared normalised: case, IP spelling).
struct ExpectedNames {
  std::string spiffe_id;
  std::vector<std::string> dns;
  std::vector<std::string> ips;
};
ExpectedNames NamesOf(const WorkloadConfig& workload);

// "" when `cert` names exactly `want`; otherwise what differs.
std::string NameMismatch(const X509* cert, const ExpectedNames& want);

// not_before + renew_at x lifetime: when a certificate falls due, unjittered.
TimePoint RenewalTime(const HeldCert& cert, double renew_at);

// `renew` (RenewalTime) moved by +-10% of the time left from `now`, never
// past not_after, so many certificates issued at once do not all renew at
// once. `renew` itself when it is already past.
TimePoint JitteredDue(const HeldCert& cert, TimePoint renew, TimePoint now, std::mt19937_64& rng);

// Lowercase hex serials listed in every CRL of a PEM text (unparseable CRLs
// are skipped: only verified CRLs reach this).
std::set<std::string> RevokedSerials(const std::string& crl_pem);

// "" when `cert`'s chain still verifies against `trust_pem` and no CA in it
// is listed in `revoked`; otherwise why it must be replaced now (a CA
// rotation retired its root, or revoked its intermediate).
std::string ChainProblem(const HeldCert& cert, const std::string& trust_pem, const std::set<std::string>& revoked);

// The intermediates (every certificate after the first) of a leaf+chain PEM.
std::vector<OsslPtr<X509>> ChainOf(const std::string& chain_pem);

}  // namespace mayfly::agent

namespace mayfly::agent {

// A fresh key of `key_type` and a PEM CSR for it naming these SANs: the
// first step of every enrollment, renewal and signing.
struct KeyAndCsr {
  OsslPtr<EVP_PKEY> key;
  std::string csr;
};
[[nodiscard]] Result<KeyAndCsr> NewKeyAndCsr(const std::string& key_type, const std::vector<std::string>& uris,
                                             const std::vector<std::string>& dns,
                                             const std::vector<std::string>& ips);

// Checks that the leaf of `cert_pem` (leaf + chain) chains to one of the
// roots in `trust_pem` through the intermediates after it, with OpenSSL's
// strict checks, at `at` (default: the current time).
[[nodiscard]] Result<void> VerifyIssued(const std::string& cert_pem, const std::string& trust_pem,
                                        std::optional<TimePoint> at = std::nullopt);

// How far ahead of this host's clock a new certificate's notBefore may be.
inline constexpr auto kClockSkew = std::chrono::minutes(5);

// Checks an answer of /v1/enroll, /v1/renew or /v1/sign (leaf + chain PEM)
// before anything of it is written or run: the leaf holds the public key of
// `key` (the one the CSR carried), names exactly `want`, is valid (notBefore
// <= now + kClockSkew, notAfter > now) and chains through the answer's
// intermediates to a root in `trust_pem`. kConflict (a wrong key, names or
// validity) or kCrypto (unparseable, or the chain does not verify), with a
// message starting "refusing the CA's answer: " and saying what differs.
[[nodiscard]] Result<void> CheckAnswer(const std::string& chain_pem, const EVP_PKEY* key,
                                       const ExpectedNames& want, const std::string& trust_pem, TimePoint now);

}  // namespace mayfly::agent
