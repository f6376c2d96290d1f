// once, run (timers and signals on one io_context, each pass in a child
// process, the Workload API in a process of its own) and status.
#include "agent_commands.h"

#include <spdlog/spdlog.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <csignal>
#include <cstdio>
#include <functional>
#include <iostream>
#include <memory>
#include <optional>

#include "agent.h"
#include "agent_pass_child.h"
#include "agent_state.h"
#include "workload_api_process.h"
#include "mayfly/x509_util.h"

namespace mayfly::agent {

namespace asio = boost::asio;

namespace {

void Fail(const std::string& line) { std::fprintf(stderr, "mayfly-agent: %s\n", line.c_str()); }

std::string Summary(const std::vector<std::string>& errors) {
  std::string line = errors.front();
  if (errors.size() > 1) line += " (and " + std::to_string(errors.size() - 1) + " more; see the log above)";
  return line;
}

// Arms `timer` for a wall-clock time (certificate times are wall-clock; the
// wait itself runs on the steady clock).
void ArmAt(asio::steady_timer& timer, TimePoint when) {
  auto wait = std::max(when - SystemClock::Instance().Now(), TimePoint::duration::zero());
  timer.expires_after(std::chrono::duration_cast<asio::steady_timer::duration>(wait));
}

}  // namespace

int OnceCommand(const std::string& config_path) {
  auto config = LoadAgentConfig(config_path);
  if (!config) return Fail(config.error().message), 2;
  Agent agent(std::move(*config), Mode::kOnce, SystemClock::Instance());
  PassResult result = agent.RunPass();
  if (!result.errors.empty()) return Fail(Summary(result.errors)), 1;
  return 0;
}

int RunCommand(const std::string& config_path) {
  auto config = LoadAgentConfig(config_path);
  if (!config) return Fail(config.error().message), 2;
  asio::io_context ioc;
  // Before anything else, so a bad socket path stops `run` here.
  std::unique_ptr<WorkloadApiProcess> workload_api;
  if (!config->workload_api_socket.empty()) {
    auto opened = WorkloadApiProcess::Open(ioc, *config);
    if (!opened) return Fail(opened.error().message), 2;
    workload_api = std::move(*opened);
  }
  Agent agent(*config, Mode::kRun, SystemClock::Instance());
  asio::steady_timer timer(ioc);
  asio::signal_set stop(ioc, SIGTERM, SIGINT);
  asio::signal_set reload(ioc, SIGHUP);

  // Each pass runs in a child process (agent_pass_child.h); a SIGHUP during
  // a pass takes effect when it ends, with a fresh pass right away.
  PassChild child(ioc, agent);
  std::optional<AgentConfig> pending;
  std::function<void()> pass = [&] {
    child.Start([&](const PassResult& result) {
      if (pending) {
        agent.Reload(std::move(*pending));
        pending.reset();
        return pass();
      }
      if (!result.errors.empty()) spdlog::warn("{} problem(s) this pass; retrying at {}", result.errors.size(),
                                               FormatRfc3339(result.next_wake));
      ArmAt(timer, result.next_wake);
      timer.async_wait([&](boost::system::error_code ec) {
        if (!ec) pass();
      });
    });
  };
  std::function<void()> wait_reload = [&] {
    reload.async_wait([&](boost::system::error_code ec, int) {
      if (ec) return;
      auto fresh = LoadAgentConfig(config_path);
      if (!fresh) {
        spdlog::error("SIGHUP: keeping the running configuration: {}", fresh.error().message);
      } else {
        spdlog::info("SIGHUP: reloaded {}", config_path);
        if (workload_api) workload_api->Reload(*fresh);
        if (child.running()) {
          pending = std::move(*fresh);
        } else {
          agent.Reload(std::move(*fresh));
          timer.cancel();
          pass();
        }
      }
      wait_reload();
    });
  };
  stop.async_wait([&](boost::system::error_code ec, int signo) {
    if (ec) return;
    spdlog::info("signal {}: exiting", signo);
    child.Stop();
    if (workload_api) workload_api->Stop();
    ioc.stop();
  });
  wait_reload();
  if (workload_api) workload_api->Start();
  asio::post(ioc, pass);
  spdlog::info("mayfly-agent running for {}", config_path);
  ioc.run();
  return 0;
}

int StatusCommand(const std::string& config_path, bool json) {
  auto config = LoadAgentConfig(config_path);
  if (!config) return Fail(config.error().message), 2;
  StatePaths paths(config->state_dir);
  auto report = LoadStatus(paths);
  if (!report) return Fail("no status yet (" + report.error().message + "); run mayfly-agent once or run"), 1;
  if (json) {
    std::cout << StatusJson(*report) << "\n";
    return 0;
  }
  std::printf("%-44s %-34s %-21s %-21s %s\n", "IDENTITY", "SERIAL", "NOT AFTER", "NEXT RENEWAL", "LAST ERROR");
  for (const CertStatus& c : report->certs) {
    std::printf("%-44s %-34s %-21s %-21s %s\n", (c.spiffe_id.empty() ? c.name : c.spiffe_id).c_str(),
                (c.serial.empty() ? "-" : c.serial).c_str(), (c.not_after.empty() ? "-" : c.not_after).c_str(),
                (c.next_renewal.empty() ? "-" : c.next_renewal).c_str(),
                (c.last_error.empty() ? "-" : c.last_error).c_str());
  }
  if (!report->servers.empty()) {
    std::printf("\n%-44s %-34s %s\n", "CA SERVER", "STATE", "LAST ERROR");
    for (const ServerStatus& s : report->servers) {
      const std::string state = s.in_backoff ? "back-off until " + s.retry_at : "up";
      std::printf("%-44s %-34s %s\n", s.url.c_str(), state.c_str(),
                  (s.last_error.empty() ? "-" : s.last_error).c_str());
    }
  }
  std::printf("updated %s%s\n", report->updated_at.c_str(),
              report->crl_error.empty() ? "" : ("; CRL/bundle: " + report->crl_error).c_str());
  return 0;
}

}  // namespace mayfly::agent
