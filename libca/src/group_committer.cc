// Group commit: many threads' certificates share one durable transaction.
#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>

#include "mayfly/store.h"

namespace mayfly {

// Leader/follower, as in LevelDB's write path: callers queue; the one at the
// front commits up to max_batch queued records, hands every one its result,
// and wakes the next front, which leads the batch that queued meanwhile.
struct GroupCommitter::Impl {
  struct Waiter {
    Waiter(CertRecord r, std::optional<AuditEvent> e) : record(std::move(r)), event(std::move(e)) {}
    CertRecord record;
    std::optional<AuditEvent> event;
    std::optional<Result<void>> result;  // set under mu, then cv is notified
    std::condition_variable cv;
  };

  Impl(Store& s, size_t max) : store(s), max_batch(std::max<size_t>(max, 1)) {}

  Result<void> Commit(Waiter& self);
  // Commits the batch (without mu held); one result per waiter.
  std::vector<Result<void>> CommitBatch(std::span<Waiter* const> batch);

  Store& store;
  const size_t max_batch;
  std::atomic<uint64_t> batches{0};
  std::mutex mu;
  std::deque<Waiter*> queue;  // guarded by mu; front is the leader
};

Result<void> GroupCommitter::Impl::Commit(Waiter& self) {
  std::unique_lock lock(mu);
  queue.push_back(&self);
  self.cv.wait(lock, [&] { return self.result.has_value() || queue.front() == &self; });
  if (self.result) return std::move(*self.result);

  const size_t size = std::min(max_batch, queue.size());
  const std::vector<Waiter*> batch(queue.begin(), queue.begin() + static_cast<ptrdiff_t>(size));
  lock.unlock();
  // Followers touch only their result, and only under mu, so the records can
  // be read here without it.
  std::vector<Result<void>> results = CommitBatch(batch);
  lock.lock();
  for (size_t i = 0; i < batch.size(); ++i) {
    batch[i]->result = std::move(results[i]);
    queue.pop_front();
    // Notified under mu: a follower that wakes returns and destroys its cv,
    // which it cannot do before this thread releases mu.
    if (i > 0) batch[i]->cv.notify_one();
  }
  if (!queue.empty()) queue.front()->cv.notify_one();
  return std::move(*self.result);
}

std::vector<Result<void>> GroupCommitter::Impl::CommitBatch(std::span<Waiter* const> batch) {
  std::vector<CertRecord> certs;
  std::vector<AuditEvent> events;
  certs.reserve(batch.size());
  for (Waiter* w : batch) {
    certs.push_back(std::move(w->record));
    if (w->event) events.push_back(*w->event);
  }
  if (auto r = store.RecordIssuance(certs, events); r) {
    ++batches;
    return std::vector<Result<void>>(batch.size(), Ok());
  } else if (batch.size() == 1) {
    return {std::move(r)};
  }
  // Something in the batch is bad: find out which by committing each alone.
  std::vector<Result<void>> results;
  results.reserve(batch.size());
  for (size_t i = 0; i < batch.size(); ++i) {
    std::span<const AuditEvent> event;
    if (batch[i]->event) event = std::span(&*batch[i]->event, 1);
    results.push_back(store.RecordIssuance(std::span(&certs[i], 1), event));
    if (results.back()) ++batches;
  }
  return results;
}

GroupCommitter::GroupCommitter(Store& store, size_t max_batch)
    : impl_(std::make_unique<Impl>(store, max_batch)) {}

GroupCommitter::~GroupCommitter() = default;

Result<void> GroupCommitter::Commit(CertRecord record) {
  Impl::Waiter self(std::move(record), std::nullopt);
  return impl_->Commit(self);
}

Result<void> GroupCommitter::Commit(CertRecord record, AuditEvent event) {
  Impl::Waiter self(std::move(record), std::move(event));
  return impl_->Commit(self);
}

uint64_t GroupCommitter::batches_committed() const { return impl_->batches.load(); }

}  // namespace mayfly
