// The audit log's hash chain: how an event is hashed and how a chain is
// checked, the same for every store backend (which only keeps the rows).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "mayfly/error.h"
#include "mayfly/store_records.h"

namespace mayfly {

// The hex SHA-256 over the event's prev_hash, time (decimal), type, actor,
// subject, result and detail, each preceded by its length as 8 bytes
// big-endian, so no two different events encode alike. kCrypto if hashing
// fails.
[[nodiscard]] Result<std::string> AuditEventHash(const AuditEvent& event);

// Checks a chain fed event by event in id order: ids run 1, 2, 3... without
// gaps, each prev_hash is the previous event's hash, each hash recomputes.
class AuditChainVerifier {
 public:
  // False once an event is wrong (edited, inserted, or following a deleted
  // one); later events are not looked at.
  [[nodiscard]] Result<bool> Add(const AuditEvent& event);
  // The result, given the highest id the store ever assigned (events deleted
  // from the end leave no gap, but the store's sequence remembers them).
  AuditChainCheck Finish(int64_t last_assigned_id) const;

 private:
  int64_t events_ = 0;
  int64_t prev_id_ = 0;
  std::string prev_hash_;
  std::optional<int64_t> first_bad_id_;
};

}  // namespace mayfly
