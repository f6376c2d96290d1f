// Following the store's change generation; the store's health as a side effect.
#include "store_follower.h"

#include <pthread.h>
#include <spdlog/spdlog.h>


namespace mayfly {

namespace {

std::optional<int64_t> GenerationNow(Store& store) {
  auto generation = store.ChangeGeneration();
  return generation ? std::optional<int64_t>(*generation) : std::nullopt;
}

}  // namespace

StoreFollower::StoreFollower(CaRuntime& runtime, std::chrono::milliseconds poll)
    : rt_(runtime), poll_(poll), seen_(GenerationNow(runtime.store())), applied_(seen_.value_or(-1)),
      thread_([this](std::stop_token stop) { Run(stop); }) {}

void StoreFollower::MarkApplied(int64_t generation) {
  seen_ = generation;
  applied_.store(generation, std::memory_order_release);
}

StoreFollower::~StoreFollower() {
  thread_.request_stop();
  if (thread_.joinable()) thread_.join();
}

void StoreFollower::SetAvailable(bool available, const Error* why) {
  if (available == rt_.store_available()) return;
  rt_.set_store_available(available);
  if (available) {
    spdlog::info("the store answers again; serving");
  } else {
    spdlog::error("the store does not answer ({}); answering 503 until it does", why->ToString());
  }
}

void StoreFollower::Run(std::stop_token stop) {
  pthread_setname_np(pthread_self(), "mayfly-follow");  // for top -H and perf
  Store& store = rt_.store();
  while (!stop.stop_requested()) {
    // It fails at once while the database is away (no LISTEN session):
    // then the pause keeps the checks to a few a second.
    if (auto notified = store.WaitForChange(poll_, stop); !notified) SleepUnlessStopped(kRetryPause, stop);
    if (stop.stop_requested()) return;
    auto generation = store.ChangeGeneration();
    if (!generation) {
      SetAvailable(false, &generation.error());
      continue;
    }
    SetAvailable(true, nullptr);
    // An own change this instance failed to apply is followed even when its
    // generation was already skipped; the request stays until a follow works.
    must_follow_ = must_follow_ || rt_.TakeFollowRequest();
    if (seen_ == *generation && !must_follow_) continue;
    for (int64_t g : store.TakeOwnChanges()) own_.insert(g);
    if (!must_follow_ && OnlyOwnChangesUpTo(*generation)) {
      MarkApplied(*generation);
      own_.erase(own_.begin(), own_.upper_bound(*generation));
      continue;
    }
    if (auto r = rt_.FollowStoreChanges(); !r) {
      spdlog::error("applying the store's changes: {}", r.error().ToString());
      continue;  // seen_ stays: try again on the next round
    }
    must_follow_ = false;
    MarkApplied(*generation);
    // A write of ours committed while the caches were rebuilt may have had
    // its in-place update replaced by the rebuild's older reading: forgotten
    // here, its generation counts as foreign and is followed next round.
    (void)store.TakeOwnChanges();
    own_.clear();
  }
}

// Every write that moves the generation is followed in place by the
// instance that made it, before or right after the store call returns:
//   Revoke (api_admin), RevokeAdmin (api_admins): RevocationCache::AddRevoked
//     /Ban and a fresh CRL; a ban lifted by ConsumeTokenAndEnroll (api_issue): Unban;
//   QuarantineNode (anomaly_watch): Quarantine, again after the write;
//     LiftQuarantine (api_nodes): LiftQuarantine;
//   AddEntry, RemoveEntry (api_admin), ReplaceConfigEntries (start, reload):
//     EntryCache::Rebuild, whose rebuilds never overlap;
//   SaveCaCerts (rotation steps, the JWT key, the first import): the new
//     view and its CRLs (AdoptCaRecords).
// When applying one fails, CaRuntime::AppliedOwnChange asks for a rebuild.
// So a generation this store object produced needs no rebuild; one it did
// not (another instance's, or a CLI's on the same database) does, even
// between two of ours. A write added later that does not update this
// instance in place must not go through a Store whose changes are skipped.
bool StoreFollower::OnlyOwnChangesUpTo(int64_t generation) const {
  if (!seen_ || generation < *seen_) return false;  // unknown start, or a different database
  if (generation - *seen_ > static_cast<int64_t>(own_.size())) return false;
  for (int64_t g = *seen_ + 1; g <= generation; ++g) {
    if (!own_.contains(g)) return false;
  }
  return true;
}

}  // namespace mayfly
