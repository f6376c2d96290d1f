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
    : rt_(runtime), poll_(poll), seen_(GenerationNow(runtime.store())),
      thread_([this](std::stop_token stop) { Run(stop); }) {}

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
    if (seen_ == *generation) continue;
    if (auto r = rt_.FollowStoreChanges(); !r) {
      spdlog::error("applying the store's changes: {}", r.error().ToString());
      continue;  // seen_ stays: try again on the next round
    }
    seen_ = *generation;
  }
}

}  // namespace mayfly
