// The Workload API's own long-lived process beside `mayfly-agent run`.
//
// The run loop makes each pass in a short-lived child so that it holds no
// keys between passes (agent_pass_child.h). The Workload API must hold
// keys all the time -- one per identity it serves -- so it is a process of
// its own, the mayfly-workload-api program installed beside mayfly-agent,
// which keeps them in memory only. A program of its own, not a fork of
// this one, so the agent never loads gRPC: the long-lived agent stays as
// small as before for hosts that do not serve the Workload API. The agent
// binds the socket itself, so a bad path stops `run` at once with a clear
// error, and keeps the listening socket, so a restarted Workload API
// process serves on it without a gap.
#pragma once

#include <sys/types.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <memory>
#include <optional>
#include <string>

#include "agent_config.h"
#include "mayfly/error.h"

namespace mayfly::agent {

// Creates the unix socket at `path` (mode 0666: callers are told apart by
// their process, not by file permissions), replacing a stale socket file
// left by an agent that is gone. kConfig naming workload_api_socket when
// the path cannot be created, is something else than a socket, or another
// process is serving on it.
[[nodiscard]] Result<int> ListenOnWorkloadSocket(const std::string& path);

class WorkloadApiProcess {
 public:
  // Binds config.workload_api_socket; the process starts with Start().
  [[nodiscard]] static Result<std::unique_ptr<WorkloadApiProcess>> Open(boost::asio::io_context& ioc,
                                                                         const AgentConfig& config);
  // Stops the process and removes the socket.
  ~WorkloadApiProcess();
  WorkloadApiProcess(const WorkloadApiProcess&) = delete;
  WorkloadApiProcess& operator=(const WorkloadApiProcess&) = delete;

  // Forks the Workload API process; restarted with backoff whenever it dies.
  void Start();
  // A new configuration (SIGHUP): the process restarts with it. A new
  // workload_api_socket takes effect only when the agent restarts.
  void Reload(const AgentConfig& config);
  // Ends the process (SIGTERM) and reaps it; no restart follows.
  void Stop();

 private:
  WorkloadApiProcess(boost::asio::io_context& ioc, const AgentConfig& config, int listen_fd)
      : ioc_(ioc), config_(config), listen_fd_(listen_fd), restart_(ioc) {}
  void Watch();
  void Exited();

  boost::asio::io_context& ioc_;
  AgentConfig config_;
  int listen_fd_;
  pid_t pid_ = -1;
  std::optional<boost::asio::posix::stream_descriptor> pidfd_;  // readable once the process exits
  boost::asio::steady_timer restart_;
  int failures_ = 0;
  std::chrono::steady_clock::time_point started_{};
  bool stopping_ = false;
};

}  // namespace mayfly::agent
