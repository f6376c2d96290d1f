// The daemon's group-commit queue: many submitting threads, every record
// and its audit event durable before its callback says so, a bad record
// failing alone.
#include "mayfly/commit_queue.h"

#include <gtest/gtest.h>

#include <atomic>
#include <barrier>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "support/store_fixture.h"
#include "support/temp_dir.h"

namespace mayfly {
namespace commit_queue_test {

using testing::TempDir;

CertRecord Cert(const std::string& serial) {
  return {.serial = serial, .spiffe_id = "spiffe://example.org/web", .not_after = 1000,
          .der = std::string(300, '\x30')};
}
AuditEvent Event(const std::string& serial) {
  return {.time = 1, .type = "issue", .actor = "test", .subject = serial, .result = "ok", .detail = "{}"};
}

using CommitQueueTest = testing::StoreFixture;

TEST_P(CommitQueueTest, ConcurrentSubmittersAreAllDurableWhenTold) {
  constexpr int kThreads = 4, kPerThread = 200;
  std::atomic<int> ok{0}, failed{0}, not_yet_stored{0};
  {
    CommitQueue queue(*store_, 64, std::chrono::microseconds(500));
    std::barrier start(kThreads);
    std::vector<std::thread> workers;
    for (int t = 0; t < kThreads; ++t) {
      workers.emplace_back([&, t] {
        start.arrive_and_wait();
        for (int i = 0; i < kPerThread; ++i) {
          const std::string serial = std::to_string(t) + "-" + std::to_string(i);
          queue.Submit(Cert(serial), Event(serial), [&, serial](Result<void> r) {
            if (!r) return void(++failed);
            ++ok;
            // Durable before the callback: a reader sees the row now.
            auto row = store_->GetCertificate(serial);
            if (!row || !*row) ++not_yet_stored;
          });
        }
      });
    }
    for (auto& w : workers) w.join();
    queue.Flush();
    EXPECT_LT(queue.batches_committed(), static_cast<uint64_t>(kThreads * kPerThread)) << "no batching at all";
  }
  EXPECT_EQ(ok, kThreads * kPerThread);
  EXPECT_EQ(failed, 0);
  EXPECT_EQ(not_yet_stored, 0);
  auto chain = store_->VerifyAuditChain();
  ASSERT_TRUE(chain) << chain.error().ToString();
  EXPECT_EQ(chain->first_bad_id, std::nullopt);
  EXPECT_EQ(chain->events, kThreads * kPerThread);
}

TEST_P(CommitQueueTest, ADuplicateSerialFailsAloneAndLeavesNoAuditEvent) {
  ASSERT_TRUE(store_->InsertCertificates(std::vector<CertRecord>{Cert("taken")}));
  std::mutex mu;
  std::vector<std::pair<std::string, bool>> results;
  {
    CommitQueue queue(*store_);
    for (const char* serial : {"a", "taken", "b"}) {
      queue.Submit(Cert(serial), Event(serial), [&, s = std::string(serial)](Result<void> r) {
        std::lock_guard lock(mu);
        results.emplace_back(s, r.has_value());
      });
    }
    queue.Flush();
  }
  ASSERT_EQ(results.size(), 3u);
  for (const auto& [serial, ok] : results) EXPECT_EQ(ok, serial != "taken") << serial;
  auto events = store_->ListAudit(0, 100, std::nullopt);
  ASSERT_TRUE(events);
  ASSERT_EQ(events->size(), 2u);
  for (const AuditEvent& e : *events) EXPECT_NE(e.subject, "taken");
}

AuditEvent AdminEvent(const std::string& subject) {
  return {.time = 1, .type = "revoke", .actor = "admin", .subject = subject, .result = "ok", .detail = "{}"};
}

// Audit events of their own share the queue with issuances: one writer of
// the chain, in submission order, and a bad certificate beside them in a
// batch fails alone.
TEST_P(CommitQueueTest, AuditEventsAloneJoinTheChainInOrderAndSurviveABadNeighbour) {
  ASSERT_TRUE(store_->InsertCertificates(std::vector<CertRecord>{Cert("taken")}));
  std::mutex mu;
  std::vector<std::pair<std::string, bool>> results;
  auto note = [&](std::string what) {
    return [&, what](Result<void> r) {
      std::lock_guard lock(mu);
      results.emplace_back(what, r.has_value());
    };
  };
  {
    // A long linger with an announcement outstanding keeps all five in one
    // batch, so the duplicate fails the batch and the retry path runs.
    CommitQueue queue(*store_, 64, std::chrono::milliseconds(200));
    std::optional<CommitQueue::Announcement> held = queue.Announce();
    queue.SubmitAudit(AdminEvent("first"), note("first"));
    queue.Submit(Cert("a"), Event("a"), note("a"));
    queue.Submit(Cert("taken"), Event("taken"), note("taken"));
    queue.SubmitAudit(AdminEvent("second"), note("second"));
    queue.Submit(Cert("b"), Event("b"), note("b"));
    held.reset();
    queue.Flush();
  }
  ASSERT_EQ(results.size(), 5u);
  for (const auto& [what, ok] : results) EXPECT_EQ(ok, what != "taken") << what;
  auto events = store_->ListAudit(0, 100, std::nullopt);
  ASSERT_TRUE(events);
  std::vector<std::string> subjects;
  for (auto it = events->rbegin(); it != events->rend(); ++it) subjects.push_back(it->subject);  // oldest first
  EXPECT_EQ(subjects, (std::vector<std::string>{"first", "a", "second", "b"}));
  auto count = store_->CountCertificates(std::nullopt, 0);
  ASSERT_TRUE(count);
  EXPECT_EQ(*count, 3);  // taken, a, b
  auto chain = store_->VerifyAuditChain();
  ASSERT_TRUE(chain) << chain.error().ToString();
  EXPECT_EQ(chain->first_bad_id, std::nullopt);
  EXPECT_EQ(chain->events, 4);
}

TEST_P(CommitQueueTest, DestroyingTheQueueCommitsWhatIsQueued) {
  std::atomic<int> ok{0};
  {
    CommitQueue queue(*store_, 8, std::chrono::milliseconds(50));
    for (int i = 0; i < 100; ++i) {
      queue.Submit(Cert("s" + std::to_string(i)), Event("s"), [&](Result<void> r) { ok += r ? 1 : 0; });
    }
  }
  EXPECT_EQ(ok, 100);
  auto count = store_->CountCertificates(std::nullopt, 0);
  ASSERT_TRUE(count);
  EXPECT_EQ(*count, 100);
}

// A linger far longer than any test: a batch that waited it out would fail
// the time bounds below.
constexpr auto kLongLinger = std::chrono::seconds(30);
constexpr auto kWellUnderLinger = std::chrono::seconds(10);
// How long a committer that did not wait would have had to commit the first
// record alone. A commit that must *not* happen has no event to await, so
// this is a window, not a wait for a condition.
constexpr auto kWindowToMisbehave = std::chrono::milliseconds(50);

TEST_P(CommitQueueTest, ALoneRecordWithNothingAnnouncedCommitsAtOnce) {
  CommitQueue queue(*store_, 64, kLongLinger);
  const auto start = std::chrono::steady_clock::now();
  queue.Submit(Cert("a1"), Event("a1"), [](Result<void> r) { EXPECT_TRUE(r); });
  queue.Flush();
  EXPECT_LT(std::chrono::steady_clock::now() - start, kWellUnderLinger);
  EXPECT_EQ(queue.batches_committed(), 1u);
}

TEST_P(CommitQueueTest, ABatchWaitsForAnAnnouncedRecordAndNoLonger) {
  CommitQueue queue(*store_, 64, kLongLinger);
  std::atomic<int> ok{0};
  auto announced = queue.Announce();  // a request has started signing
  queue.Submit(Cert("b1"), Event("b1"), [&](Result<void> r) { ok += r ? 1 : 0; });
  // The first record waits for the announced one, which arrives later.
  std::this_thread::sleep_for(kWindowToMisbehave);
  EXPECT_EQ(ok, 0) << "committed without the announced record";
  const auto start = std::chrono::steady_clock::now();
  queue.Submit(std::move(announced), Cert("b2"), Event("b2"), [&](Result<void> r) { ok += r ? 1 : 0; });
  queue.Flush();
  EXPECT_LT(std::chrono::steady_clock::now() - start, kWellUnderLinger) << "waited out the linger";
  EXPECT_EQ(ok, 2);
  EXPECT_EQ(queue.batches_committed(), 1u) << "both records in one transaction";
}

TEST_P(CommitQueueTest, AWithdrawnAnnouncementEndsTheWait) {
  CommitQueue queue(*store_, 64, kLongLinger);
  std::atomic<int> ok{0};
  std::optional<CommitQueue::Announcement> announced(queue.Announce());
  queue.Submit(Cert("c1"), Event("c1"), [&](Result<void> r) { ok += r ? 1 : 0; });
  std::this_thread::sleep_for(kWindowToMisbehave);
  EXPECT_EQ(ok, 0);
  const auto start = std::chrono::steady_clock::now();
  announced.reset();  // the request failed before signing: nothing to wait for
  queue.Flush();
  EXPECT_LT(std::chrono::steady_clock::now() - start, kWellUnderLinger) << "waited out the linger";
  EXPECT_EQ(ok, 1);
}

INSTANTIATE_TEST_SUITE_P(Backends, CommitQueueTest, testing::StoreBackends(), testing::BackendName);

}  // namespace commit_queue_test
}  // namespace mayfly
