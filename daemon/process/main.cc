// mayfly-ca: the CA daemon and its admin commands.
#include <sys/prctl.h>

#include <CLI/CLI.hpp>
#include <cstdio>

#include <iostream>

#include "commands.h"
#include "serve_command.h"

int main(int argc, char** argv) {
  // Keys sit in this process's memory: no core dump, and no /proc/<pid>/mem
  // or ptrace for other processes of the same user.
  if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) std::perror("prctl(PR_SET_DUMPABLE, 0)");
  CLI::App app{"mayfly-ca: a certificate authority for machines"};
  app.require_subcommand(1);
  mayfly::cli::GlobalOptions global;
  app.add_option("--config", global.config, "CA configuration file")->capture_default_str();
  app.add_flag("--json", global.json, "Machine-readable output (the API's field names)");
  app.add_option("--socket", global.socket, "Admin socket of the running daemon (default: admin_socket from --config)");
  app.add_option("--server", global.server, "Reach a daemon over mTLS instead, e.g. https://ca.internal:8443");
  app.add_option("--cert", global.cert, "Admin certificate (PEM, with chain) for --server");
  app.add_option("--key", global.key, "Admin private key for --server");
  app.add_option("--ca-bundle", global.ca_bundle, "Root certificate(s) to trust for --server");

  mayfly::cli::Action action;
  mayfly::cli::AddInitCommand(app, global, action);
  mayfly::cli::AddServeCommand(app, global, action);
  mayfly::cli::AddAdminCommands(app, global, action);
  mayfly::cli::AddAdminRoleCommands(app, global, action);
  mayfly::cli::AddAnomalyCommands(app, global, action);
  mayfly::cli::AddCaCommands(app, global, action);
  mayfly::cli::AddStoreCommands(app, global, action);
  // Global options may also follow the subcommand names.
  for (CLI::App* sub : app.get_subcommands({})) {
    sub->fallthrough();
    for (CLI::App* nested : sub->get_subcommands({})) nested->fallthrough();
  }

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  return action ? action() : 0;
}
