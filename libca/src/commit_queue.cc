// Background group commit of issued certificates.
#include "mayfly/commit_queue.h"

#include <pthread.h>

#include <vector>

namespace mayfly {

CommitQueue::CommitQueue(Store& store, size_t max_batch, std::chrono::microseconds linger)
    : store_(store), max_batch_(max_batch), linger_(linger), thread_([this] { Run(); }) {}

CommitQueue::~CommitQueue() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  work_cv_.notify_all();
  thread_.join();
}

void CommitQueue::Submit(CertRecord record, AuditEvent event, Done done) {
  bool wake = false;
  {
    std::lock_guard lock(mu_);
    queue_.push_back({std::move(record), std::move(event), std::move(done)});
    ++submitted_;
    // Waking a sleeping thread costs a system call and, on another CPU, an
    // interrupt: only when the committer waits for exactly this.
    wake = wake_at_ != 0 && queue_.size() >= wake_at_;
  }
  if (wake) work_cv_.notify_one();
}

void CommitQueue::Flush() {
  std::unique_lock lock(mu_);
  uint64_t target = submitted_;
  idle_cv_.wait(lock, [&] { return handled_ >= target; });
}

uint64_t CommitQueue::batches_committed() const {
  std::lock_guard lock(mu_);
  return batches_;
}

void CommitQueue::Run() {
  // Named so `top -H` and `perf` tell the committer from the issuing threads.
  pthread_setname_np(pthread_self(), "mayfly-commit");
  std::unique_lock lock(mu_);
  for (;;) {
    wake_at_ = 1;
    work_cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopping, and everything is committed
    if (last_batch_ > 1 && !stopping_ && queue_.size() < max_batch_) {
      wake_at_ = max_batch_;
      work_cv_.wait_for(lock, linger_, [&] { return stopping_ || queue_.size() >= max_batch_; });
    }
    wake_at_ = 0;
    std::deque<Item> batch;
    while (!queue_.empty() && batch.size() < max_batch_) {
      batch.push_back(std::move(queue_.front()));
      queue_.pop_front();
    }
    last_batch_ = batch.size();
    lock.unlock();
    CommitBatch(batch);
    lock.lock();
    handled_ += batch.size();
    ++batches_;
    idle_cv_.notify_all();
  }
}

void CommitQueue::CommitBatch(std::deque<Item>& batch) {
  std::vector<CertRecord> records;
  std::vector<AuditEvent> events;
  records.reserve(batch.size());
  events.reserve(batch.size());
  for (auto& item : batch) {
    records.push_back(std::move(item.record));
    events.push_back(std::move(item.event));
  }
  Result<void> all = store_.RecordIssuance(records, events);
  if (all || batch.size() == 1) {
    for (auto& item : batch) item.done(all);
    return;
  }
  // One bad record must not fail its neighbours: retry them one by one.
  for (size_t i = 0; i < batch.size(); ++i) {
    batch[i].done(store_.RecordIssuance(std::span<const CertRecord>(&records[i], 1),
                                        std::span<const AuditEvent>(&events[i], 1)));
  }
}

}  // namespace mayfly
