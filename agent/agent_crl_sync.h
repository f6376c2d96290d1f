// Keeping the CA's CRLs and trust bundle current on disk: conditional GETs,
// signature checks, atomic publication.
#pragma once

#include <string>
#include <vector>

#include "agent_ca_client.h"
#include "agent_config.h"
#include "agent_state.h"
#include "mayfly/error.h"
#include "mayfly/ossl_ptr.h"

namespace mayfly::agent {

// Every CRL in a PEM text, in order (none when it holds none).
std::vector<OsslPtr<X509_CRL>> CrlsFromPem(const std::string& pem);

// Checks that `crl_pem` holds at least one CRL and that every CRL in it is
// signed by one of `issuers` (roots and intermediates) whose subject is the
// CRL's issuer. kCrypto naming the CRL otherwise.
[[nodiscard]] Result<void> VerifyCrls(const std::string& crl_pem, const std::vector<X509*>& issuers);

// The bundle rule: a bundle the CA serves may replace the roots in
// `trusted_pem` only when it holds at least one of them, and, when it drops
// any, still holds the root that the CA's own certificate chain verified to
// on the connection that brought it (`server_root_der`, DER; "" when
// unknown). A root rotation always passes: `ca prepare --root` adds the new
// root beside the old one, and `ca retire` drops the old one only once the
// CA's certificate chains to the new one. kConflict naming the roots
// (SHA-256 fingerprints) otherwise; kInvalidArgument when `fetched_pem`
// holds no certificate.
[[nodiscard]] Result<void> CheckBundleUpdate(const std::string& trusted_pem, const std::string& fetched_pem,
                                             const std::string& server_root_der);

// CRL numbers never go back: each CRL in `fetched_pem` whose issuer (name and
// authority key id) also issued a CRL in `kept_pem` must have a CRL number
// at least as high as the kept one's (equal: the same CRL). kConflict naming
// the issuer and both numbers otherwise (a fetched CRL without a number
// counts as lower than a kept one with a number). Issuers only on one side
// pass (a new intermediate, a retired one).
[[nodiscard]] Result<void> CheckCrlNumbers(const std::string& kept_pem, const std::string& fetched_pem);

struct SyncOutcome {
  bool trust_changed = false;   // the roots in state_dir were replaced
  bool bundle_written = false;  // bundle_path was (re)written: run bundle_on_change
  bool crl_written = false;     // crl_path was (re)written: run crl_on_change
};

// Fetches /v1/bundle (over the verified client, whose server proved it is
// the CA) and /v1/crl?format=pem, each with If-None-Match. The bundle
// becomes the trusted roots when CheckBundleUpdate allows it; the CRLs must
// verify against the roots in `trust_pem` and `intermediates` and pass
// CheckCrlNumbers against the copy kept in state_dir. Keeps copies in
// state_dir and writes bundle_path / crl_path when their content differs.
// `trust_pem` is updated when the roots change. A refused bundle or CRL is
// the error (kConflict): the current roots, the kept CRL and the published
// files stay as they were, and the next refresh fetches both again. Nothing
// is written when a fetch or check fails.
[[nodiscard]] Result<SyncOutcome> SyncCrlAndBundle(CaClient& client, const AgentConfig& config,
                                                   const StatePaths& paths, std::string& trust_pem,
                                                   const std::vector<X509*>& intermediates);

}  // namespace mayfly::agent
