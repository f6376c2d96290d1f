// The admission table alone: who is counted, who makes room for a new
// connection (handshaking before idle, oldest first, a source at its limit
// only among its own), and when a new connection is refused.
#include "admission.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "server_core.h"

namespace mayfly::net {
namespace admission_test {

using Stage = Admission::Stage;
using Verdict = Admission::Verdict;

// Stands in for a session: records that it was told to close.
class FakeSession final : public SessionBase {
 public:
  void OnServerShutdown() override {}
  void Evict() override { ++evictions; }
  int evictions = 0;
};

// Admitted connections, each with its session, given back at the end.
class Table {
 public:
  explicit Table(size_t max_connections, size_t max_per_peer = 100) : limits_{max_connections, max_per_peer} {}
  ~Table() {
    for (auto& c : conns_) admission_.Release(c.entry);
  }

  struct Conn {
    std::string peer;
    Admission::Entry* entry = nullptr;
    std::shared_ptr<FakeSession> session;
  };

  // Admits one from `peer`; returns its index, or -1 when refused
  // (`verdict` says why). The evicted session is told.
  int Admit(const std::string& peer, Verdict* verdict = nullptr) {
    auto decision = admission_.Admit(peer, limits_);
    if (verdict) *verdict = decision.verdict;
    if (decision.evicted) decision.evicted->Evict();
    if (decision.verdict != Verdict::kAdmitted) return -1;
    auto session = std::make_shared<FakeSession>();
    admission_.Attach(decision.entry, session);
    conns_.push_back({peer, decision.entry, session});
    return static_cast<int>(conns_.size()) - 1;
  }
  bool Enter(int i, Stage stage) { return admission_.Enter(conns_[i].entry, stage); }
  bool Evicted(int i) const { return conns_[i].session->evictions > 0; }
  // Which of the connections were told to close, in admission order.
  std::vector<int> EvictedOnes() const {
    std::vector<int> out;
    for (size_t i = 0; i < conns_.size(); ++i) {
      if (conns_[i].session->evictions > 0) out.push_back(static_cast<int>(i));
    }
    return out;
  }
  void Close(int i) {
    admission_.Release(conns_[i].entry);
    conns_[i].entry = nullptr;
  }

  Admission admission_;
  Admission::Limits limits_;
  std::vector<Conn> conns_;
};

TEST(AdmissionTest, UnderTheLimitsEveryoneIsAdmittedAndCounted) {
  Table t(3);
  EXPECT_EQ(t.Admit("10.0.0.1"), 0);
  EXPECT_EQ(t.Admit("10.0.0.1"), 1);
  EXPECT_EQ(t.Admit("10.0.0.2"), 2);
  EXPECT_EQ(t.admission_.size(), 3u);
  EXPECT_EQ(t.admission_.size_of("10.0.0.1"), 2u);
  EXPECT_TRUE(t.EvictedOnes().empty());
  t.Close(1);
  EXPECT_EQ(t.admission_.size(), 2u);
  EXPECT_EQ(t.admission_.size_of("10.0.0.1"), 1u);
}

TEST(AdmissionTest, AtTheLimitTheOldestHandshakingConnectionMakesRoom) {
  Table t(3);
  for (int i = 0; i < 3; ++i) t.Admit("10.0.0." + std::to_string(i));
  ASSERT_EQ(t.Admit("10.0.0.9"), 3);
  EXPECT_EQ(t.EvictedOnes(), std::vector<int>{0});
  ASSERT_EQ(t.Admit("10.0.0.9"), 4);
  EXPECT_EQ(t.EvictedOnes(), (std::vector<int>{0, 1}));
  EXPECT_EQ(t.admission_.size(), 3u);
  // The evicted connection learns it at its next step, whatever that is.
  EXPECT_FALSE(t.Enter(0, Stage::kBusy));
  EXPECT_FALSE(t.Enter(1, Stage::kHandshaking));
  EXPECT_TRUE(t.Enter(2, Stage::kBusy));
  // Giving back an evicted entry frees nothing twice.
  t.Close(0);
  EXPECT_EQ(t.admission_.size(), 3u);
}

TEST(AdmissionTest, HandshakingConnectionsGoBeforeIdleOnesAndIdleOnesLeastRecentFirst) {
  Table t(4);
  for (int i = 0; i < 4; ++i) t.Admit("10.0.0.1");
  // 0 and 1 become idle (1 first), then 0 serves another request and is
  // idle again, now the most recent; 2 is busy; 3 is still handshaking.
  ASSERT_TRUE(t.Enter(1, Stage::kBusy));
  ASSERT_TRUE(t.Enter(1, Stage::kIdle));
  ASSERT_TRUE(t.Enter(0, Stage::kBusy));
  ASSERT_TRUE(t.Enter(0, Stage::kIdle));
  ASSERT_TRUE(t.Enter(2, Stage::kBusy));
  t.Admit("10.0.0.2");  // 4: makes room by evicting 3, the only handshaking one
  EXPECT_EQ(t.EvictedOnes(), std::vector<int>{3});
  ASSERT_TRUE(t.Enter(4, Stage::kBusy));
  t.Admit("10.0.0.2");  // 5: the least recently idle is 1
  EXPECT_EQ(t.EvictedOnes(), (std::vector<int>{1, 3}));
  t.Admit("10.0.0.2");  // 6: then 5, handshaking, goes before 0, idle
  EXPECT_EQ(t.EvictedOnes(), (std::vector<int>{1, 3, 5}));
}

TEST(AdmissionTest, EnteringTheSameStageKeepsTheConnectionsPlace) {
  Table t(2);
  t.Admit("10.0.0.1");
  t.Admit("10.0.0.1");
  ASSERT_TRUE(t.Enter(0, Stage::kHandshaking));  // as a session's first step does
  t.Admit("10.0.0.1");
  EXPECT_EQ(t.EvictedOnes(), std::vector<int>{0});
}

TEST(AdmissionTest, WhenEveryConnectionIsBusyANewOneIsRefused) {
  Table t(2);
  t.Admit("10.0.0.1");
  t.Admit("10.0.0.2");
  ASSERT_TRUE(t.Enter(0, Stage::kBusy));
  ASSERT_TRUE(t.Enter(1, Stage::kBusy));
  Verdict verdict = Verdict::kAdmitted;
  EXPECT_EQ(t.Admit("10.0.0.3", &verdict), -1);
  EXPECT_EQ(verdict, Verdict::kOverLimit);
  EXPECT_TRUE(t.EvictedOnes().empty());
  // Once one is idle again it may make room.
  ASSERT_TRUE(t.Enter(1, Stage::kIdle));
  EXPECT_EQ(t.Admit("10.0.0.3", &verdict), 2);
  EXPECT_EQ(t.EvictedOnes(), std::vector<int>{1});
}

TEST(AdmissionTest, ASourceAtItsLimitMakesRoomOnlyAmongItsOwnConnections) {
  Table t(10, 2);
  t.Admit("10.0.0.9");                // 0: another source's, the oldest of all
  t.Admit("10.0.0.1");                // 1
  t.Admit("10.0.0.1");                // 2
  ASSERT_TRUE(t.Enter(1, Stage::kBusy));
  EXPECT_EQ(t.Admit("10.0.0.1"), 3);  // evicts 2, its own, not 0
  EXPECT_EQ(t.EvictedOnes(), std::vector<int>{2});
  ASSERT_TRUE(t.Enter(3, Stage::kBusy));
  Verdict verdict = Verdict::kAdmitted;
  EXPECT_EQ(t.Admit("10.0.0.1", &verdict), -1);  // both of its own busy
  EXPECT_EQ(verdict, Verdict::kOverPeerLimit);
  // Another source is not affected.
  EXPECT_EQ(t.Admit("10.0.0.2", &verdict), 4);
  EXPECT_EQ(verdict, Verdict::kAdmitted);
  EXPECT_EQ(t.admission_.size_of("10.0.0.1"), 2u);
  EXPECT_EQ(t.admission_.size(), 4u);
}

TEST(AdmissionTest, ASourceWithALimitOfOneReplacesItsOnlyConnection) {
  Table t(10, 1);
  t.Admit("10.0.0.1");
  EXPECT_EQ(t.Admit("10.0.0.1"), 1);
  EXPECT_EQ(t.EvictedOnes(), std::vector<int>{0});
  EXPECT_EQ(t.admission_.size_of("10.0.0.1"), 1u);
}

TEST(AdmissionTest, AConnectionAlreadyBeingDestroyedFreesItsPlaceWithoutBeingTold) {
  Admission admission;
  auto first = admission.Admit("10.0.0.1", {1, 1});
  ASSERT_EQ(first.verdict, Verdict::kAdmitted);
  {
    auto session = std::make_shared<FakeSession>();
    admission.Attach(first.entry, session);
  }  // gone, but the entry not given back yet (its destructor is running)
  auto second = admission.Admit("10.0.0.2", {1, 1});
  EXPECT_EQ(second.verdict, Verdict::kAdmitted);
  EXPECT_EQ(second.evicted, nullptr);
  EXPECT_EQ(admission.size(), 1u);
  admission.Release(first.entry);
  admission.Release(second.entry);
  EXPECT_EQ(admission.size(), 0u);
}

TEST(AdmissionTest, LimitsBelowOneCountAsOneAndNullEntriesAreFree) {
  Admission admission;
  auto only = admission.Admit("10.0.0.1", {0, 0});
  ASSERT_EQ(only.verdict, Verdict::kAdmitted);
  EXPECT_TRUE(admission.Enter(nullptr, Stage::kBusy));
  admission.Release(nullptr);
  EXPECT_EQ(admission.size(), 1u);
  admission.Release(only.entry);
}

}  // namespace admission_test
}  // namespace mayfly::net
