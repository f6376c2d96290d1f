// The clock every time-dependent decision reads, so tests can set the time.
#pragma once

#include <atomic>
#include <chrono>
#include <stop_token>

namespace mayfly {

using TimePoint = std::chrono::system_clock::time_point;
using Seconds = std::chrono::seconds;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual TimePoint Now() const = 0;
};

// The wall clock.
class SystemClock final : public Clock {
 public:
  TimePoint Now() const override { return std::chrono::system_clock::now(); }
  // A process-wide instance for callers that do not inject their own.
  static const SystemClock& Instance();
};

// A clock that moves only when told to; for tests and simulations.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(TimePoint start) : now_(start.time_since_epoch().count()) {}
  TimePoint Now() const override {
    return TimePoint(TimePoint::duration(now_.load()));
  }
  void Advance(std::chrono::system_clock::duration d) { now_ += d.count(); }
  void Set(TimePoint t) { now_ = t.time_since_epoch().count(); }

 private:
  std::atomic<TimePoint::rep> now_;
};

// Seconds since the Unix epoch, the unit the store and the API use.
inline int64_t ToUnixSeconds(TimePoint t) {
  return std::chrono::duration_cast<Seconds>(t.time_since_epoch()).count();
}
inline TimePoint FromUnixSeconds(int64_t s) { return TimePoint(Seconds(s)); }

// Sleeps for `pause`, or less when `stop` is requested first (a thread
// that must wait, yet end promptly at shutdown).
void SleepUnlessStopped(std::chrono::milliseconds pause, const std::stop_token& stop);

}  // namespace mayfly
