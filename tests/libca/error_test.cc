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

TEST(ErrorTest, WithContextPrefixesTheMessage) {
  Result<int> r = WithContext(Error{ErrorCode::kIo, "disk full"}, "writing ca.key");
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kIo);
  EXPECT_EQ(r.error().ToString(), "io_error: writing ca.key: disk full");
}

}  // namespace error_test
}  // namespace mayfly
