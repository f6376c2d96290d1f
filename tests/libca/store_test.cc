// Opening the store: files, modes, migrations, reopening, meta, and readers beside a writer.
#include "mayfly/sqlite_store.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <thread>

#include "sqlite/wal_checkpointer.h"
#include "support/temp_dir.h"
#include "support/wait.h"

namespace mayfly {
namespace store_test {

using testing::TempDir;

CertRecord Cert(std::string serial) {
  return {.serial = std::move(serial), .spiffe_id = "spiffe://example.org/web", .node = "n1",
          .not_before = 100, .not_after = 5000, .issued_at = 100, .der = std::string("\x30\x00\x01", 3)};
}

// Runs SQL on the file with a raw connection, as an operator or attacker could.
void RawExec(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  char* err = nullptr;
  EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err), SQLITE_OK) << (err ? err : "");
  sqlite3_free(err);
  sqlite3_close(db);
}

int64_t RawUserVersion(const std::string& path) {
  sqlite3* db = nullptr;
  sqlite3_stmt* stmt = nullptr;
  EXPECT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  EXPECT_EQ(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &stmt, nullptr), SQLITE_OK);
  EXPECT_EQ(sqlite3_step(stmt), SQLITE_ROW);
  const int64_t version = sqlite3_column_int64(stmt, 0);
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return version;
}

TEST(StoreTest, ReopenKeepsData) {
  TempDir dir;
  const std::string path = dir.File("ca.db");
  {
    auto store = SqliteStore::Open(path);
    ASSERT_TRUE(store) << store.error().ToString();
    CertRecord cert = Cert("0a");
    ASSERT_TRUE((*store)->InsertCertificates(std::span(&cert, 1)));
    ASSERT_TRUE((*store)->SetMeta("active_issuer", "abcd"));
  }
  auto store = SqliteStore::Open(path);
  ASSERT_TRUE(store) << store.error().ToString();
  auto cert = (*store)->GetCertificate("0a");
  ASSERT_TRUE(cert && cert->has_value());
  EXPECT_EQ((*cert)->der, std::string("\x30\x00\x01", 3));
  EXPECT_EQ((*cert)->node, "n1");
  auto meta = (*store)->GetMeta("active_issuer");
  ASSERT_TRUE(meta && meta->has_value());
  EXPECT_EQ(**meta, "abcd");
}

TEST(StoreTest, MigrationsApplyOnceAndReopeningChangesNothing) {
  TempDir dir;
  const std::string path = dir.File("ca.db");
  auto first = SqliteStore::Open(path);
  ASSERT_TRUE(first) << first.error().ToString();
  const int version = (*first)->SchemaVersion();
  EXPECT_GE(version, 1);
  EXPECT_EQ(RawUserVersion(path), version);
  // A second store on the same file (while the first is open), then a reopen.
  auto second = SqliteStore::Open(path);
  ASSERT_TRUE(second) << second.error().ToString();
  EXPECT_EQ((*second)->SchemaVersion(), version);
  second->reset();
  first->reset();
  auto third = SqliteStore::Open(path);
  ASSERT_TRUE(third) << third.error().ToString();
  EXPECT_EQ((*third)->SchemaVersion(), version);
  EXPECT_EQ(RawUserVersion(path), version);
}

TEST(StoreTest, RefusesADatabaseFromANewerVersion) {
  TempDir dir;
  const std::string path = dir.File("ca.db");
  { ASSERT_TRUE(SqliteStore::Open(path)); }
  RawExec(path, "PRAGMA user_version = 999");
  auto store = SqliteStore::Open(path);
  ASSERT_FALSE(store);
  EXPECT_EQ(store.error().code, ErrorCode::kStore);
  EXPECT_NE(store.error().message.find("999"), std::string::npos) << store.error().message;
  EXPECT_EQ(RawUserVersion(path), 999);
}

TEST(StoreTest, RefusesAFileThatIsNotADatabase) {
  TempDir dir;
  const std::string path = dir.File("ca.db");
  std::ofstream(path) << "this is not a database, it is a text file of some length......";
  auto store = SqliteStore::Open(path);
  ASSERT_FALSE(store);
  EXPECT_EQ(store.error().code, ErrorCode::kStore);
}

TEST(StoreTest, FilesAreOwnerOnlyWhateverTheUmask) {
  TempDir dir;
  const std::string path = dir.File("ca.db");
  const mode_t old_umask = ::umask(0);
  auto store = SqliteStore::Open(path);
  ::umask(old_umask);
  ASSERT_TRUE(store) << store.error().ToString();
  CertRecord cert = Cert("01");
  ASSERT_TRUE((*store)->InsertCertificates(std::span(&cert, 1)));
  for (const std::string& file : {path, path + "-wal", path + "-shm"}) {
    struct stat st {};
    ASSERT_EQ(::stat(file.c_str(), &st), 0) << file;
    EXPECT_EQ(st.st_mode & 0777, 0600u) << file;
  }
}

TEST(StoreTest, MetaIsSetReadAndOverwritten) {
  TempDir dir;
  auto store = SqliteStore::Open(dir.File("ca.db"));
  ASSERT_TRUE(store);
  auto missing = (*store)->GetMeta("k");
  ASSERT_TRUE(missing);
  EXPECT_FALSE(missing->has_value());
  ASSERT_TRUE((*store)->SetMeta("k", "one"));
  ASSERT_TRUE((*store)->SetMeta("k", "two"));
  EXPECT_EQ((*store)->GetMeta("k").value(), "two");
}

TEST(StoreTest, ReadersRunWhileAnotherWriterHoldsTheLock) {
  TempDir dir;
  const std::string path = dir.File("ca.db");
  auto store = SqliteStore::Open(path);
  ASSERT_TRUE(store);
  CertRecord cert = Cert("0b");
  ASSERT_TRUE((*store)->InsertCertificates(std::span(&cert, 1)));

  // A second writer takes the write lock and leaves a row uncommitted.
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db,
                         "BEGIN IMMEDIATE; INSERT INTO certificates (serial, spiffe_id, kind, "
                         "not_before, not_after, issued_at, der) VALUES "
                         "('0c', 'spiffe://example.org/x', 'workload', 0, 9, 0, x'00')",
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  // Reads neither wait for it nor see its row.
  auto got = (*store)->GetCertificate("0b");
  ASSERT_TRUE(got) << got.error().ToString();
  EXPECT_TRUE(got->has_value());
  auto uncommitted = (*store)->GetCertificate("0c");
  ASSERT_TRUE(uncommitted);
  EXPECT_FALSE(uncommitted->has_value());
  auto count = (*store)->CountCertificates(std::nullopt, 0);
  ASSERT_TRUE(count);
  EXPECT_EQ(*count, 1);

  ASSERT_EQ(sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  EXPECT_TRUE((*store)->GetCertificate("0c").value().has_value());
}

TEST(StoreTest, ManyThreadsReadAndWriteAtOnce) {
  TempDir dir;
  auto store = SqliteStore::Open(dir.File("ca.db"));
  ASSERT_TRUE(store);
  constexpr int kThreads = 4;
  constexpr int kPerThread = 50;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        CertRecord cert = Cert(std::to_string(t) + "f" + std::to_string(i));
        if (!(*store)->InsertCertificates(std::span(&cert, 1))) ++failures;
      }
    });
    threads.emplace_back([&] {
      for (int i = 0; i < kPerThread; ++i) {
        if (!(*store)->ListCertificates({.limit = 10})) ++failures;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ((*store)->CountCertificates(std::nullopt, 0).value(), kThreads * kPerThread);
}

// SQLite would checkpoint inside whichever commit pushes the WAL past 1 000
// pages, making every request waiting on that commit wait for the copy and
// its fsync; the store checkpoints on its own thread instead. Rows must still
// reach the database file while the store is open, and the WAL must not grow
// with everything ever written: however far the thread falls behind (a
// loaded machine), the writer checkpoints inline past kInlinePages.
TEST(StoreTest, WalIsCheckpointedOnItsOwnThreadAndStaysBounded) {
  TempDir dir;
  const std::string path = dir.File("ca.db");
  auto store = SqliteStore::Open(path);
  ASSERT_TRUE(store);
  constexpr int kBatches = 300;
  constexpr int kPerBatch = 100;  // ~120 KiB of rows per transaction, ~36 MiB in all with indexes
  // The inline mark in 4 KiB pages, plus a few commits' worth of slack.
  constexpr uintmax_t kWalBound = uintmax_t{WalCheckpointer::kInlinePages} * 4096 + (2u << 20);
  static_assert(kWalBound < 24u << 20, "the bound must be well under what the test writes");
  uintmax_t largest_wal = 0;
  for (int b = 0; b < kBatches; ++b) {
    std::vector<CertRecord> batch;
    for (int i = 0; i < kPerBatch; ++i) {
      CertRecord cert = Cert(std::to_string(b) + "f" + std::to_string(i));
      cert.der = std::string(1000, static_cast<char>('a' + i % 26));
      batch.push_back(std::move(cert));
    }
    ASSERT_TRUE((*store)->InsertCertificates(batch));
    largest_wal = std::max(largest_wal, std::filesystem::file_size(path + "-wal"));
  }
  ASSERT_TRUE(testing::WaitUntil([&] { return (*store)->WalCheckpoints() >= 1; }));
  EXPECT_EQ((*store)->WalCheckpointFailures(), 0u);
  EXPECT_GT(std::filesystem::file_size(path), 24u << 20) << "rows copied into the database file";
  EXPECT_LT(largest_wal, kWalBound) << "the WAL is reused once checkpointed";
  EXPECT_EQ((*store)->CountCertificates(std::nullopt, 0).value(), kBatches * kPerBatch);
}

}  // namespace store_test
}  // namespace mayfly
