// The change generations one Store object's own transactions produced, kept
// until its daemon's StoreFollower takes them (Store::TakeOwnChanges).
#pragma once

#include <cstdint>
#include <mutex>
#include <span>
#include <utility>
#include <vector>

namespace mayfly {

// Thread-safe. Bounded: a store whose owner never takes them (a CLI, a
// test) keeps the newest kCap only; a generation dropped here is merely
// treated as another process's change, which is always safe.
class OwnChanges {
 public:
  static constexpr size_t kCap = 4096;

  // After the transaction that produced `generations` committed.
  void Record(std::span<const int64_t> generations) {
    if (generations.empty()) return;
    std::lock_guard lock(mu_);
    generations_.insert(generations_.end(), generations.begin(), generations.end());
    if (generations_.size() > kCap) generations_.erase(generations_.begin(), generations_.end() - kCap);
  }

  std::vector<int64_t> Take() {
    std::lock_guard lock(mu_);
    return std::exchange(generations_, {});
  }

 private:
  std::mutex mu_;
  std::vector<int64_t> generations_;
};

}  // namespace mayfly
