// Keeps a daemon in step with the store it shares with other instances, and
// tells whether that store answers.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <set>
#include <thread>

#include "ca_runtime.h"

namespace mayfly {

// A thread that waits for another instance's change notification (or
// `poll`, the fallback when notifications are lost or not supported), reads
// the store's change generation, and when it moved has the runtime apply the
// changes (CaRuntime::FollowStoreChanges): another instance's revocation,
// ban, entry change or rotation step is enforced here within about one
// poll interval, usually at once. Generations this instance's own writes
// produced are skipped: it applied those in place already (the reasoning is
// at StoreFollower::OnlyOwnChangesUpTo). The same read is the store's health check:
// it sets CaRuntime::store_available and logs once per change of state.
class StoreFollower {
 public:
  static constexpr std::chrono::milliseconds kDefaultPoll{1000};
  // Between checks while the database does not answer.
  static constexpr std::chrono::milliseconds kRetryPause{250};

  StoreFollower(CaRuntime& runtime, std::chrono::milliseconds poll = kDefaultPoll);
  // Stops the thread (within about 100 ms) and waits for it.
  ~StoreFollower();
  StoreFollower(const StoreFollower&) = delete;
  StoreFollower& operator=(const StoreFollower&) = delete;

  // The change generation this instance is known to be in step with
  // (applied, or skipped as its own); -1 until the store answered.
  int64_t applied_generation() const { return applied_.load(std::memory_order_acquire); }

 private:
  void Run(std::stop_token stop);
  void SetAvailable(bool available, const Error* why);
  // Whether every generation in (seen_, generation] is one of own_.
  bool OnlyOwnChangesUpTo(int64_t generation) const;
  void MarkApplied(int64_t generation);

  CaRuntime& rt_;
  const std::chrono::milliseconds poll_;
  // The generation last applied (at start: the one the caches were built
  // from, as near as can be told); thread-only after construction.
  std::optional<int64_t> seen_;
  // Generations this instance's own writes produced, above seen_, not yet
  // reached (Store::TakeOwnChanges); thread-only.
  std::set<int64_t> own_;
  // An own change failed to apply here (CaRuntime::AppliedOwnChange) and no
  // rebuild has succeeded since; thread-only.
  bool must_follow_ = false;
  std::atomic<int64_t> applied_{-1};  // seen_, for other threads
  std::jthread thread_;           // last: starts after the members it uses
};

}  // namespace mayfly
