// ParseDuration and FormatDuration: what is accepted, what is refused and why.
#include <gtest/gtest.h>

#include <string>

#include "mayfly/config.h"

namespace mayfly {
namespace duration_test {

struct Accepted {
  const char* text;
  int64_t seconds;
};
void PrintTo(const Accepted& c, std::ostream* out) { *out << '"' << c.text << '"'; }

class DurationAcceptTest : public ::testing::TestWithParam<Accepted> {};

TEST_P(DurationAcceptTest, Parses) {
  Result<Duration> d = ParseDuration(GetParam().text);
  ASSERT_TRUE(d.has_value()) << d.error().message;
  EXPECT_EQ(d->count(), GetParam().seconds);
}

INSTANTIATE_TEST_SUITE_P(
    Table, DurationAcceptTest,
    ::testing::Values(Accepted{"1s", 1}, Accepted{"90s", 90}, Accepted{"10m", 600},
                      Accepted{"1h", 3600}, Accepted{"24h", 86400},
                      Accepted{"30d", 30 * 86400}, Accepted{"010m", 600},
                      Accepted{"3153600000s", 3153600000},
                      Accepted{"36500d", kMaxDuration.count()}));

struct Refused {
  const char* text;
  const char* message;  // a part of the error message
};
void PrintTo(const Refused& c, std::ostream* out) { *out << '"' << c.text << '"'; }

class DurationRejectTest : public ::testing::TestWithParam<Refused> {};

TEST_P(DurationRejectTest, SaysWhatWasExpected) {
  Result<Duration> d = ParseDuration(GetParam().text);
  ASSERT_FALSE(d.has_value()) << "accepted \"" << GetParam().text << "\"";
  EXPECT_EQ(d.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(d.error().message.find(GetParam().message), std::string::npos)
      << d.error().message;
  EXPECT_NE(d.error().message.find("got \"" + std::string(GetParam().text) + "\""),
            std::string::npos)
      << d.error().message;
}

constexpr const char* kShape = R"(expected a duration like "90s", "10m", "1h" or "30d")";
constexpr const char* kTooLarge = "expected a duration of at most 36500d";

INSTANTIATE_TEST_SUITE_P(
    Table, DurationRejectTest,
    ::testing::Values(Refused{"", kShape}, Refused{"10", kShape}, Refused{"s", kShape},
                      Refused{"1.5h", kShape}, Refused{"-1m", kShape},
                      Refused{"+1m", kShape}, Refused{"10x", kShape},
                      Refused{"10M", kShape}, Refused{"0s", kShape},
                      Refused{"00d", kShape}, Refused{" 5m", kShape},
                      Refused{"5m ", kShape}, Refused{"5 m", kShape},
                      Refused{"1h30m", kShape}, Refused{"0x10s", kShape},
                      Refused{"36501d", kTooLarge}, Refused{"3153600001s", kTooLarge},
                      Refused{"9223372036854775807s", kTooLarge},
                      Refused{"9223372036854775807d", kTooLarge},
                      Refused{"99999999999999999999999s", kTooLarge}));

TEST(FormatDurationTest, PicksTheShortestExactUnit) {
  const struct {
    int64_t seconds;
    const char* text;
  } cases[] = {{0, "0s"},     {1, "1s"},        {90, "90s"},   {120, "2m"},
               {3600, "1h"},  {3660, "61m"},    {86400, "1d"}, {90000, "25h"},
               {-60, "-1m"},  {86401, "86401s"}};
  for (const auto& c : cases) {
    EXPECT_EQ(FormatDuration(Duration(c.seconds)), c.text) << c.seconds;
  }
}

TEST(FormatDurationTest, RoundTripsThroughParse) {
  for (int64_t s : {int64_t{1}, int64_t{59}, int64_t{60}, int64_t{3599}, int64_t{7200},
                    int64_t{86400 * 3650}, kMaxDuration.count()}) {
    Result<Duration> d = ParseDuration(FormatDuration(Duration(s)));
    ASSERT_TRUE(d.has_value()) << s;
    EXPECT_EQ(d->count(), s);
  }
}

}  // namespace duration_test
}  // namespace mayfly
