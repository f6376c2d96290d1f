// WAL checkpoints on their own thread.
#include "wal_checkpointer.h"

#include <pthread.h>

namespace mayfly {

Result<std::unique_ptr<WalCheckpointer>> WalCheckpointer::Start(const std::string& path, sqlite3* writer,
                                                                std::mutex& writer_mu) {
  auto conn = Connection::Open(path, /*read_only=*/false);
  if (!conn) return std::unexpected(conn.error());
  return std::unique_ptr<WalCheckpointer>(new WalCheckpointer(std::move(*conn), writer, writer_mu));
}

WalCheckpointer::WalCheckpointer(std::unique_ptr<Connection> conn, sqlite3* writer, std::mutex& writer_mu)
    : conn_(std::move(conn)), writer_(writer), writer_mu_(writer_mu), thread_([this] { Run(); }) {
  sqlite3_wal_hook(writer_, &WalCheckpointer::OnCommit, this);
}

WalCheckpointer::~WalCheckpointer() {
  // Back to SQLite's own checkpoints for whatever the writer still commits.
  sqlite3_wal_autocheckpoint(writer_, kCheckpointPages);
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_one();
  thread_.join();
}

uint64_t WalCheckpointer::checkpoints() const {
  std::lock_guard lock(mu_);
  return checkpoints_;
}

uint64_t WalCheckpointer::failures() const {
  std::lock_guard lock(mu_);
  return failures_;
}

void WalCheckpointer::Count(int rc) {
  ++checkpoints_;
  if (rc != SQLITE_OK && rc != SQLITE_BUSY) ++failures_;
}

// Runs on the writer's thread, after each commit, outside any transaction.
int WalCheckpointer::OnCommit(void* self, sqlite3* db, const char* schema, int wal_pages) {
  auto* checkpointer = static_cast<WalCheckpointer*>(self);
  if (wal_pages >= kInlinePages) {
    const int rc = sqlite3_wal_checkpoint_v2(db, schema, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
    std::lock_guard lock(checkpointer->mu_);
    checkpointer->Count(rc);
    return SQLITE_OK;
  }
  if (wal_pages < kCheckpointPages) return SQLITE_OK;
  {
    std::lock_guard lock(checkpointer->mu_);
    if (checkpointer->pending_) return SQLITE_OK;
    checkpointer->pending_ = true;
  }
  checkpointer->wake_.notify_one();
  return SQLITE_OK;
}

void WalCheckpointer::Run() {
  pthread_setname_np(pthread_self(), "mayfly-ckpt");
  std::unique_lock lock(mu_);
  for (;;) {
    wake_.wait(lock, [&] { return stopping_ || pending_; });
    if (stopping_) return;
    pending_ = false;
    lock.unlock();
    // Passive: copies what no reader still needs, waits for no one. A
    // failure (busy, I/O) is retried at the next commit past the mark.
    int rc = sqlite3_wal_checkpoint_v2(conn_->db(), nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
    if (rc == SQLITE_OK) {
      std::lock_guard writer_lock(writer_mu_);
      rc = sqlite3_wal_checkpoint_v2(conn_->db(), nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
    }
    lock.lock();
    Count(rc);
  }
}

}  // namespace mayfly
