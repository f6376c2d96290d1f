// `mayfly-ca init`: a new CA hierarchy, its database and a first admin.
#pragma once

#include <string>

#include "mayfly/ca_layout.h"
#include "mayfly/clock.h"
#include "mayfly/config.h"
#include "mayfly/error.h"

namespace mayfly {

// Lifetime of the first admin credential that init writes.
inline constexpr std::chrono::hours kInitialAdminTtl{24 * 90};

struct InitResult {
  CaPaths paths;
  std::string root_fingerprint;       // "sha256:<hex>"
  std::string passphrase_file;
  bool passphrase_generated = false;  // init wrote a new random passphrase
  bool existed = false;               // a shared store held a CA already: nothing was made
};

// Creates, in config.state_dir (made 0700 if missing): the root and
// intermediate CA certificates and their keys encrypted with the passphrase
// (generated into the passphrase file when that file does not exist), the
// database, the root CRL and an admin certificate + key for
// spiffe://<td>/mayfly/admin/admin. Refuses with kAlreadyExists when the
// directory already holds a CA; on any failure removes what it wrote.
// With a PostgreSQL [store] the CA lives in the database: the keys are kept
// there (encrypted, never in files), the certificates and the admin
// credential are written to state_dir as well, and when the database holds
// a CA already nothing is made: `existed` is set with its root fingerprint.
[[nodiscard]] Result<InitResult> InitCa(const CaConfig& config, const Clock& clock);

}  // namespace mayfly
