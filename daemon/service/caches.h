// In-memory views of store state that every request consults: revoked
// serials, banned nodes and registration entries. Rebuilt from the store at
// start and on a timer, updated in place when this daemon changes them, so
// no request reads the database for them.
#pragma once

#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <span>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "mayfly/error.h"
#include "mayfly/store.h"

namespace mayfly {

// Serials of revoked, unexpired certificates, names of banned nodes and of
// quarantined ones (with the anomaly kind that quarantined them).
// Thread-safe; lookups take a shared lock.
class RevocationCache {
 public:
  // Replaces everything with the store's current view at `now`.
  [[nodiscard]] Result<void> Rebuild(Store& store, int64_t now);

  bool IsRevoked(const std::string& serial) const;
  bool IsBanned(const std::string& node) const;
  void AddRevoked(std::span<const std::string> serials);
  void Ban(const std::string& node);
  // After a successful enrollment, which lifts the ban in the store.
  void Unban(const std::string& node);
  // The anomaly kind a node is quarantined for; nullopt when it is not.
  std::optional<std::string> QuarantineOf(const std::string& node) const;
  void Quarantine(const std::string& node, const std::string& kind);
  void LiftQuarantine(const std::string& node);

  size_t revoked_count() const;

 private:
  mutable std::shared_mutex mu_;
  std::unordered_set<std::string> revoked_;
  std::unordered_set<std::string> banned_;
  std::unordered_map<std::string, std::string> quarantined_;
  uint64_t generation_ = 0;   // bumped by every change, so Rebuild sees races
};

// The registration entries as an immutable snapshot: readers keep the
// shared_ptr they got for as long as they need it; a change swaps in a new one.
class EntryCache {
 public:
  using Snapshot = std::shared_ptr<const std::vector<EntryRecord>>;

  EntryCache() : entries_(std::make_shared<const std::vector<EntryRecord>>()) {}

  // Replaces the snapshot with the store's entries; rebuilds never overlap,
  // so the last one to return installed the newest list.
  [[nodiscard]] Result<void> Rebuild(Store& store);
  Snapshot Get() const;

 private:
  std::mutex rebuild_mu_;
  mutable std::mutex mu_;
  Snapshot entries_;
};

}  // namespace mayfly
