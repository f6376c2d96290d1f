// mayfly-agent: keeps this host's certificates, CRL and trust bundle fresh.
#include <sys/prctl.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "agent_commands.h"

int main(int argc, char** argv) {
  // Keys sit in this process's memory: no core dump, and no /proc/<pid>/mem
  // or ptrace for other processes of the same user.
  if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) std::perror("prctl(PR_SET_DUMPABLE, 0)");
  CLI::App app{"mayfly-agent: keeps this host's certificates fresh"};
  app.require_subcommand(1);
  std::string config = "/etc/mayfly/agent.toml";
  bool json = false;
  app.add_option("--config", config, "Agent configuration file")->capture_default_str();
  app.add_flag("--json", json, "Machine-readable output (status)");
  CLI::App* once = app.add_subcommand("once", "Bring every certificate, the CRL and the bundle up to date, then exit");
  CLI::App* run = app.add_subcommand("run", "Keep everything up to date until SIGTERM (SIGHUP re-reads the config)");
  CLI::App* status = app.add_subcommand("status", "Show each certificate, its renewal time and last error, and each CA server");
  for (CLI::App* sub : {once, run, status}) sub->fallthrough();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }

  // Logs go to stderr (journald keeps them under systemd); stdout is for output.
  spdlog::set_default_logger(spdlog::stderr_color_mt("mayfly-agent"));
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %l %v", spdlog::pattern_time_type::utc);
  if (*once) return mayfly::agent::OnceCommand(config);
  if (*run) return mayfly::agent::RunCommand(config);
  return mayfly::agent::StatusCommand(config, json);
}
