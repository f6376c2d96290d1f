// The change generation's bookkeeping: which generations a store object's
// own transactions produced (Store::TakeOwnChanges), so a daemon rebuilds
// its caches for the other processes' changes only.
#include <gtest/gtest.h>

#include "mayfly/store.h"
#include "support/store_fixture.h"

namespace mayfly {
namespace store_changes_test {

constexpr int64_t kNow = 5000;

class StoreChangesTest : public testing::StoreFixture {
 protected:
  static CertRecord NodeCert(const std::string& serial, const std::string& node) {
    return {.serial = serial, .spiffe_id = "spiffe://example.org/mayfly/node/" + node, .node = node,
            .kind = CertKind::kNode, .not_after = kNow + 3600};
  }
};

TEST_P(StoreChangesTest, OwnChangesAreTheGenerationsThisStoreCommitted) {
  const int64_t start = store_->ChangeGeneration().value();
  auto other = OpenAnother();
  ASSERT_TRUE(other);
  ASSERT_TRUE(store_->InsertCertificates(std::vector{NodeCert("01", "web-1")}));  // no change to follow
  ASSERT_TRUE(store_->Revoke({.serial = "01"}, RevocationReason::kUnspecified, kNow, testing::kRevokeEvent));
  ASSERT_TRUE(other->QuarantineNode("web-2", "issuance_surge", testing::TestEvent("anomaly")).value());
  ASSERT_TRUE(store_->QuarantineNode("web-3", "issuance_surge", testing::TestEvent("anomaly")).value());
  EXPECT_EQ(store_->ChangeGeneration().value(), start + 3);
  EXPECT_EQ(store_->TakeOwnChanges(), (std::vector<int64_t>{start + 1, start + 3}));
  EXPECT_TRUE(store_->TakeOwnChanges().empty()) << "each is returned once";
  EXPECT_EQ(other->TakeOwnChanges(), (std::vector<int64_t>{start + 2}));
}

// A transaction that moved the generation and then rolled back produced
// nothing: the value may be another process's next.
TEST_P(StoreChangesTest, RolledBackAndUnchangingWritesProduceNone) {
  ASSERT_TRUE(store_->InsertCertificates(std::vector{NodeCert("01", "web-1")}));
  ASSERT_TRUE(store_->Revoke({.node = "web-1"}, RevocationReason::kUnspecified, kNow, testing::kRevokeEvent));
  ASSERT_TRUE(store_->CreateToken(TokenRecord{.hash = "t", .node = "web-1", .created_at = kNow + 1,
                                              .expires_at = kNow + 3600},
                                  testing::TestEvent("token")));
  const int64_t banned = store_->ChangeGeneration().value();
  (void)store_->TakeOwnChanges();
  // Lifting the ban moves the generation; the duplicate serial then fails the whole enrollment.
  auto refused = store_->ConsumeTokenAndEnroll("t", kNow + 2, NodeCert("01", "web-1"));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kConflict);
  ASSERT_TRUE(store_->QuarantineNode("web-9", "issuance_surge", testing::TestEvent("anomaly")).value());
  EXPECT_FALSE(store_->QuarantineNode("web-9", "refusal_burst", testing::TestEvent("anomaly")).value());  // changes nothing
  const int64_t quarantined = store_->ChangeGeneration().value();
  EXPECT_EQ(quarantined, banned + 1);
  EXPECT_EQ(store_->TakeOwnChanges(), (std::vector<int64_t>{quarantined}));
}

INSTANTIATE_TEST_SUITE_P(Backends, StoreChangesTest, testing::StoreBackends(), testing::BackendName);

}  // namespace store_changes_test
}  // namespace mayfly
