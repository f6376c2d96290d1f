// Deciding whether a certificate the agent holds is still good: its files,
// its names, its renewal time, its revocation.
#pragma once

#include <set>
#include <string>
#include <vector>

#include "mayfly/clock.h"
#include "mayfly/config.h"
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

// "" when `cert` names exactly the workload's SPIFFE ID, DNS names and IPs;
// otherwise what differs.
std::string NameMismatch(const X509* cert, const WorkloadConfig& workload);

// not_before + renew_at x lifetime: when a certificate falls due, unjittered.
TimePoint RenewalTime(const HeldCert& cert, double renew_at);

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
// roots in `trust_pem` for TLS client and server use, at the current time.
[[nodiscard]] Result<void> VerifyIssued(const std::string& cert_pem, const std::string& trust_pem);

}  // namespace mayfly::agent
