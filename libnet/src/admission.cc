// The admission table: counting connections by stage and source, and
// choosing which one makes room.
#include "admission.h"

#include <algorithm>

namespace mayfly::net {

Admission::~Admission() = default;

void Admission::Link(Entry& e) {
  switch (e.stage) {
    case Stage::kHandshaking:
      all_.handshaking.push_back(e);
      e.peer->lists.handshaking.push_back(e);
      break;
    case Stage::kIdle:
      all_.idle.push_back(e);
      e.peer->lists.idle.push_back(e);
      break;
    case Stage::kBusy:
      break;
  }
}

void Admission::Unlink(Entry& e) {
  if (e.all_hook.is_linked()) {
    auto& all = e.stage == Stage::kIdle ? all_.idle : all_.handshaking;
    auto& own = e.stage == Stage::kIdle ? e.peer->lists.idle : e.peer->lists.handshaking;
    all.erase(all.iterator_to(e));
    own.erase(own.iterator_to(e));
  }
}

void Admission::Forget(Entry& e) {
  Unlink(e);
  --live_;
  Peer* peer = e.peer;
  e.peer = nullptr;
  if (--peer->count == 0) peers_.erase(peer->key);
}

template <class Lists>
bool Admission::EvictOldest(Lists& lists, Decision& decision) {
  auto* from = !lists.handshaking.empty() ? &lists.handshaking : !lists.idle.empty() ? &lists.idle : nullptr;
  if (from == nullptr) return false;
  Entry& victim = from->front();
  decision.evicted_stage = victim.stage;
  // Null when the session is already being destroyed: its slot frees itself.
  decision.evicted = victim.session.lock();
  Forget(victim);
  return true;
}

Admission::Decision Admission::Admit(const std::string& peer_key, Limits limits) {
  const size_t max_all = std::max<size_t>(limits.max_connections, 1);
  const size_t max_peer = std::max<size_t>(limits.max_per_peer, 1);
  Decision decision;
  std::lock_guard lock(mu_);
  auto found = peers_.find(peer_key);
  Peer* peer = found == peers_.end() ? nullptr : &found->second;
  if (peer != nullptr && peer->count >= max_peer) {
    // A source at its own limit makes room among its own connections only,
    // so it can never displace anyone else's.
    if (!EvictOldest(peer->lists, decision)) {
      decision.verdict = Verdict::kOverPeerLimit;
      return decision;
    }
  } else if (live_ >= max_all && !EvictOldest(all_, decision)) {
    decision.verdict = Verdict::kOverLimit;
    return decision;
  }
  // The eviction may have forgotten this very source.
  peer = &peers_.try_emplace(peer_key).first->second;
  if (peer->key.empty()) peer->key = peer_key;
  auto entry = std::make_unique<Entry>();
  entry->peer = peer;
  ++peer->count;
  ++live_;
  Link(*entry);
  decision.verdict = Verdict::kAdmitted;
  decision.entry = entry.release();  // the holder gives it back with Release
  return decision;
}

void Admission::Attach(Entry* entry, std::weak_ptr<SessionBase> session) {
  if (entry == nullptr) return;
  std::lock_guard lock(mu_);
  entry->session = std::move(session);
}

bool Admission::Enter(Entry* entry, Stage stage) {
  if (entry == nullptr) return true;
  std::lock_guard lock(mu_);
  if (entry->peer == nullptr) return false;
  if (entry->stage == stage) return true;
  Unlink(*entry);
  entry->stage = stage;
  Link(*entry);
  return true;
}

void Admission::Release(Entry* entry) {
  if (entry == nullptr) return;
  std::unique_ptr<Entry> owned(entry);
  std::lock_guard lock(mu_);
  if (owned->peer != nullptr) Forget(*owned);
}

size_t Admission::size() const {
  std::lock_guard lock(mu_);
  return live_;
}

size_t Admission::size_of(const std::string& peer_key) const {
  std::lock_guard lock(mu_);
  auto found = peers_.find(peer_key);
  return found == peers_.end() ? 0 : found->second.count;
}

}  // namespace mayfly::net
