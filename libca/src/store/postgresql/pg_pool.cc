// A small thread-safe pool of PostgreSQL connections that replaces the ones the server dropped.
#include "pg_pool.h"

#include <openssl/crypto.h>

namespace mayfly {

PgPool::~PgPool() { OPENSSL_cleanse(password_.data(), password_.size()); }

Result<PgPool::Acquired> PgPool::Acquire() {
  {
    std::lock_guard lock(mu_);
    if (!idle_.empty()) {
      PgConnection* conn = idle_.back().release();
      idle_.pop_back();
      return Acquired{Lease(conn, Returner{this}), true};
    }
  }
  auto conn = PgConnection::Open(url_, password_);
  if (!conn) {
    connect_failures_.fetch_add(1, std::memory_order_relaxed);
    return std::unexpected(conn.error());
  }
  opened_.fetch_add(1, std::memory_order_relaxed);
  return Acquired{Lease(conn->release(), Returner{this}), false};
}

Result<std::unique_ptr<PgConnection>> PgPool::OpenDedicated() {
  auto conn = PgConnection::Open(url_, password_);
  if (!conn) {
    connect_failures_.fetch_add(1, std::memory_order_relaxed);
    return conn;
  }
  opened_.fetch_add(1, std::memory_order_relaxed);
  return conn;
}

void PgPool::DropIdle() {
  std::vector<std::unique_ptr<PgConnection>> dead;
  {
    std::lock_guard lock(mu_);
    dead.swap(idle_);
  }
  dropped_.fetch_add(dead.size(), std::memory_order_relaxed);
}

uint64_t PgPool::idle() const {
  std::lock_guard lock(mu_);
  return idle_.size();
}

void PgPool::Return(PgConnection* conn) {
  std::unique_ptr<PgConnection> owned(conn);
  if (owned->Broken()) {
    dropped_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  if (owned->InTransaction()) return;  // never hand out a half-done transaction
  std::lock_guard lock(mu_);
  if (idle_.size() < kMaxIdle) idle_.push_back(std::move(owned));
}

}  // namespace mayfly
