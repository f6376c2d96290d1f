// What every store backend checks the same way before it touches its
// database: revoke selectors, page cursors, entries, page sizes.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "mayfly/store_records.h"

namespace mayfly {

// The most rows one listing call returns (certificates, audit events).
inline constexpr int kMaxStorePage = 1000;

// An entry's source: ca.toml or the admin API.
inline constexpr std::string_view kEntryFromConfig = "config";
inline constexpr std::string_view kEntryFromApi = "api";

// The column a revoke selector matches on ("serial", "spiffe_id", "node")
// and its value; kInvalidArgument unless exactly one field is set, and
// non-empty (an empty node would match every certificate issued through no
// node).
[[nodiscard]] Result<std::pair<std::string_view, std::string>> RevokeSelectorColumn(const RevokeSelector& which);

// Keyset paging: the cursor is the decimal id of the last certificate a page
// returned; none means from the newest. kInvalidArgument for anything else.
[[nodiscard]] Result<int64_t> ParseCertCursor(const std::optional<std::string>& cursor);

// kInvalidArgument for an entry without SPIFFE ID or node, with a negative
// max TTL, or with a source other than "config" or "api".
[[nodiscard]] Result<void> CheckEntryRecord(const EntryRecord& entry, std::string_view source);

// Why a certificate is refused at insert: its node was banned (kForbidden),
// or the certificate its request came with revoked (kUnauthenticated), while
// the request was in flight.
[[nodiscard]] std::unexpected<Error> BannedInFlight(const std::string& node);
[[nodiscard]] std::unexpected<Error> RevokedInFlight(const std::string& caller_serial);

// Why a node recovery is refused in its transaction: the challenge is not
// (or no longer) usable (kUnauthenticated), or the certificate it presented
// is not its node's latest unrevoked one (kRecoveryRefused). `latest` is the
// latest node certificate's serial, nullopt when the node has none.
[[nodiscard]] std::unexpected<Error> ChallengeUnusable();
[[nodiscard]] Result<void> CheckLatestNodeCert(const std::string& node, const std::string& old_serial,
                                               const std::optional<std::string>& latest, bool latest_revoked);

// After a rotation step is written, within its transaction: at most one
// active and one prepared CA certificate of each of root and intermediate.
// Two instances making steps at once (two inits, two prepares) would break
// it: the later one fails with kConflict and writes nothing. `count` says
// how many records of a role are in a state.
[[nodiscard]] Result<void> CheckCaStates(const std::function<Result<int64_t>(CaRole, CaState)>& count);

}  // namespace mayfly
