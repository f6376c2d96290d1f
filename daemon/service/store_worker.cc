// The store worker's queue and threads.
#include "store_worker.h"

#include <pthread.h>

namespace mayfly {

StoreWorker::StoreWorker(size_t threads, size_t queue_limit) : queue_limit_(queue_limit) {
  threads_.reserve(threads);
  for (size_t i = 0; i < threads; ++i) threads_.emplace_back([this] { Run(); });
}

StoreWorker::~StoreWorker() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  for (std::thread& t : threads_) t.join();
}

bool StoreWorker::Post(std::function<void()> work) {
  {
    std::lock_guard lock(mu_);
    if (stopping_ || queue_.size() >= queue_limit_) return false;
    queue_.push_back(std::move(work));
  }
  wake_.notify_one();
  return true;
}

size_t StoreWorker::queued() const {
  std::lock_guard lock(mu_);
  return queue_.size();
}

void StoreWorker::Run() {
  pthread_setname_np(pthread_self(), "mayfly-store");  // for top -H and perf
  std::unique_lock lock(mu_);
  while (true) {
    wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    // Stopping still runs what was queued: each task answers a caller.
    if (queue_.empty()) return;
    std::function<void()> work = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    work();
    work = nullptr;  // release what it holds before waiting again
    lock.lock();
  }
}

}  // namespace mayfly
