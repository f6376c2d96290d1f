// A small thread-safe pool of PostgreSQL connections that replaces the ones the server dropped.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "pg_util.h"

namespace mayfly {

// Never blocks: when every connection is busy a new one is opened; at most
// kMaxIdle are kept between calls. A connection returned broken (the server
// went away) or still inside a transaction is closed, not kept.
class PgPool {
 public:
  PgPool(std::string url, std::string password) : url_(std::move(url)), password_(std::move(password)) {}
  ~PgPool();
  PgPool(const PgPool&) = delete;
  PgPool& operator=(const PgPool&) = delete;

  struct Returner {
    PgPool* pool;
    void operator()(PgConnection* conn) const { pool->Return(conn); }
  };
  using Lease = std::unique_ptr<PgConnection, Returner>;
  struct Acquired {
    Lease conn;
    bool reused = false;  // it was idle in the pool (and may have died there)
  };

  // An idle connection, or a new one (kUnavailable when that fails).
  [[nodiscard]] Result<Acquired> Acquire();
  // A new connection of its own, outside the pool (a LISTEN session).
  [[nodiscard]] Result<std::unique_ptr<PgConnection>> OpenDedicated();
  // Closes every idle connection: once one was found dead after a server
  // restart, the others most likely are too.
  void DropIdle();

  uint64_t opened() const { return opened_.load(std::memory_order_relaxed); }
  uint64_t connect_failures() const { return connect_failures_.load(std::memory_order_relaxed); }
  uint64_t dropped() const { return dropped_.load(std::memory_order_relaxed); }
  uint64_t idle() const;

 private:
  static constexpr size_t kMaxIdle = 4;
  void Return(PgConnection* conn);

  const std::string url_;
  std::string password_;  // wiped on destruction
  mutable std::mutex mu_;
  std::vector<std::unique_ptr<PgConnection>> idle_;  // guarded by mu_
  std::atomic<uint64_t> opened_{0}, connect_failures_{0}, dropped_{0};
};

}  // namespace mayfly
