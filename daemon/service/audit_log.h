// Audit events: a structured log line at once, the SQLite row soon after,
// written in batches on a thread of its own so no request waits on a sync.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <thread>

#include "mayfly/store.h"
#include "metrics.h"

namespace mayfly {

// Callers must never put a join token, a key or a passphrase in any field:
// the log line and the row carry every field as given.
class AuditLog {
 public:
  AuditLog(Store& store, Metrics& metrics);
  // Writes everything still queued, then stops the thread.
  ~AuditLog();
  AuditLog(const AuditLog&) = delete;
  AuditLog& operator=(const AuditLog&) = delete;

  // Logs the event (info for "ok", warn otherwise) and queues it for the
  // store. `event.time` must be set; id and hashes are the store's.
  void Record(AuditEvent event);
  // Only the log line, for an event the caller stores itself (an issuance,
  // which commits with its certificate).
  static void LogLine(const AuditEvent& event);
  // Blocks until every event recorded before the call is stored (or failed).
  void Flush();

 private:
  void Run();

  Store& store_;
  Metrics& metrics_;
  uint64_t lost_ = 0;  // events not stored since the last success; the writer thread's
  std::mutex mu_;
  std::condition_variable work_cv_;
  std::condition_variable idle_cv_;
  std::deque<AuditEvent> queue_;
  uint64_t recorded_ = 0;
  uint64_t written_ = 0;
  bool stopping_ = false;
  std::thread thread_;
};

// A JSON object text from key/value string pairs, for AuditEvent::detail.
std::string AuditDetail(std::initializer_list<std::pair<std::string_view, std::string_view>> fields);

}  // namespace mayfly
