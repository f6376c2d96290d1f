// Node recovery challenges in the store: single use (across two stores on
// one database too), expiry, only the node's latest certificate recovers,
// a ban refuses, and a refusal leaves everything as it was.
#include <gtest/gtest.h>

#include <atomic>
#include <barrier>
#include <thread>
#include <vector>

#include "mayfly/store.h"
#include "support/store_fixture.h"

namespace mayfly {
namespace store_recovery_test {

constexpr int64_t kNow = 5000;

class StoreRecoveryTest : public testing::StoreFixture {
 protected:
  void SetUp() override {
    StoreFixture::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    ASSERT_TRUE(store_->CreateToken(TokenRecord{.hash = "t", .node = "web-1", .created_at = 0, .expires_at = kNow},
                                    testing::TestEvent("token")));
    ASSERT_TRUE(store_->ConsumeTokenAndEnroll("t", 10, NodeCert("01", 100)));
  }
  static CertRecord NodeCert(const std::string& serial, int64_t not_after) {
    return {.serial = serial, .spiffe_id = "spiffe://example.org/mayfly/node/web-1", .node = "web-1",
            .kind = CertKind::kNode, .not_after = not_after, .der = "der-" + serial};
  }
  static AuditEvent Event(const std::string& serial) {
    return {.time = kNow, .type = "recover", .actor = "127.0.0.1", .subject = "web-1", .result = "ok",
            .detail = "{\"serial\":\"" + serial + "\"}"};
  }
  void Challenge(const std::string& hash, int64_t expires_at = kNow + 60) {
    auto r = store_->CreateRecoveryChallenge(hash, expires_at, kNow);
    ASSERT_TRUE(r) << r.error().ToString();
  }
  Result<void> Recover(Store& store, const std::string& hash, const std::string& old_serial,
                       const std::string& new_serial, int64_t now = kNow) {
    return store.ConsumeChallengeAndRecover(hash, now, old_serial, NodeCert(new_serial, now + 100),
                                            Event(new_serial));
  }
};

TEST_P(StoreRecoveryTest, AChallengeRecoversOnceAcrossStores) {
  Challenge("c1");
  auto other = OpenAnother();
  ASSERT_TRUE(other);
  auto r = Recover(*other, "c1", "01", "02");
  ASSERT_TRUE(r) << r.error().ToString();
  auto cert = store_->GetCertificate("02").value();
  ASSERT_TRUE(cert);
  EXPECT_EQ(cert->node, "web-1");
  EXPECT_EQ(store_->ListAudit(0, 10, std::nullopt).value().front().type, "recover");

  auto replay = Recover(*store_, "c1", "02", "03");
  ASSERT_FALSE(replay);
  EXPECT_EQ(replay.error().code, ErrorCode::kUnauthenticated) << replay.error().ToString();
  EXPECT_FALSE(store_->GetCertificate("03").value());
}

TEST_P(StoreRecoveryTest, ExpiredAndUnknownChallengesAreRefused) {
  Challenge("old", kNow + 1);
  for (const char* hash : {"old", "none"}) {
    auto r = Recover(*store_, hash, "01", "02", kNow + 1);
    ASSERT_FALSE(r) << hash;
    EXPECT_EQ(r.error().code, ErrorCode::kUnauthenticated) << hash;
  }
  // Creating a challenge drops the expired ones.
  ASSERT_TRUE(store_->CreateRecoveryChallenge("new", kNow + 70, kNow + 10));
  EXPECT_FALSE(store_->CreateRecoveryChallenge("new", kNow + 70, kNow + 10));
  EXPECT_FALSE(store_->GetCertificate("02").value());
}

TEST_P(StoreRecoveryTest, OnlyTheLatestNodeCertificateRecovers) {
  Challenge("c1");
  Challenge("c2");
  ASSERT_TRUE(Recover(*store_, "c1", "01", "02"));
  // 01 is superseded by 02: it may not recover again, and the refusal
  // leaves the challenge usable for the latest.
  auto stale = Recover(*store_, "c2", "01", "03");
  ASSERT_FALSE(stale);
  EXPECT_EQ(stale.error().code, ErrorCode::kRecoveryRefused) << stale.error().ToString();
  EXPECT_FALSE(store_->GetCertificate("03").value());
  auto latest = Recover(*store_, "c2", "02", "04");
  EXPECT_TRUE(latest) << latest.error().ToString();
}

TEST_P(StoreRecoveryTest, ABannedNodeIsRefused) {
  Challenge("c1");
  ASSERT_TRUE(store_->Revoke({.node = "web-1"}, RevocationReason::kKeyCompromise, 50, testing::kRevokeEvent));
  auto r = Recover(*store_, "c1", "01", "02");
  ASSERT_FALSE(r);
  // 01 was revoked with its node: refused as revoked (or banned), never issued.
  EXPECT_TRUE(r.error().code == ErrorCode::kRecoveryRefused || r.error().code == ErrorCode::kNodeBanned)
      << r.error().ToString();
  EXPECT_FALSE(store_->GetCertificate("02").value());
}

// Eight recoveries of one certificate at once, each with its own challenge,
// through two stores on one database (two instances): exactly one
// certificate; the others see it as the latest and are refused.
TEST_P(StoreRecoveryTest, ConcurrentRecoveriesOfOneNodeYieldOneCertificate) {
  constexpr int kThreads = 8;
  for (int i = 0; i < kThreads; ++i) Challenge("race" + std::to_string(i));
  auto other = OpenAnother();
  ASSERT_TRUE(other);
  std::barrier start(kThreads);
  std::atomic<int> winners{0}, refused{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      start.arrive_and_wait();
      auto r = Recover(i % 2 == 0 ? *store_ : *other, "race" + std::to_string(i), "01", "f" + std::to_string(i));
      if (r) {
        ++winners;
      } else if (r.error().code == ErrorCode::kRecoveryRefused) {
        ++refused;
      } else {
        ADD_FAILURE() << r.error().ToString();
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(winners.load(), 1);
  EXPECT_EQ(refused.load(), kThreads - 1);
  EXPECT_EQ(store_->ListCertificates({.node = "web-1"}).value().certs.size(), 2u);
}

INSTANTIATE_TEST_SUITE_P(Backends, StoreRecoveryTest, testing::StoreBackends(), testing::BackendName);

}  // namespace store_recovery_test
}  // namespace mayfly
