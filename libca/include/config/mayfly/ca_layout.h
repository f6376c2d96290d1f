// Where a CA keeps its files inside state_dir.
#pragma once

#include <string>

#include "mayfly/ca_certs.h"
#include "mayfly/config.h"
#include "mayfly/store.h"

namespace mayfly {

struct CaPaths {
  std::string state_dir;
  std::string root_cert;          // root.pem (public; also the trust bundle)
  std::string root_key;           // root.key, encrypted PKCS#8, 0600
  std::string intermediate_cert;  // intermediate.pem
  std::string intermediate_key;   // intermediate.key, encrypted PKCS#8, 0600
  std::string root_crl;           // root.crl.pem, the long-lived root CRL
  std::string database;           // ca.db (+ -wal, -shm), 0600
  std::string admin_cert;         // admin.pem, the first admin credential
  std::string admin_key;          // admin.key, unencrypted, 0600

  static CaPaths For(const std::string& state_dir);
};

// The passphrase file for the CA keys: [ca] key_passphrase_file when set,
// else $CREDENTIALS_DIRECTORY/ca-passphrase under systemd, else
// <state_dir>/passphrase.
std::string PassphraseFilePath(const CaConfig& config);

// What OpenStore takes for the configured [store]: the SQLite database in
// state_dir, or the PostgreSQL URL and password file.
StoreOptions StoreOptionsFor(const CaConfig& config);

// The intermediate's name constraints: [ca] name_constraints, permitted_dns,
// permitted_ips and the trust domain.
NameConstraintsSpec NameConstraintsFor(const CaConfig& config);

}  // namespace mayfly
