// Token buckets refilled from the injected clock.
#include "rate_limiter.h"

#include <algorithm>
#include <cmath>

namespace mayfly {

RateLimiter::RateLimiter(int per_minute, const Clock& clock, size_t max_keys)
    : clock_(clock), max_keys_(max_keys), capacity_(std::max(per_minute, 1)) {}

void RateLimiter::Refill(Bucket& bucket, TimePoint now) const {
  const double elapsed = std::chrono::duration<double>(now - bucket.updated).count();
  // A clock that steps back must not drain a bucket.
  if (elapsed > 0) bucket.tokens = std::min(capacity_, bucket.tokens + elapsed * capacity_ / 60.0);
  bucket.updated = now;
}

void RateLimiter::Prune(TimePoint now) {
  for (auto it = buckets_.begin(); it != buckets_.end();) {
    Refill(it->second, now);
    it = it->second.tokens >= capacity_ ? buckets_.erase(it) : std::next(it);
  }
}

int RateLimiter::Acquire(const std::string& key) {
  const TimePoint now = clock_.Now();
  std::lock_guard lock(mu_);
  auto it = buckets_.find(key);
  if (it == buckets_.end()) {
    if (buckets_.size() >= max_keys_) Prune(now);
    it = buckets_.emplace(key, Bucket{capacity_, now}).first;
  }
  Bucket& bucket = it->second;
  Refill(bucket, now);
  if (bucket.tokens >= 1.0) {
    bucket.tokens -= 1.0;
    return 0;
  }
  // Rounding noise must not turn an exact 1 s into 2.
  const double wait = (1.0 - bucket.tokens) * 60.0 / capacity_;
  return std::max(1, static_cast<int>(std::ceil(wait - 1e-6)));
}

void RateLimiter::SetRate(int per_minute) {
  std::lock_guard lock(mu_);
  capacity_ = std::max(per_minute, 1);
  for (auto& [key, bucket] : buckets_) bucket.tokens = std::min(bucket.tokens, capacity_);
}

int RateLimiter::rate() const {
  std::lock_guard lock(mu_);
  return static_cast<int>(capacity_);
}

}  // namespace mayfly
