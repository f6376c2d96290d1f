// The threads that run work which waits on the store, off the I/O threads.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace mayfly {

// Enrollment, node recovery, every admin call and CRL signing commit
// synchronously (an fsync on SQLite, a round trip on PostgreSQL) or sign a
// CRL of every revoked certificate: on an I/O thread they would hold up the
// handshakes and issuances of every connection that thread serves. They run
// here instead, in submission order across `threads` threads (named
// `mayfly-store`). Issuance does not: it has its own path (CommitQueue).
//
// Thread-safe. The destructor runs what is queued, then joins: whatever the
// work refers to must outlive this object.
class StoreWorker {
 public:
  static constexpr size_t kDefaultThreads = 2;
  // Beyond this many waiting tasks new work is refused (the API answers 503
  // with Retry-After) rather than queued without bound.
  static constexpr size_t kDefaultQueueLimit = 1024;

  explicit StoreWorker(size_t threads = kDefaultThreads, size_t queue_limit = kDefaultQueueLimit);
  ~StoreWorker();
  StoreWorker(const StoreWorker&) = delete;
  StoreWorker& operator=(const StoreWorker&) = delete;

  // Queues `work`; false (and `work` dropped unrun) when the queue is full
  // or the worker is stopping. `work` must not throw.
  [[nodiscard]] bool Post(std::function<void()> work);

  // Tasks waiting to start (for /metrics).
  size_t queued() const;

 private:
  void Run();

  const size_t queue_limit_;
  mutable std::mutex mu_;
  std::condition_variable wake_;
  std::deque<std::function<void()>> queue_;  // guarded by mu_
  bool stopping_ = false;                    // guarded by mu_
  std::vector<std::thread> threads_;
};

}  // namespace mayfly
