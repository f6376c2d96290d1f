// `mayfly-ca init`: create a new CA from the configuration.
#include <boost/json.hpp>

#include <iostream>

#include "commands.h"
#include "mayfly/ca_init.h"
#include "mayfly/ca_layout.h"
#include "mayfly/config.h"

namespace mayfly::cli {

int Fail(const std::string& message) {
  std::cerr << "mayfly-ca: " << message << "\n";
  return 1;
}

namespace {

int RunInit(const GlobalOptions& global) {
  auto config = LoadCaConfig(global.config);
  if (!config) return Fail(config.error().message);
  auto result = InitCa(*config, SystemClock::Instance());
  if (!result) return Fail(result.error().message);
  const CaPaths& p = result->paths;
  if (result->existed) {
    // Another instance made the CA in the shared store: this one only serves.
    if (global.json) {
      boost::json::object out{{"trust_domain", config->trust_domain}, {"existed", true},
                              {"ca_fingerprint", result->root_fingerprint}};
      std::cout << boost::json::serialize(out) << "\n";
      return 0;
    }
    std::cout << "The store already holds a Mayfly CA; nothing to do (run `mayfly-ca serve` with the same [store] "
                 "and CA passphrase).\n"
              << "Root fingerprint:\n  " << result->root_fingerprint << "\n";
    return 0;
  }
  if (global.json) {
    boost::json::object out{{"trust_domain", config->trust_domain},
                            {"state_dir", p.state_dir},
                            {"ca_fingerprint", result->root_fingerprint},
                            {"root_cert", p.root_cert},
                            {"intermediate_cert", p.intermediate_cert},
                            {"root_crl", p.root_crl},
                            {"database", p.database},
                            {"admin_cert", p.admin_cert},
                            {"admin_key", p.admin_key},
                            {"passphrase_file", result->passphrase_file},
                            {"passphrase_generated", result->passphrase_generated},
                            {"existed", false}};
    std::cout << boost::json::serialize(out) << "\n";
    return 0;
  }
  // A shared store keeps the keys and every record; state_dir has copies of
  // the public files and the admin credential.
  const StoreBackend backend = StoreOptionsFor(*config).backend;
  const bool shared = backend != StoreBackend::kSqlite;
  const std::string store_name(StoreBackendName(backend));
  std::cout << "Created a Mayfly CA for trust domain " << config->trust_domain << " in "
            << (shared ? "the " + store_name + " store" : p.state_dir) << "\n"
            << "  root certificate          " << p.root_cert << "\n"
            << "  intermediate certificate  " << p.intermediate_cert << "\n"
            << "  keys (encrypted)          "
            << (shared ? "in the " + store_name + " store" : p.root_key + ", " + p.intermediate_key) << "\n"
            << "  root CRL                  " << p.root_crl << "\n"
            << "  database                  " << (shared ? store_name + " ([store] url)" : p.database) << "\n"
            << "  admin credential          " << p.admin_cert << ", " << p.admin_key << "\n"
            << "  key passphrase            " << result->passphrase_file
            << (result->passphrase_generated ? " (generated; keep it safe)" : "") << "\n"
            << "Root fingerprint (pin it in agent.toml as ca_fingerprint):\n  " << result->root_fingerprint << "\n";
  return 0;
}

}  // namespace

void AddInitCommand(CLI::App& app, const GlobalOptions& global, Action& action) {
  CLI::App* init = app.add_subcommand("init", "Create a new CA (root, intermediate, database, first admin)");
  init->callback([&global, &action] { action = [&global] { return RunInit(global); }; });
}

}  // namespace mayfly::cli
