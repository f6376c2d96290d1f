// The mayfly-agent subcommands: once, run, status.
#pragma once

#include <string>

namespace mayfly::agent {

// Each returns the process exit status; failures print one line on stderr.
int OnceCommand(const std::string& config_path);
int RunCommand(const std::string& config_path);
int StatusCommand(const std::string& config_path, bool json);

}  // namespace mayfly::agent
