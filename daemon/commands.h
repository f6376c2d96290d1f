// The mayfly-ca subcommands, each registered on the command line by one
// function and run after parsing.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>
#include <string>

namespace mayfly::cli {

// Options every subcommand accepts (before or after the subcommand name).
struct GlobalOptions {
  std::string config = "/etc/mayfly/ca.toml";
  bool json = false;
};

// What a registered subcommand runs: returns the process exit code.
using Action = std::function<int()>;

void AddInitCommand(CLI::App& app, const GlobalOptions& global, Action& action);

// Prints "mayfly-ca: <message>" on stderr and returns 1: every failing
// command ends with one clear line.
int Fail(const std::string& message);

}  // namespace mayfly::cli
