// Server order and back-off for the agent's calls to the CA.
#include "agent_servers.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <optional>

namespace mayfly::agent {

ServerPool::ServerPool(const std::vector<std::string>& urls, const Clock& clock) : clock_(clock) {
  for (const std::string& url : urls) states_.push_back({.url = url});
}

bool ServerPool::InBackoff(size_t i) const {
  return states_[i].failures > 0 && clock_.Now() < states_[i].retry_at;
}

std::vector<size_t> ServerPool::Candidates() const {
  std::vector<size_t> order;
  std::optional<size_t> soonest;
  for (size_t i = 0; i < states_.size(); ++i) {
    if (!InBackoff(i)) {
      order.push_back(i);
    } else if (!soonest || states_[i].retry_at < states_[*soonest].retry_at) {
      soonest = i;
    }
  }
  if (soonest) order.push_back(*soonest);
  return order;
}

void ServerPool::Succeeded(size_t i) {
  ServerState& s = states_[i];
  if (s.failures > 0) spdlog::info("CA server {} answers again (after {} failed call(s))", s.url, s.failures);
  s.failures = 0;
  s.retry_at = {};
  s.last_error.clear();
}

void ServerPool::Failed(size_t i, const std::string& why) {
  ServerState& s = states_[i];
  ++s.failures;
  const auto delay = std::min<std::chrono::seconds>(std::chrono::seconds(1LL << std::min(s.failures - 1, 6)),
                                                    kMaxBackoff);
  std::uniform_real_distribution<double> jitter(0.5, 1.0);
  s.retry_at = clock_.Now() + std::chrono::duration_cast<TimePoint::duration>(
                                  std::chrono::duration<double>(delay) * jitter(rng_));
  s.last_error = why;
  if (s.failures == 1) {
    spdlog::warn("CA server {} is down{}: {}", s.url,
                 states_.size() > 1 ? ", using the other servers until it answers again" : "", why);
  } else {
    spdlog::debug("CA server {} still down ({} failed calls): {}", s.url, s.failures, why);
  }
}

void ServerPool::Restore(const std::vector<ServerState>& earlier) {
  for (ServerState& s : states_) {
    auto it = std::find_if(earlier.begin(), earlier.end(), [&s](const ServerState& e) { return e.url == s.url; });
    if (it != earlier.end()) s = *it;
  }
}

}  // namespace mayfly::agent
