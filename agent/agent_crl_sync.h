// Keeping the CA's CRLs and trust bundle current on disk: conditional GETs,
// signature checks, atomic publication.
#pragma once

#include <string>
#include <vector>

#include "agent_ca_client.h"
#include "agent_state.h"
#include "mayfly/config.h"
#include "mayfly/error.h"
#include "mayfly/ossl_ptr.h"

namespace mayfly::agent {

// Checks that `crl_pem` holds at least one CRL and that every CRL in it is
// signed by one of `issuers` (roots and intermediates) whose subject is the
// CRL's issuer. kCrypto naming the CRL otherwise.
[[nodiscard]] Result<void> VerifyCrls(const std::string& crl_pem, const std::vector<X509*>& issuers);

struct SyncOutcome {
  bool trust_changed = false;   // the roots in state_dir were replaced
  bool bundle_written = false;  // bundle_path was (re)written: run bundle_on_change
  bool crl_written = false;     // crl_path was (re)written: run crl_on_change
};

// Fetches /v1/bundle (over the verified client: the new roots become the
// trusted ones) and /v1/crl?format=pem, each with If-None-Match; verifies the
// CRLs against the roots in `trust_pem` and `intermediates`; keeps copies in
// state_dir and writes bundle_path / crl_path when their content differs.
// `trust_pem` is updated when the roots change. Nothing is written when a
// fetch or check fails.
[[nodiscard]] Result<SyncOutcome> SyncCrlAndBundle(CaClient& client, const AgentConfig& config,
                                                   const StatePaths& paths, std::string& trust_pem,
                                                   const std::vector<X509*>& intermediates);

}  // namespace mayfly::agent
