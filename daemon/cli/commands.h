// The mayfly-ca admin subcommands, each registered on the command line by one
// function and run after parsing. `serve` is the process's own
// (serve_command.h in daemon/process/), on the same GlobalOptions and Action.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>
#include <string>

namespace mayfly::cli {

// Options every subcommand accepts (before or after the subcommand name).
struct GlobalOptions {
  std::string config = "/etc/mayfly/ca.toml";
  bool json = false;
  // How admin commands reach the daemon: the admin socket (from the config
  // or --socket), or --server with an admin certificate.
  std::string socket;
  std::string server;
  std::string cert;
  std::string key;
  std::string ca_bundle;  // trust for --server; default <state_dir>/root.pem
};

// What a registered subcommand runs: returns the process exit code.
using Action = std::function<int()>;

void AddInitCommand(CLI::App& app, const GlobalOptions& global, Action& action);
// token, entry, revoke, certs, audit, crl: clients of the admin API.
void AddAdminCommands(CLI::App& app, const GlobalOptions& global, Action& action);
// admin create | list | revoke: admin credentials and roles.
void AddAdminRoleCommands(CLI::App& app, const GlobalOptions& global, Action& action);

// anomalies, node unban: the anomaly watch's findings and quarantines.
void AddAnomalyCommands(CLI::App& app, const GlobalOptions& global, Action& action);

// ca status | prepare | activate | retire | rotate: CA rotation.
void AddCaCommands(CLI::App& app, const GlobalOptions& global, Action& action);

// store migrate: copy the SQLite store into PostgreSQL.
void AddStoreCommands(CLI::App& app, const GlobalOptions& global, Action& action);

// Prints "mayfly-ca: <message>" on stderr and returns 1: every failing
// command ends with one clear line.
int Fail(const std::string& message);

}  // namespace mayfly::cli
