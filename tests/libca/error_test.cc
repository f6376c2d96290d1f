// Error codes keep their stable names.
#include "mayfly/error.h"

#include <gtest/gtest.h>

namespace mayfly {
namespace error_test {

TEST(ErrorTest, CodesHaveStableNames) {
  EXPECT_EQ(ErrorCodeName(ErrorCode::kInvalidCsr), "invalid_csr");
  EXPECT_EQ(ErrorCodeName(ErrorCode::kForbidden), "forbidden");
  EXPECT_EQ(ErrorCodeName(ErrorCode::kConfig), "config_error");
}

// Codes cross the wire as names and come back as the same codes.
TEST(ErrorTest, EveryCodeRoundTripsThroughItsName) {
  for (int i = 0; i <= static_cast<int>(ErrorCode::kInternal); ++i) {
    const auto code = static_cast<ErrorCode>(i);
    EXPECT_EQ(ErrorCodeFromName(ErrorCodeName(code)), code) << ErrorCodeName(code);
  }
  EXPECT_EQ(ErrorCodeName(ErrorCode::kNodeBanned), "node_banned");
  EXPECT_EQ(ErrorCodeFromName("no_such_code"), std::nullopt);
  EXPECT_EQ(ErrorCodeFromName(""), std::nullopt);
}

TEST(ErrorTest, WithContextPrefixesTheMessage) {
  Result<int> r = WithContext(Error{ErrorCode::kIo, "disk full"}, "writing ca.key");
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kIo);
  EXPECT_EQ(r.error().ToString(), "io_error: writing ca.key: disk full");
}

}  // namespace error_test
}  // namespace mayfly
