// The daemon's threads under a store that does not answer: work that waits
// on the store runs on the store worker, so the I/O threads keep serving.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <algorithm>
#include <boost/json.hpp>
#include <chrono>
#include <thread>

#include "support/ca_fixture.h"
#include "support/wait.h"

namespace mayfly {
namespace {

using namespace std::chrono_literals;

// An open transaction holding the SQLite write lock, as another process
// writing the database (or a slow disk's fsync) would.
class WriteLock {
 public:
  explicit WriteLock(const std::string& path) {
    EXPECT_EQ(sqlite3_open(path.c_str(), &db_), SQLITE_OK);
    EXPECT_EQ(sqlite3_exec(db_, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), SQLITE_OK) << sqlite3_errmsg(db_);
  }
  ~WriteLock() { Release(); }
  void Release() {
    if (db_ == nullptr) return;
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    sqlite3_close(db_);
    db_ = nullptr;
  }

 private:
  sqlite3* db_ = nullptr;
};

TEST(StoreWorkerTest, EnrollmentsWaitingOnTheStoreDoNotHoldUpTheIoThreads) {
  testing::CaFixture ca;
  ca.Init("[limits]\nenroll_per_ip_per_minute = 1000\n");
  ca.Start();
  // More enrollments than the daemon has I/O threads (one per core, at
  // least two): on those threads they would leave none to answer anyone.
  const int waiting = static_cast<int>(std::max(4u, 2 * std::thread::hardware_concurrency()));
  const std::string csr = testing::OpensslCsr(ca.Path("n.key"), ca.Path("n.csr"), "");
  // Well-formed, never created: consuming it needs the write lock.
  testing::WriteTextFile(ca.Path("enroll.json"),
                         boost::json::serialize(boost::json::object{
                             {"token", "node-9." + std::string(64, 'a')}, {"csr", csr}}));

  WriteLock lock(ca.Path("ca/ca.db"));
  std::vector<std::unique_ptr<testing::ChildProcess>> enrollments;
  for (int i = 0; i < waiting; ++i) {
    enrollments.push_back(testing::ChildProcess::Start(
        {"/usr/bin/curl", "-s", "-o", "/dev/null", "-w", "status=%{http_code}\n", "--cacert", ca.Path("ca/root.pem"),
         "-X", "POST", "--data", "@" + ca.Path("enroll.json"), ca.api() + "/v1/enroll"}));
  }
  // Every enrollment has arrived: two wait on the lock in the store
  // worker's threads, the rest in its queue.
  ASSERT_TRUE(testing::WaitUntil([&] { return ca.Metric("mayfly_store_worker_queued") == waiting - 2; }, 20s))
      << "queued: " << ca.Metric("mayfly_store_worker_queued") << "; an enrollment: " << enrollments[0]->output()
      << "; the daemon: " << ca.daemon()->output();

  // The store's busy wait is 5 s: an answer well within it came from an
  // I/O thread no enrollment holds.
  const auto start = std::chrono::steady_clock::now();
  auto bundle = testing::RunCommand("curl -s -o /dev/null -w '%{http_code}' --max-time 10 --cacert " +
                                    ca.Path("ca/root.pem") + " " + ca.api() + "/v1/bundle");
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(bundle.output, "200");
  EXPECT_LT(took, 2s) << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms";
  EXPECT_EQ(ca.Metric("mayfly_store_worker_queued"), waiting - 2) << "the enrollments should still be waiting";

  // Once the lock goes, every enrollment is answered: the token is unknown.
  lock.Release();
  for (auto& enrollment : enrollments) {
    auto line = enrollment->WaitForLine("status=", 30s);
    ASSERT_TRUE(line) << enrollment->output();
    EXPECT_EQ(*line, "status=401");
  }
  EXPECT_EQ(ca.Metric("mayfly_store_worker_queued"), 0);
}

}  // namespace
}  // namespace mayfly
