// `mayfly-ca serve`: runs the CA service (daemon/service/) in this process,
// registered beside the admin subcommands of commands.h.
#pragma once

#include <CLI/CLI.hpp>

#include "commands.h"

namespace mayfly::cli {

void AddServeCommand(CLI::App& app, const GlobalOptions& global, Action& action);

}  // namespace mayfly::cli
