// The CA hierarchy's own certificates: the root and its intermediates.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "mayfly/clock.h"
#include "mayfly/error.h"
#include "mayfly/ossl_ptr.h"

namespace mayfly {

// Self-signed root: CA:TRUE pathlen:2 (critical: room for a newer root's
// cross certificate above an intermediate), keyUsage keyCertSign +
// cRLSign (critical), SKI, AKI. Subject "O=Mayfly, OU=<trust domain, cut to 64>,
// CN=Mayfly Root CA <first 8 hex of SKI>" so successive roots have distinct
// names.
[[nodiscard]] Result<OsslPtr<X509>> MakeRootCert(const EVP_PKEY* key, const std::string& trust_domain,
                                                 std::chrono::seconds ttl, const Clock& clock);

struct NameConstraintsSpec {
  bool enabled = true;
  std::string trust_domain;                 // permitted URI host
  std::vector<std::string> permitted_dns;   // "internal" or ".internal"
  std::vector<std::string> permitted_ips;   // CIDRs
};

// Intermediate signed by the root: CA:TRUE pathlen:0 (critical), keyUsage
// keyCertSign + cRLSign (critical), SKI, AKI, and when enabled name
// constraints (critical) permitting the trust domain's URIs and the configured
// DNS/IP ranges. notAfter never beyond the root's.
[[nodiscard]] Result<OsslPtr<X509>> MakeIntermediateCert(const EVP_PKEY* key, const X509* root,
                                                         const EVP_PKEY* root_key,
                                                         const NameConstraintsSpec& constraints,
                                                         std::chrono::seconds ttl, const Clock& clock);

// A cross certificate: `new_root`'s subject and key certified by `old_root`
// (CA:TRUE pathlen:1, key usages, key identifiers, name constraints when
// enabled), valid until the earlier of the two roots' notAfter. Sent after
// the intermediate with leaves, it lets trust stores that hold only the old
// root verify chains of the new one.
[[nodiscard]] Result<OsslPtr<X509>> MakeCrossCert(const X509* new_root, const X509* old_root,
                                                  const EVP_PKEY* old_root_key,
                                                  const NameConstraintsSpec& constraints, const Clock& clock);

// Signs `cert` with `key` using the digest that fits the key (SHA-256, SHA-384
// for P-384, none for Ed25519).
[[nodiscard]] Result<void> SignWithKey(X509* cert, const EVP_PKEY* key);

}  // namespace mayfly
