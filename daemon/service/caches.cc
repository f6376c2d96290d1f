// Rebuilding and updating the revocation and entry caches.
#include "caches.h"

namespace mayfly {

Result<void> RevocationCache::Rebuild(Store& store, int64_t now) {
  // A revocation or enrollment by this daemon may land between the store
  // read and the swap; then the read is stale, so read again. After a few
  // tries (a revocation storm) keep the union of revoked serials, which only
  // holds extra expired ones until the next rebuild.
  constexpr int kTries = 4;
  for (int attempt = 1;; ++attempt) {
    uint64_t generation;
    {
      std::shared_lock lock(mu_);
      generation = generation_;
    }
    auto revoked = store.ListRevokedUnexpired("", now);
    if (!revoked) return WithContext(revoked.error(), "loading revoked certificates");
    auto nodes = store.ListRestrictedNodes();
    if (!nodes) return WithContext(nodes.error(), "loading banned and quarantined nodes");
    std::unordered_set<std::string> serials;
    serials.reserve(revoked->size());
    for (auto& r : *revoked) serials.insert(std::move(r.serial));
    std::unordered_set<std::string> banned;
    std::unordered_map<std::string, std::string> quarantined;
    for (NodeRecord& n : *nodes) {
      if (n.banned) banned.insert(n.name);
      if (!n.quarantine.empty()) quarantined.emplace(std::move(n.name), std::move(n.quarantine));
    }
    std::unique_lock lock(mu_);
    if (generation != generation_ && attempt < kTries) continue;
    if (generation != generation_) serials.insert(revoked_.begin(), revoked_.end());
    revoked_.swap(serials);
    banned_.swap(banned);
    quarantined_.swap(quarantined);
    ++generation_;
    return Ok();
  }
}

bool RevocationCache::IsRevoked(const std::string& serial) const {
  std::shared_lock lock(mu_);
  return revoked_.contains(serial);
}

bool RevocationCache::IsBanned(const std::string& node) const {
  std::shared_lock lock(mu_);
  return banned_.contains(node);
}

void RevocationCache::AddRevoked(std::span<const std::string> serials) {
  std::unique_lock lock(mu_);
  revoked_.insert(serials.begin(), serials.end());
  ++generation_;
}

void RevocationCache::Ban(const std::string& node) {
  std::unique_lock lock(mu_);
  banned_.insert(node);
  ++generation_;
}

void RevocationCache::Unban(const std::string& node) {
  std::unique_lock lock(mu_);
  banned_.erase(node);
  ++generation_;
}

std::optional<std::string> RevocationCache::QuarantineOf(const std::string& node) const {
  std::shared_lock lock(mu_);
  if (quarantined_.empty()) return std::nullopt;  // the usual case: no lookup
  auto it = quarantined_.find(node);
  if (it == quarantined_.end()) return std::nullopt;
  return it->second;
}

void RevocationCache::Quarantine(const std::string& node, const std::string& kind) {
  std::unique_lock lock(mu_);
  quarantined_.emplace(node, kind);
  ++generation_;
}

void RevocationCache::LiftQuarantine(const std::string& node) {
  std::unique_lock lock(mu_);
  quarantined_.erase(node);
  ++generation_;
}

size_t RevocationCache::revoked_count() const {
  std::shared_lock lock(mu_);
  return revoked_.size();
}

Result<void> EntryCache::Rebuild(Store& store) {
  // One at a time: a rebuild that read before an entry change must not swap
  // its older list in after the rebuild that followed the change.
  std::lock_guard rebuilding(rebuild_mu_);
  auto entries = store.ListEntries();
  if (!entries) return WithContext(entries.error(), "loading registration entries");
  auto snapshot = std::make_shared<const std::vector<EntryRecord>>(std::move(*entries));
  std::lock_guard lock(mu_);
  entries_ = std::move(snapshot);
  return Ok();
}

EntryCache::Snapshot EntryCache::Get() const {
  std::lock_guard lock(mu_);
  return entries_;
}

}  // namespace mayfly
