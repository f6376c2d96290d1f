// StoreFollower: a daemon follows the changes other processes make to its
// store, and does not redo (re-sign the CRL for) the ones it made itself.
#include "store_follower.h"

#include <gtest/gtest.h>

#include <functional>
#include <thread>

#include "api_fixture.h"
#include "mayfly/ca_layout.h"
#include "support/store_fixture.h"
#include "support/wait.h"

namespace mayfly::testing {
namespace store_follower_test {

using namespace std::chrono_literals;

class StoreFollowerTest : public ApiTest {
 protected:
  uint64_t CrlsSigned() const { return rt_->metrics().crl_regenerations.load(); }
  // Another process on the same database (the CLI, or a PostgreSQL peer).
  std::unique_ptr<Store> AnotherProcess() {
    auto store = OpenStore(StoreOptionsFor(config_));
    EXPECT_TRUE(store) << store.error().ToString();
    return store ? std::move(*store) : nullptr;
  }
  void RevokeElsewhere(Store& store, const std::string& serial) {
    auto revoked = store.Revoke(RevokeSelector{.serial = serial}, RevocationReason::kUnspecified,
                                ToUnixSeconds(clock_.Now()), kRevokeEvent);
    ASSERT_TRUE(revoked) << revoked.error().ToString();
    ASSERT_EQ(revoked->size(), 1u);
  }
  void RevokeHere(const std::string& serial) {
    auto r = Post("/v1/admin/revoke", {{"serial", serial}}, AdminSocket());
    ASSERT_EQ(r.status, 200) << r.body;
  }
};

TEST_F(StoreFollowerTest, OwnRevocationIsSignedOnceAnotherProcesssIsFollowed) {
  TestNode mine = Enroll("web-1");
  TestNode theirs = Enroll("web-2");
  constexpr auto kPoll = 20ms;
  StoreFollower follower(*rt_, kPoll);

  const uint64_t before = CrlsSigned();
  RevokeHere(mine.serial);
  EXPECT_EQ(CrlsSigned(), before + 1);  // the handler's own, before it answers
  const int64_t mine_generation = rt_->store().ChangeGeneration().value();
  ASSERT_TRUE(WaitUntil([&] { return follower.applied_generation() == mine_generation; }));
  EXPECT_EQ(CrlsSigned(), before + 1) << "the follower signed again for this instance's own revocation";

  auto other = AnotherProcess();
  ASSERT_TRUE(other);
  RevokeElsewhere(*other, theirs.serial);
  EXPECT_TRUE(WaitUntil([&] { return rt_->revocations().IsRevoked(theirs.serial); }));
  EXPECT_TRUE(WaitUntil([&] { return CrlsSigned() > before + 1; }));
}

// Another process's change committed between two of this instance's, all
// within one poll: the follower must not take the range for its own.
TEST_F(StoreFollowerTest, AnotherProcesssChangeBetweenTwoOfOursIsFollowed) {
  TestNode first = Enroll("web-1");
  TestNode theirs = Enroll("web-2");
  TestNode last = Enroll("web-3");
  auto other = AnotherProcess();
  ASSERT_TRUE(other);
  StoreFollower follower(*rt_, 500ms);  // its first look comes after all three

  RevokeHere(first.serial);
  RevokeElsewhere(*other, theirs.serial);
  RevokeHere(last.serial);
  EXPECT_FALSE(rt_->revocations().IsRevoked(theirs.serial));  // nothing told this instance yet
  EXPECT_TRUE(WaitUntil([&] { return rt_->revocations().IsRevoked(theirs.serial); }));
}

// Applying an own change failed here (a cache rebuild, the CRL): the
// follower rebuilds from the store although the generation is its own, even
// when it had already skipped that generation.
TEST_F(StoreFollowerTest, AnOwnChangeThatFailedToApplyIsFollowed) {
  TestNode mine = Enroll("web-1");
  constexpr auto kPoll = 20ms;
  StoreFollower follower(*rt_, kPoll);
  RevokeHere(mine.serial);
  const uint64_t signed_here = CrlsSigned();
  rt_->AppliedOwnChange(std::unexpected(Error{ErrorCode::kStore, "disk full"}), "signing the CRL after a revocation");
  EXPECT_TRUE(WaitUntil([&] { return CrlsSigned() > signed_here; })) << "the follower did not rebuild";
}

}  // namespace store_follower_test
}  // namespace mayfly::testing
