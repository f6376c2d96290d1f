// The process-wide wall clock.
#include "mayfly/clock.h"

#include <condition_variable>
#include <mutex>

namespace mayfly {

const SystemClock& SystemClock::Instance() {
  static const SystemClock clock;
  return clock;
}

void SleepUnlessStopped(std::chrono::milliseconds pause, const std::stop_token& stop) {
  std::mutex mu;
  std::condition_variable_any wake;
  std::unique_lock lock(mu);
  wake.wait_for(lock, stop, pause, [] { return false; });
}

}  // namespace mayfly
