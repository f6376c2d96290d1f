// Token buckets on a manual clock.
#include "rate_limiter.h"

#include <gtest/gtest.h>

namespace mayfly {
namespace rate_limiter_test {

TEST(RateLimiterTest, BurstsAMinuteThenRefillsSteadily) {
  ManualClock clock(FromUnixSeconds(1000));
  RateLimiter limiter(3, clock);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(limiter.Acquire("a"), 0) << i;
  EXPECT_EQ(limiter.Acquire("a"), 20) << "one token every 20 s at 3/min";
  EXPECT_EQ(limiter.Acquire("b"), 0) << "keys are independent";
  clock.Advance(std::chrono::seconds(19));
  EXPECT_EQ(limiter.Acquire("a"), 1);
  clock.Advance(std::chrono::seconds(1));
  EXPECT_EQ(limiter.Acquire("a"), 0);
  EXPECT_GT(limiter.Acquire("a"), 0);
}

TEST(RateLimiterTest, ClockSteppingBackDoesNotDrain) {
  ManualClock clock(FromUnixSeconds(1000));
  RateLimiter limiter(60, clock);
  EXPECT_EQ(limiter.Acquire("a"), 0);
  clock.Set(FromUnixSeconds(500));
  EXPECT_EQ(limiter.Acquire("a"), 0);
}

TEST(RateLimiterTest, SetRateCapsExistingBuckets) {
  ManualClock clock(FromUnixSeconds(1000));
  RateLimiter limiter(100, clock);
  EXPECT_EQ(limiter.Acquire("a"), 0);
  limiter.SetRate(1);
  EXPECT_EQ(limiter.rate(), 1);
  EXPECT_EQ(limiter.Acquire("a"), 0);
  EXPECT_EQ(limiter.Acquire("a"), 60);
}

TEST(RateLimiterTest, MemoryIsBoundedByDroppingFullBuckets) {
  ManualClock clock(FromUnixSeconds(1000));
  RateLimiter limiter(1, clock, /*max_keys=*/4);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(limiter.Acquire("k" + std::to_string(i)), 0);
  clock.Advance(std::chrono::minutes(2));
  // The old buckets are full again, so dropping them changes nothing.
  EXPECT_EQ(limiter.Acquire("new"), 0);
  EXPECT_EQ(limiter.Acquire("k0"), 0);
  EXPECT_GT(limiter.Acquire("k0"), 0);
}

}  // namespace rate_limiter_test
}  // namespace mayfly
