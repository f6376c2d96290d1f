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

CommitQueue::Announcement::~Announcement() {
  if (queue_ != nullptr) queue_->Withdraw();
}

CommitQueue::Announcement CommitQueue::Announce() {
  std::lock_guard lock(mu_);
  ++announced_;
  return Announcement(this);
}

void CommitQueue::Submit(CertRecord record, AuditEvent event, Done done) {
  Enqueue(false, {std::move(record), std::move(event), std::move(done)});
}

void CommitQueue::Submit(Announcement announced, CertRecord record, AuditEvent event, Done done) {
  announced.queue_ = nullptr;  // submitted, not withdrawn
  Enqueue(true, {std::move(record), std::move(event), std::move(done)});
}

void CommitQueue::SubmitAudit(AuditEvent event, Done done) {
  Enqueue(false, {std::nullopt, std::move(event), std::move(done)});
}

// Waking a sleeping thread costs a system call and, on another CPU, an
// interrupt: only when the committer waits for exactly this.
bool CommitQueue::WakeCommitter() const {
  switch (waiting_) {
    case Waiting::kNo:
      return false;
    case Waiting::kForWork:
      return !queue_.empty();
    case Waiting::kForAnnounced:
      return announced_ == 0 || queue_.size() >= max_batch_;
  }
  return false;
}

void CommitQueue::Enqueue(bool announced, Item item) {
  bool wake = false;
  {
    std::lock_guard lock(mu_);
    queue_.push_back(std::move(item));
    ++submitted_;
    if (announced) --announced_;
    wake = WakeCommitter();
  }
  if (wake) work_cv_.notify_one();
}

void CommitQueue::Withdraw() {
  bool wake = false;
  {
    std::lock_guard lock(mu_);
    --announced_;
    wake = WakeCommitter();
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
    waiting_ = Waiting::kForWork;
    work_cv_.wait(lock, [&] { return stopping_ || WakeCommitter(); });
    if (queue_.empty()) return;  // stopping, and everything is committed
    if (announced_ > 0 && !stopping_ && queue_.size() < max_batch_) {
      waiting_ = Waiting::kForAnnounced;
      work_cv_.wait_for(lock, linger_, [&] { return stopping_ || WakeCommitter(); });
    }
    waiting_ = Waiting::kNo;
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
    if (item.record) records.push_back(std::move(*item.record));
    events.push_back(std::move(item.event));
  }
  Result<void> all = store_.RecordIssuance(records, events);
  if (all || batch.size() == 1) {
    for (auto& item : batch) item.done(all);
    return;
  }
  // One bad record must not fail its neighbours: retry them one by one.
  size_t next_record = 0;
  for (size_t i = 0; i < batch.size(); ++i) {
    const bool has_record = batch[i].record.has_value();
    const auto certs = has_record ? std::span<const CertRecord>(&records[next_record++], 1)
                                  : std::span<const CertRecord>();
    batch[i].done(store_.RecordIssuance(certs, std::span<const AuditEvent>(&events[i], 1)));
  }
}

}  // namespace mayfly
