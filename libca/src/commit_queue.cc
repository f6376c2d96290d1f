// Background group commit of issued certificates.
#include "mayfly/commit_queue.h"

#include <vector>

namespace mayfly {

CommitQueue::CommitQueue(Store& store, size_t max_batch)
    : store_(store), max_batch_(max_batch), thread_([this] { Run(); }) {}

CommitQueue::~CommitQueue() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  work_cv_.notify_all();
  thread_.join();
}

void CommitQueue::Submit(CertRecord record, AuditEvent event, Done done) {
  {
    std::lock_guard lock(mu_);
    queue_.push_back({std::move(record), std::move(event), std::move(done)});
    ++submitted_;
  }
  work_cv_.notify_one();
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
  std::unique_lock lock(mu_);
  for (;;) {
    work_cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopping, and everything is committed
    std::deque<Item> batch;
    while (!queue_.empty() && batch.size() < max_batch_) {
      batch.push_back(std::move(queue_.front()));
      queue_.pop_front();
    }
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
