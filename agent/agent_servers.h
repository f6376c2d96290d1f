// The CA servers of agent.toml (`server` or `servers`) and each one's
// back-off: which to try for a call, in what order, and when a server went
// down or came back.
#pragma once

#include <cstddef>
#include <random>
#include <string>
#include <vector>

#include "mayfly/clock.h"

namespace mayfly::agent {

// One server as the agent last found it.
struct ServerState {
  std::string url;
  int failures = 0;        // consecutive failed calls; 0: up
  TimePoint retry_at{};    // skipped until then, when failures > 0
  std::string last_error;  // why the latest call failed; "" when up

  bool operator==(const ServerState&) const = default;
};

// Back-off: after the n-th consecutive failure a server is skipped for
// min(2^(n-1) s, 60 s), jittered down to between half and all of it so
// agents that lost one instance together do not return together. A success
// resets it. Not thread-safe.
class ServerPool {
 public:
  static constexpr std::chrono::seconds kMaxBackoff{60};

  ServerPool(const std::vector<std::string>& urls, const Clock& clock);
  ServerPool(const ServerPool&) = delete;
  ServerPool& operator=(const ServerPool&) = delete;

  // The servers one call tries, in order: every server not in back-off, in
  // the configured order, then the one in back-off whose back-off ends first
  // (its last resort when the others failed; the only one when all are in
  // back-off). Never empty.
  std::vector<size_t> Candidates() const;
  // The server answered (any answer that is the CA's decision). Logs once
  // when it comes back from a failure.
  void Succeeded(size_t i);
  // The call could not get the CA's answer from it. Logs once when it goes
  // down; the next failures only lengthen its back-off.
  void Failed(size_t i, const std::string& why);

  const std::vector<ServerState>& states() const { return states_; }
  const std::string& url(size_t i) const { return states_[i].url; }
  bool InBackoff(size_t i) const;
  // Takes in the states an earlier pass left (matched by URL; servers no
  // longer configured are dropped, new ones start up).
  void Restore(const std::vector<ServerState>& earlier);
  void ReseedJitter() { rng_.seed(std::random_device{}()); }

 private:
  const Clock& clock_;
  std::vector<ServerState> states_;
  std::mt19937_64 rng_{std::random_device{}()};
};

}  // namespace mayfly::agent
