// A ban invalidates the node's outstanding join tokens in its own
// transaction; only a token created after the ban lifts it.
#include <gtest/gtest.h>

#include "mayfly/store.h"
#include "support/store_fixture.h"

namespace mayfly {
namespace store_ban_tokens_test {

constexpr int64_t kNow = 5000;

class StoreBanTokensTest : public testing::StoreFixture {
 protected:
  void CreateToken(const std::string& hash, const std::string& node, int64_t created_at) {
    auto r = store_->CreateToken(
        TokenRecord{.hash = hash, .node = node, .created_at = created_at, .expires_at = kNow + 3600},
        testing::TestEvent("token"));
    ASSERT_TRUE(r) << r.error().ToString();
  }
  static CertRecord NodeCert(const std::string& serial) {
    return {.serial = serial, .spiffe_id = "spiffe://example.org/mayfly/node/web-1", .kind = CertKind::kNode,
            .not_after = kNow + 3600};
  }
};

TEST_P(StoreBanTokensTest, TokensMadeBeforeABanCannotLiftIt) {
  CreateToken("t0", "web-1", kNow - 20);
  CreateToken("t1", "web-1", kNow - 10);   // made before the ban, never used
  CreateToken("other", "web-2", kNow - 10);  // another node's: untouched
  ASSERT_TRUE(store_->ConsumeTokenAndEnroll("t0", kNow - 5, NodeCert("01")));
  ASSERT_TRUE(store_->Revoke({.node = "web-1"}, RevocationReason::kKeyCompromise, kNow, testing::kRevokeEvent));

  auto refused = store_->ConsumeTokenAndEnroll("t1", kNow + 1, NodeCert("02"));
  ASSERT_FALSE(refused) << "a token made before the ban lifted it";
  EXPECT_EQ(refused.error().code, ErrorCode::kInvalidToken);
  EXPECT_NE(refused.error().message.find("invalidated when its node was banned"), std::string::npos)
      << refused.error().message;
  EXPECT_TRUE(store_->GetNode("web-1").value()->banned);
  EXPECT_FALSE(store_->GetCertificate("02").value());
  // A used token still says it was used.
  auto used = store_->ConsumeTokenAndEnroll("t0", kNow + 1, NodeCert("03"));
  ASSERT_FALSE(used);
  EXPECT_NE(used.error().message.find("already been used"), std::string::npos) << used.error().message;

  EXPECT_TRUE(store_->ConsumeTokenAndEnroll("other", kNow + 1, NodeCert("04")));

  CreateToken("t2", "web-1", kNow + 2);  // made after the ban
  ASSERT_TRUE(store_->ConsumeTokenAndEnroll("t2", kNow + 3, NodeCert("05")));
  EXPECT_FALSE(store_->GetNode("web-1").value()->banned);
}

// A ban before the node ever enrolled invalidates its tokens too, and so
// does a second ban of a banned node (for tokens made in between).
TEST_P(StoreBanTokensTest, EveryBanInvalidatesTheTokensOutstandingThen) {
  CreateToken("early", "db-1", kNow - 10);
  ASSERT_TRUE(store_->Revoke({.node = "db-1"}, RevocationReason::kUnspecified, kNow, testing::kRevokeEvent));
  EXPECT_FALSE(store_->ConsumeTokenAndEnroll("early", kNow + 1, NodeCert("11")));
  CreateToken("between", "db-1", kNow + 2);
  ASSERT_TRUE(store_->Revoke({.node = "db-1"}, RevocationReason::kUnspecified, kNow + 3, testing::kRevokeEvent));
  EXPECT_EQ(store_->GetNode("db-1").value()->banned_at, kNow);  // the first ban's time stays
  EXPECT_FALSE(store_->ConsumeTokenAndEnroll("between", kNow + 4, NodeCert("12")));
  CreateToken("after", "db-1", kNow + 5);
  EXPECT_TRUE(store_->ConsumeTokenAndEnroll("after", kNow + 6, NodeCert("13")));
}

INSTANTIATE_TEST_SUITE_P(Backends, StoreBanTokensTest, testing::StoreBackends(), testing::BackendName);

}  // namespace store_ban_tokens_test
}  // namespace mayfly
