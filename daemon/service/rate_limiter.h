// Token-bucket rate limits keyed by a string (a node name, a client IP).
#pragma once

#include <chrono>
#include <cstddef>
#include <mutex>
#include <string>
#include <unordered_map>

#include "mayfly/clock.h"

namespace mayfly {

// One bucket per key, holding at most `per_minute` tokens and refilled at
// per_minute / 60 tokens a second, so a key may burst a minute's worth and
// then go on at the steady rate. Thread-safe. Memory is bounded: when more
// than max_keys buckets exist, buckets that have refilled completely (and so
// equal a fresh one) are dropped.
class RateLimiter {
 public:
  RateLimiter(int per_minute, const Clock& clock, size_t max_keys = 100000);

  // Takes one token from `key`'s bucket. Returns 0 when allowed, else the
  // whole seconds (>= 1) to wait before a token is available (Retry-After).
  int Acquire(const std::string& key);

  // Changes the rate (a reload); existing buckets keep their level, capped.
  void SetRate(int per_minute);
  int rate() const;

 private:
  struct Bucket {
    double tokens = 0;
    TimePoint updated;
  };
  void Refill(Bucket& bucket, TimePoint now) const;
  void Prune(TimePoint now);

  const Clock& clock_;
  const size_t max_keys_;
  mutable std::mutex mu_;
  double capacity_;
  std::unordered_map<std::string, Bucket> buckets_;
};

}  // namespace mayfly
