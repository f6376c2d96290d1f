// What every store backend checks the same way before it touches its database.
#include "store_rules.h"

#include <charconv>
#include <limits>

namespace mayfly {

Result<std::pair<std::string_view, std::string>> RevokeSelectorColumn(const RevokeSelector& which) {
  const int set = which.serial.has_value() + which.spiffe_id.has_value() + which.node.has_value();
  if (set != 1) {
    return MakeError(ErrorCode::kInvalidArgument, "revoke needs exactly one of serial, spiffe_id or node");
  }
  std::pair<std::string_view, std::string> column;
  if (which.serial) column = {"serial", *which.serial};
  if (which.spiffe_id) column = {"spiffe_id", *which.spiffe_id};
  if (which.node) column = {"node", *which.node};
  if (column.second.empty()) {
    return MakeError(ErrorCode::kInvalidArgument, "revoke by " + std::string(column.first) + " needs a value");
  }
  return column;
}

Result<int64_t> ParseCertCursor(const std::optional<std::string>& cursor) {
  if (!cursor) return std::numeric_limits<int64_t>::max();
  int64_t id = 0;
  const char* end = cursor->data() + cursor->size();
  auto [ptr, ec] = std::from_chars(cursor->data(), end, id);
  if (ec != std::errc() || ptr != end || id <= 0) {
    return MakeError(ErrorCode::kInvalidArgument, "invalid page cursor \"" + *cursor + "\"");
  }
  return id;
}

Result<void> CheckEntryRecord(const EntryRecord& entry, std::string_view source) {
  if (entry.spiffe_id.empty() || entry.node.empty()) {
    return MakeError(ErrorCode::kInvalidArgument, "an entry needs a SPIFFE ID and a node");
  }
  if (entry.max_ttl < 0) {
    return MakeError(ErrorCode::kInvalidArgument, "entry " + entry.spiffe_id + " has a negative max TTL");
  }
  if (source != kEntryFromConfig && source != kEntryFromApi) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "entry source must be \"config\" or \"api\", not \"" + std::string(source) + "\"");
  }
  return Ok();
}

std::unexpected<Error> BannedInFlight(const std::string& node) {
  return MakeError(ErrorCode::kNodeBanned, "node " + node +
                                              " was banned while this request was in flight; it must be "
                                              "re-enrolled with a new join token");
}

std::unexpected<Error> RevokedInFlight(const std::string& caller_serial) {
  return MakeError(ErrorCode::kUnauthenticated,
                   "certificate " + caller_serial + " was revoked while this request was in flight");
}

std::unexpected<Error> ChallengeUnusable() {
  return MakeError(ErrorCode::kUnauthenticated,
                   "the recovery challenge is unknown, already used or expired; ask for a new one");
}

Result<void> CheckLatestNodeCert(const std::string& node, const std::string& old_serial,
                                 const std::optional<std::string>& latest, bool latest_revoked) {
  if (!latest || *latest != old_serial) {
    return MakeError(ErrorCode::kRecoveryRefused,
                     "certificate " + old_serial + " is not the latest node certificate of " + node +
                         "; only the latest may recover: issue a new join token (mayfly-ca token create --node " +
                         node + ")");
  }
  if (latest_revoked) {
    return MakeError(ErrorCode::kRecoveryRefused, "certificate " + old_serial +
                                                     " is revoked: issue a new join token (mayfly-ca token create "
                                                     "--node " + node + ")");
  }
  return Ok();
}

Result<void> CheckCaStates(const std::function<Result<int64_t>(CaRole, CaState)>& count) {
  for (CaRole role : {CaRole::kRoot, CaRole::kIntermediate, CaRole::kJwt}) {
    for (CaState state : {CaState::kActive, CaState::kPrepared}) {
      auto n = count(role, state);
      if (!n) return std::unexpected(n.error());
      if (*n > 1) {
        return MakeError(ErrorCode::kConflict,
                         "the step would leave " + std::to_string(*n) + " " + std::string(CaStateName(state)) + " " +
                             std::string(CaRoleName(role)) +
                             " certificates; another instance changed the CA at the same time, try again");
      }
    }
  }
  return Ok();
}

}  // namespace mayfly
