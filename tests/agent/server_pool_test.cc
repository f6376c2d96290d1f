// ServerPool: the order an agent tries its CA servers in, and each server's
// back-off (growth, cap, jitter, reset, the last resort when all are down).
#include <gtest/gtest.h>

#include "agent_servers.h"

namespace mayfly::agent {
namespace {

using std::chrono::seconds;

class ServerPoolTest : public ::testing::Test {
 protected:
  ManualClock clock_{TimePoint(seconds(1'700'000'000))};
  ServerPool pool_{{"https://ca1:8443", "https://ca2:8443", "https://ca3:8443"}, clock_};
};

TEST_F(ServerPoolTest, TriesTheServersInTheConfiguredOrder) {
  EXPECT_EQ(pool_.Candidates(), (std::vector<size_t>{0, 1, 2}));
}

TEST_F(ServerPoolTest, AFailedServerIsSkippedUntilItsBackoffEndsThenTriedAgain) {
  pool_.Failed(0, "connection refused");
  EXPECT_TRUE(pool_.InBackoff(0));
  // Not in the normal order; only as the last resort.
  EXPECT_EQ(pool_.Candidates(), (std::vector<size_t>{1, 2, 0}));
  EXPECT_EQ(pool_.states()[0].last_error, "connection refused");
  clock_.Advance(seconds(1));  // the first back-off is at most 1 s
  EXPECT_FALSE(pool_.InBackoff(0));
  EXPECT_EQ(pool_.Candidates(), (std::vector<size_t>{0, 1, 2}));
}

TEST_F(ServerPoolTest, BackoffDoublesWithJitterAndStopsAtSixtySeconds) {
  for (int n = 1; n <= 10; ++n) {
    pool_.Failed(0, "down");
    const auto full = std::min(seconds(1LL << (n - 1)), ServerPool::kMaxBackoff);
    const auto left = pool_.states()[0].retry_at - clock_.Now();
    EXPECT_GE(left, full / 2) << "failure " << n;
    EXPECT_LE(left, full) << "failure " << n;
    EXPECT_EQ(pool_.states()[0].failures, n);
  }
}

TEST_F(ServerPoolTest, ASuccessResetsTheBackoff) {
  for (int n = 0; n < 5; ++n) pool_.Failed(1, "down");
  pool_.Succeeded(1);
  EXPECT_FALSE(pool_.InBackoff(1));
  EXPECT_EQ(pool_.states()[1].failures, 0);
  EXPECT_EQ(pool_.states()[1].last_error, "");
  pool_.Failed(1, "down again");
  EXPECT_LE(pool_.states()[1].retry_at - clock_.Now(), seconds(1)) << "counted from one again";
}

TEST_F(ServerPoolTest, WhenEveryServerIsInBackoffTheOneWhoseBackoffEndsFirstIsTried) {
  for (int n = 0; n < 6; ++n) pool_.Failed(0, "down");  // 16-32 s
  for (int n = 0; n < 3; ++n) pool_.Failed(2, "down");  // 2-4 s
  for (int n = 0; n < 4; ++n) pool_.Failed(1, "down");  // 4-8 s
  EXPECT_EQ(pool_.Candidates(), (std::vector<size_t>{2}));
}

TEST_F(ServerPoolTest, RestoreKeepsTheStateOfServersStillConfigured) {
  pool_.Failed(1, "down");
  ServerPool other({"https://ca2:8443", "https://ca4:8443"}, clock_);
  other.Restore(pool_.states());
  EXPECT_EQ(other.states()[0], pool_.states()[1]);
  EXPECT_EQ(other.states()[1].failures, 0);
  EXPECT_EQ(other.states()[1].url, "https://ca4:8443");
}

}  // namespace
}  // namespace mayfly::agent
