// Moves SQLite's WAL checkpoints off the commit path.
#pragma once

#include <sqlite3.h>

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "mayfly/error.h"
#include "sqlite_util.h"

namespace mayfly {

// SQLite's automatic checkpoint runs inside the commit that pushes the WAL
// past 1 000 pages: copying them into the database file and syncing it,
// while every request waiting on that commit waits too (the issuance tail in
// docs/performance.md). The checkpointer takes over the writer's WAL hook,
// which turns the automatic checkpoint off, and runs passive checkpoints on
// a thread and connection of its own. A first pass copies what the WAL holds
// while the writer goes on committing; the writer restarts the WAL from its
// start only once a checkpoint has copied everything, so a second pass copies
// the few pages committed meanwhile while holding the writer's mutex: the
// writer waits for that remainder, never for the bulk of the copy.
class WalCheckpointer {
 public:
  // WAL size (pages) that wakes the thread: SQLite's own default.
  static constexpr int kCheckpointPages = 1000;
  // WAL size at which the writer checkpoints inline after all, as SQLite
  // would have: the thread has not kept up (a stalled disk, a failing
  // connection, a burst of writes faster than the copy), and the WAL must
  // not grow without bound: it stays under this many pages plus the commit
  // that crossed the mark.
  static constexpr int kInlinePages = 4 * kCheckpointPages;

  // Opens the thread's connection to `path` and hooks `writer`, whose
  // transactions `writer_mu` serialises (both must outlive this object).
  [[nodiscard]] static Result<std::unique_ptr<WalCheckpointer>> Start(const std::string& path,
                                                                       sqlite3* writer,
                                                                       std::mutex& writer_mu);
  // Unhooks the writer and stops the thread.
  ~WalCheckpointer();
  WalCheckpointer(const WalCheckpointer&) = delete;
  WalCheckpointer& operator=(const WalCheckpointer&) = delete;

  // Checkpoints run so far, on the thread or inline, and how many of them
  // failed (SQLITE_BUSY, another checkpointer at work, is not a failure).
  uint64_t checkpoints() const;
  uint64_t failures() const;

 private:
  WalCheckpointer(std::unique_ptr<Connection> conn, sqlite3* writer, std::mutex& writer_mu);
  static int OnCommit(void* self, sqlite3* db, const char* schema, int wal_pages);
  void Run();
  void Count(int rc);  // with mu_ held

  const std::unique_ptr<Connection> conn_;  // used by the thread only
  sqlite3* const writer_;
  std::mutex& writer_mu_;
  mutable std::mutex mu_;
  std::condition_variable wake_;
  bool pending_ = false;
  bool stopping_ = false;
  uint64_t checkpoints_ = 0;
  uint64_t failures_ = 0;
  std::thread thread_;
};

}  // namespace mayfly
