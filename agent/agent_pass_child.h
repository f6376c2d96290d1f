// Each pass of `mayfly-agent run` in a short-lived child process.
//
// A pass generates keys, speaks mutual TLS and parses certificates and CRLs:
// OpenSSL's code and allocations, and the private keys themselves. Made in a
// forked child, none of it stays in the long-lived agent, which only keeps
// its timers between passes: a few MiB resident instead of twelve, no key
// material in memory while idle, and a crash in a pass is one failed pass
// (retried with backoff), not a dead agent.
#pragma once

#include <sys/types.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <functional>
#include <optional>
#include <string>

#include "agent.h"

namespace mayfly::agent {

class PassChild {
 public:
  using Done = std::function<void(const PassResult&)>;

  PassChild(boost::asio::io_context& ioc, Agent& agent) : ioc_(ioc), agent_(agent) {}
  ~PassChild() { Stop(); }
  PassChild(const PassChild&) = delete;
  PassChild& operator=(const PassChild&) = delete;

  // Forks a child that runs one pass and sends back its state; `done` runs
  // on the io_context once the child has exited and the agent has taken the
  // state in. Call only when no pass is running.
  void Start(Done done);
  bool running() const { return pid_ > 0; }
  // Ends a running pass now (SIGTERM) and reaps it; `done` is not called.
  void Stop();

 private:
  [[noreturn]] void RunInChild(int out_fd, pid_t parent);
  void Finish();

  boost::asio::io_context& ioc_;
  Agent& agent_;
  pid_t pid_ = -1;
  std::optional<boost::asio::posix::stream_descriptor> pipe_;
  std::string received_;  // the child's state, read to end of file
  Done done_;
};

}  // namespace mayfly::agent
