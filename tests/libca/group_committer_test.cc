// Group commit: many threads' certificates land in shared transactions, each durable on return.
#include "mayfly/store.h"

#include <gtest/gtest.h>

#include <atomic>
#include <barrier>
#include <thread>

#include "support/store_fixture.h"
#include "support/temp_dir.h"

namespace mayfly {
namespace group_committer_test {

using testing::TempDir;

CertRecord Cert(std::string serial) {
  return {.serial = std::move(serial), .spiffe_id = "spiffe://example.org/web", .not_after = 1000,
          .der = std::string(500, '\x30')};
}

class GroupCommitterTest : public testing::StoreFixture {
 protected:
  // Runs `threads` threads, each committing `per_thread` records named
  // "<thread>-<i>" (or what `name` says), all starting together. Returns
  // how many commits failed.
  int RunThreads(GroupCommitter& committer, int threads, int per_thread,
                 const std::function<std::string(int, int)>& name) {
    std::barrier start(threads);
    std::atomic<int> failures{0};
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t) {
      workers.emplace_back([&, t] {
        start.arrive_and_wait();
        for (int i = 0; i < per_thread; ++i) {
          if (auto r = committer.Commit(Cert(name(t, i))); !r) {
            EXPECT_EQ(r.error().code, ErrorCode::kConflict) << r.error().ToString();
            ++failures;
          }
        }
      });
    }
    for (auto& worker : workers) worker.join();
    return failures.load();
  }
  static std::string Name(int t, int i) { return std::to_string(t) + "-" + std::to_string(i); }

};

TEST_F(GroupCommitterTest, EightThreadsShareFewerTransactionsThanRecords) {
  constexpr int kThreads = 8, kPerThread = 200;
  GroupCommitter committer(*store_);
  EXPECT_EQ(RunThreads(committer, kThreads, kPerThread, Name), 0);
  EXPECT_EQ(store_->CountCertificates(std::nullopt, 0).value(), kThreads * kPerThread);
  for (int t = 0; t < kThreads; ++t) {
    for (int i = 0; i < kPerThread; ++i) ASSERT_TRUE(store_->GetCertificate(Name(t, i)).value()) << Name(t, i);
  }
  const uint64_t batches = committer.batches_committed();
  std::printf("%d records in %llu transactions\n", kThreads * kPerThread,
              static_cast<unsigned long long>(batches));
  EXPECT_LT(batches, static_cast<uint64_t>(kThreads * kPerThread));
  EXPECT_GE(batches, static_cast<uint64_t>(kPerThread)) << "a thread's records are committed one at a time";
}

TEST_F(GroupCommitterTest, OnlyTheDuplicateFails) {
  ASSERT_TRUE(store_->InsertCertificates(std::vector{Cert("dup")}));
  GroupCommitter committer(*store_);
  const auto name = [](int t, int i) { return t == 3 && i == 20 ? std::string("dup") : Name(t, i); };
  EXPECT_EQ(RunThreads(committer, 8, 40, name), 1);
  EXPECT_EQ(store_->CountCertificates(std::nullopt, 0).value(), 8 * 40);
}

TEST_F(GroupCommitterTest, BatchesNeverExceedTheirLimit) {
  GroupCommitter committer(*store_, /*max_batch=*/4);
  EXPECT_EQ(RunThreads(committer, 8, 25, Name), 0);
  EXPECT_GE(committer.batches_committed(), 8u * 25u / 4u);
  EXPECT_EQ(store_->CountCertificates(std::nullopt, 0).value(), 8 * 25);
}

TEST_F(GroupCommitterTest, AloneEachCommitIsItsOwnTransaction) {
  GroupCommitter committer(*store_);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(committer.Commit(Cert(Name(0, i))));
  EXPECT_EQ(committer.batches_committed(), 3u);
  auto clash = committer.Commit(Cert(Name(0, 1)));
  ASSERT_FALSE(clash);
  EXPECT_EQ(clash.error().code, ErrorCode::kConflict);
  EXPECT_EQ(committer.batches_committed(), 3u);
}

TEST_F(GroupCommitterTest, RecordAndAuditEventCommitTogether) {
  GroupCommitter committer(*store_);
  const AuditEvent event{.time = 100, .type = "issue", .subject = "0a", .result = "ok"};
  ASSERT_TRUE(committer.Commit(Cert("0a"), event));
  EXPECT_FALSE(committer.Commit(Cert("0a"), event));
  auto events = store_->ListAudit(0, 10, std::nullopt).value();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].subject, "0a");
  EXPECT_TRUE(store_->GetCertificate("0a").value());
}

}  // namespace group_committer_test
}  // namespace mayfly
