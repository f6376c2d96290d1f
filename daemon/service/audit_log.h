// Audit events the store does not append with a write of its own (refusals,
// anomalies, JWT-SVIDs, the OCSP responder's certificate): a structured log
// line at once, the row soon after, through the commit queue, so no request
// waits on a sync.
// A change's event is the store's to append, in the change's own
// transaction (Store::RecordIssuance, Revoke, ...): its caller logs only
// the line (LogLine).
#pragma once

#include <cstdint>
#include <string>

#include "mayfly/commit_queue.h"
#include "mayfly/store.h"
#include "metrics.h"

namespace mayfly {

// Callers must never put a join token, a key or a passphrase in any field:
// the log line and the row carry every field as given.
class AuditLog {
 public:
  // `queue` must outlive every Record and Flush; the log itself holds no
  // events (the queue commits what it was given when it stops).
  AuditLog(CommitQueue& queue, Metrics& metrics) : queue_(queue), metrics_(metrics) {}
  AuditLog(const AuditLog&) = delete;
  AuditLog& operator=(const AuditLog&) = delete;

  // Logs the event (info for "ok", warn otherwise) and queues it for the
  // store. `event.time` must be set; id and hashes are the store's.
  void Record(AuditEvent event);
  // Only the log line, for an event the store appends with its change (an
  // issuance with its certificate, a revocation, a join token...).
  static void LogLine(const AuditEvent& event);
  // Blocks until every event recorded before the call is stored (or failed):
  // for a reader that must see them in the chain (tests). Never from the
  // commit queue's own thread (a Done callback).
  void Flush() { queue_.Flush(); }

 private:
  CommitQueue& queue_;
  Metrics& metrics_;
  // Events not stored since the last success; touched only by the queue's
  // Done callbacks, which run on its one thread.
  uint64_t lost_ = 0;
};

}  // namespace mayfly
