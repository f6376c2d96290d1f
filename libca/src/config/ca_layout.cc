// File layout of a CA's state directory.
#include "mayfly/ca_layout.h"

#include <cstdlib>

namespace mayfly {

CaPaths CaPaths::For(const std::string& state_dir) {
  auto in = [&](const char* name) { return state_dir + "/" + name; };
  return CaPaths{state_dir,
                 in("root.pem"),
                 in("root.key"),
                 in("intermediate.pem"),
                 in("intermediate.key"),
                 in("root.crl.pem"),
                 in("ca.db"),
                 in("admin.pem"),
                 in("admin.key")};
}

std::string PassphraseFilePath(const CaConfig& config) {
  if (!config.ca.key_passphrase_file.empty()) return config.ca.key_passphrase_file;
  if (const char* creds = std::getenv("CREDENTIALS_DIRECTORY"); creds != nullptr && *creds != '\0') {
    return std::string(creds) + "/ca-passphrase";
  }
  return config.state_dir + "/passphrase";
}

StoreOptions StoreOptionsFor(const CaConfig& config) {
  // The loader accepts only the backends ParseStoreBackend knows.
  const StoreBackend backend = ParseStoreBackend(config.store.backend).value_or(StoreBackend::kSqlite);
  return StoreOptions{.backend = backend,
                      .sqlite_path = CaPaths::For(config.state_dir).database,
                      .url = config.store.url,
                      .password_file = config.store.password_file};
}

NameConstraintsSpec NameConstraintsFor(const CaConfig& config) {
  return {config.ca.name_constraints, config.trust_domain, config.ca.permitted_dns, config.ca.permitted_ips};
}

}  // namespace mayfly
