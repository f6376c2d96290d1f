// mayfly-ca: the CA daemon and its admin commands.
#include <CLI/CLI.hpp>

#include <iostream>

#include "commands.h"

int main(int argc, char** argv) {
  CLI::App app{"mayfly-ca: a certificate authority for machines"};
  app.require_subcommand(1);
  mayfly::cli::GlobalOptions global;
  app.add_option("--config", global.config, "CA configuration file")->capture_default_str();
  app.add_flag("--json", global.json, "Machine-readable output (the API's field names)");

  mayfly::cli::Action action;
  mayfly::cli::AddInitCommand(app, global, action);
  // Global options may also follow the subcommand name.
  for (CLI::App* sub : app.get_subcommands({})) sub->fallthrough();

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  return action ? action() : 0;
}
