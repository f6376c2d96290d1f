// Join tokens and nodes in the store: single use under a race, expiry, enrollment.
#include "mayfly/store.h"

#include <gtest/gtest.h>

#include <atomic>
#include <barrier>
#include <thread>

#include "support/store_fixture.h"
#include "support/temp_dir.h"

namespace mayfly {
namespace store_tokens_test {

using testing::TempDir;

constexpr int64_t kNow = 5000;

class StoreTokensTest : public testing::StoreFixture {
 protected:
  void CreateToken(const std::string& hash, const std::string& node, int64_t expires_at) {
    auto r = store_->CreateToken(TokenRecord{.hash = hash, .node = node, .created_at = kNow - 10,
                                             .expires_at = expires_at}, testing::TestEvent("token"));
    ASSERT_TRUE(r) << r.error().ToString();
  }
  static CertRecord NodeCert(const std::string& serial) {
    return {.serial = serial, .spiffe_id = "spiffe://example.org/mayfly/node/web-1",
            .kind = CertKind::kNode, .not_after = kNow + 3600};
  }

};

TEST_P(StoreTokensTest, TokenEnrollsItsNodeOnce) {
  CreateToken("h1", "web-1", kNow + 60);
  auto node = store_->ConsumeTokenAndEnroll("h1", kNow, NodeCert("0a"));
  ASSERT_TRUE(node) << node.error().ToString();
  EXPECT_EQ(*node, "web-1");
  auto cert = store_->GetCertificate("0a").value();
  ASSERT_TRUE(cert);
  EXPECT_EQ(cert->node, "web-1");
  auto record = store_->GetNode("web-1").value();
  ASSERT_TRUE(record);
  EXPECT_EQ(record->enrolled_at, kNow);
  EXPECT_FALSE(record->banned);

  auto again = store_->ConsumeTokenAndEnroll("h1", kNow + 1, NodeCert("0b"));
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, ErrorCode::kInvalidToken);
  EXPECT_NE(again.error().message.find("already been used"), std::string::npos) << again.error().message;
  EXPECT_FALSE(store_->GetCertificate("0b").value());
}

TEST_P(StoreTokensTest, RefusalsSayWhyAndNothingSecret) {
  CreateToken("h-expired", "secret-node-name", kNow);
  for (const auto& [hash, why] : {std::pair{"h-expired", "expired"}, std::pair{"h-none", "unknown"}}) {
    auto r = store_->ConsumeTokenAndEnroll(hash, kNow, NodeCert("0c"));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidToken);
    EXPECT_NE(r.error().message.find(why), std::string::npos) << r.error().message;
    EXPECT_EQ(r.error().message.find(hash), std::string::npos) << r.error().message;
    EXPECT_EQ(r.error().message.find("secret-node-name"), std::string::npos) << r.error().message;
  }
  EXPECT_FALSE(store_->GetNode("secret-node-name").value());
}

TEST_P(StoreTokensTest, FailedCertificateInsertLeavesTheTokenUnused) {
  CertRecord existing = NodeCert("0d");
  ASSERT_TRUE(store_->InsertCertificates(std::span(&existing, 1)));
  CreateToken("h2", "web-2", kNow + 60);
  auto clash = store_->ConsumeTokenAndEnroll("h2", kNow, NodeCert("0d"));
  ASSERT_FALSE(clash);
  EXPECT_EQ(clash.error().code, ErrorCode::kConflict);
  EXPECT_FALSE(store_->GetNode("web-2").value());
  EXPECT_TRUE(store_->ConsumeTokenAndEnroll("h2", kNow, NodeCert("0e")));
}

TEST_P(StoreTokensTest, EnrollingLiftsABan) {
  CertRecord old_cert = NodeCert("01");
  old_cert.node = "web-1";  // issued before the ban
  ASSERT_TRUE(store_->InsertCertificates(std::span(&old_cert, 1)));
  ASSERT_TRUE(store_->Revoke({.node = "web-1"}, RevocationReason::kKeyCompromise, kNow, testing::kRevokeEvent));
  EXPECT_EQ(testing::BannedNodeNames(*store_), std::vector<std::string>{"web-1"});
  CreateToken("h3", "web-1", kNow + 60);
  ASSERT_TRUE(store_->ConsumeTokenAndEnroll("h3", kNow + 5, NodeCert("02")));
  auto node = store_->GetNode("web-1").value();
  EXPECT_FALSE(node->banned);
  EXPECT_FALSE(node->banned_at);
  EXPECT_EQ(node->enrolled_at, kNow + 5);
  EXPECT_TRUE(testing::BannedNodeNames(*store_).empty());
}

TEST_P(StoreTokensTest, DuplicateTokenHashConflicts) {
  CreateToken("h4", "web-1", kNow + 60);
  auto r = store_->CreateToken(TokenRecord{.hash = "h4", .node = "web-2", .created_at = kNow,
                                           .expires_at = kNow + 60}, testing::TestEvent("token"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kConflict);
}

TEST_P(StoreTokensTest, EightThreadsRaceForOneTokenAndOneWins) {
  CreateToken("race", "web-9", kNow + 60);
  constexpr int kThreads = 8;
  std::barrier start(kThreads);
  std::atomic<int> winners{0}, used{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      start.arrive_and_wait();
      auto r = store_->ConsumeTokenAndEnroll("race", kNow, NodeCert("f" + std::to_string(i)));
      if (r) {
        ++winners;
      } else if (r.error().code == ErrorCode::kInvalidToken) {
        ++used;
      } else {
        ADD_FAILURE() << r.error().ToString();
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(winners.load(), 1);
  EXPECT_EQ(used.load(), kThreads - 1);
  EXPECT_EQ(store_->ListCertificates({.node = "web-9"}).value().certs.size(), 1u);
}

INSTANTIATE_TEST_SUITE_P(Backends, StoreTokensTest, testing::StoreBackends(), testing::BackendName);

}  // namespace store_tokens_test
}  // namespace mayfly
