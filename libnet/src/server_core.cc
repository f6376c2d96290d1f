// The server's shared state: the connection registry, listener bookkeeping
// and the shutdown that waits for both to empty.
#include "server_core.h"

#include <algorithm>

#include <boost/asio/post.hpp>

namespace mayfly::net {

void Server::Core::AddSession(SessionBase* session, std::weak_ptr<SessionBase> weak,
                              Admission::Entry* entry) {
  admission_.Attach(entry, weak);
  std::lock_guard lock(mu_);
  sessions_.emplace(session, std::move(weak));
}

void Server::Core::RemoveSession(SessionBase* session, Admission::Entry* entry) {
  admission_.Release(entry);
  {
    std::lock_guard lock(mu_);
    sessions_.erase(session);
  }
  MaybeDrained();
}

Admission::Entry* Server::Core::Admit(const std::string& peer_key, const ServerOptions& options) {
  auto decision = admission_.Admit(
      peer_key, Admission::Limits{static_cast<size_t>(std::max(options.max_connections, 0)),
                                  static_cast<size_t>(std::max(options.max_connections_per_ip, 0))});
  switch (decision.verdict) {
    case Admission::Verdict::kOverLimit:
      counters_.refused_over_limit++;
      return nullptr;
    case Admission::Verdict::kOverPeerLimit:
      counters_.refused_over_ip_limit++;
      return nullptr;
    case Admission::Verdict::kAdmitted:
      break;
  }
  if (decision.evicted) {
    auto& counter = decision.evicted_stage == Admission::Stage::kIdle ? counters_.evicted_idle
                                                                      : counters_.evicted_handshaking;
    counter++;
    // Outside the table's lock: the session posts its own close.
    decision.evicted->Evict();
  }
  return decision.entry;
}

size_t Server::Core::active_connections() const {
  std::lock_guard lock(mu_);
  return sessions_.size();
}

void Server::Core::AddListener(std::weak_ptr<ListenerBase> listener) {
  std::lock_guard lock(mu_);
  listeners_.push_back(std::move(listener));
  ++open_listeners_;
}

void Server::Core::ListenerEnded() {
  {
    std::lock_guard lock(mu_);
    --open_listeners_;
  }
  MaybeDrained();
}

void Server::Core::CloseListeners() {
  std::vector<std::shared_ptr<ListenerBase>> listeners;
  {
    std::lock_guard lock(mu_);
    for (auto& weak : listeners_) {
      if (auto l = weak.lock()) listeners.push_back(std::move(l));
    }
  }
  for (auto& l : listeners) l->Close();
}

void Server::Core::Shutdown(std::function<void()> drained) {
  std::vector<std::shared_ptr<SessionBase>> sessions;
  {
    std::lock_guard lock(mu_);
    shutting_down_ = true;
    if (drained) drained_.push_back(std::move(drained));
    for (auto& [ptr, weak] : sessions_) {
      if (auto s = weak.lock()) sessions.push_back(std::move(s));
    }
  }
  CloseListeners();
  for (auto& s : sessions) s->OnServerShutdown();
  sessions.clear();  // before MaybeDrained: our references must not count
  MaybeDrained();
}

void Server::Core::MaybeDrained() {
  std::vector<std::function<void()>> callbacks;
  {
    std::lock_guard lock(mu_);
    if (!shutting_down_ || !sessions_.empty() || open_listeners_ > 0) return;
    callbacks.swap(drained_);
  }
  for (auto& cb : callbacks) boost::asio::post(ioc_, std::move(cb));
}

}  // namespace mayfly::net
