// Commits issued certificates, each with its audit event, and audit events
// of their own, in shared transactions on a thread of its own, telling each
// submitter when its record is durable. The daemon's one writer of the audit
// chain.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>

#include "mayfly/error.h"
#include "mayfly/store.h"

namespace mayfly {

// The daemon's group-commit path. Submit() never blocks on the disk: records
// queue while the previous batch commits, then commit together in one
// transaction, so the cost of the fsync is shared by every request in flight.
// `done` runs on the queue's thread after the batch is durable (or failed);
// it must be quick (post the answer to the caller's executor). A batch that
// fails is retried record by record, so only a bad record gets the error.
class CommitQueue {
 public:
  using Done = std::function<void(Result<void>)>;

  // A batch waits up to `linger` for the records announced (Announce) but not
  // yet submitted, then commits: under load fewer, larger transactions, so
  // the disk flushes and their interrupts stop eating the CPU that issuance
  // needs; at light load no wait beyond the signatures already under way. A
  // lone record with nothing announced commits at once.
  explicit CommitQueue(Store& store, size_t max_batch = 1024,
                       std::chrono::microseconds linger = std::chrono::microseconds(2000));
  // Commits everything still queued, then stops the thread.
  ~CommitQueue();
  CommitQueue(const CommitQueue&) = delete;
  CommitQueue& operator=(const CommitQueue&) = delete;

  // A record on its way: a request has started the work (CSR check,
  // signature) that ends in Submit. Dropped without being submitted, it is
  // withdrawn, and no batch waits for it any longer.
  class Announcement {
   public:
    Announcement(Announcement&& other) noexcept : queue_(std::exchange(other.queue_, nullptr)) {}
    Announcement& operator=(Announcement&&) = delete;
    ~Announcement();

   private:
    friend class CommitQueue;
    explicit Announcement(CommitQueue* queue) : queue_(queue) {}
    CommitQueue* queue_;
  };
  [[nodiscard]] Announcement Announce();

  // The certificate and its audit event commit in the same transaction: no
  // issued certificate is ever missing from the audit chain.
  void Submit(CertRecord record, AuditEvent event, Done done);
  // The same for an announced record.
  void Submit(Announcement announced, CertRecord record, AuditEvent event, Done done);
  // An audit event without a certificate (an admin action, a refusal), in
  // the chain in submission order with the issuances around it.
  void SubmitAudit(AuditEvent event, Done done);
  // Blocks until every record submitted before the call has been handled.
  void Flush();

  uint64_t batches_committed() const;

 private:
  struct Item {
    std::optional<CertRecord> record;  // none for an audit event alone
    AuditEvent event;
    Done done;
  };
  enum class Waiting { kNo, kForWork, kForAnnounced };
  void Run();
  void CommitBatch(std::deque<Item>& batch);
  void Enqueue(bool announced, Item item);
  void Withdraw();
  bool WakeCommitter() const;  // with mu_ held

  Store& store_;
  const size_t max_batch_;
  const std::chrono::microseconds linger_;
  Waiting waiting_ = Waiting::kNo;
  size_t announced_ = 0;  // announced records not yet submitted
  mutable std::mutex mu_;
  std::condition_variable work_cv_;
  std::condition_variable idle_cv_;
  std::deque<Item> queue_;
  uint64_t submitted_ = 0;
  uint64_t handled_ = 0;
  uint64_t batches_ = 0;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace mayfly
