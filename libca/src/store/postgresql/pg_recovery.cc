// Node recovery in PostgreSQL: single-use challenges (stored as hashes),
// spent across every instance of the database exactly once.
#include <optional>
#include <string>

#include "pg_store_internal.h"

namespace mayfly {

Result<void> PostgresStore::CreateRecoveryChallenge(const std::string& challenge_hash, int64_t expires_at,
                                                    int64_t now) {
  if (challenge_hash.empty()) return MakeError(ErrorCode::kInvalidArgument, "a recovery challenge needs a hash");
  return impl_->Write([&](PgConnection& conn) -> Result<void> {
    if (auto r = conn.Run("DELETE FROM recovery_challenges WHERE expires_at <= $1",
                          "dropping expired recovery challenges", now);
        !r) {
      return r;
    }
    return conn.Run("INSERT INTO recovery_challenges (hash, expires_at) VALUES ($1, $2)",
                    "recording a recovery challenge", challenge_hash, expires_at);
  });
}

Result<void> PostgresStore::ConsumeChallengeAndRecover(const std::string& challenge_hash, int64_t now,
                                                       const std::string& old_serial, const CertRecord& new_cert,
                                                       const AuditEvent& event) {
  return impl_->Write([&](PgConnection& conn) -> Result<void> {
    // First, as in every transaction that records a certificate.
    if (auto r = pg::LockForIssuance(conn); !r) return r;
    // The DELETE's row lock makes a concurrent consumer of the same
    // challenge (on any instance) wait, then match nothing.
    auto consumed = conn.Query("DELETE FROM recovery_challenges WHERE hash = $1 AND expires_at > $2 RETURNING 1",
                               "consuming a recovery challenge", challenge_hash, now);
    if (!consumed) return std::unexpected(consumed.error());
    if (consumed->Rows() == 0) return ChallengeUnusable();
    // Two recoveries of one node with two challenges: the node row's lock
    // orders them, and the later one sees the earlier one's certificate as
    // the latest.
    auto node = conn.Query("SELECT 1 FROM nodes WHERE name = $1 FOR UPDATE", "locking node " + new_cert.node,
                           new_cert.node);
    if (!node) return std::unexpected(node.error());
    auto latest = conn.Query(
        "SELECT serial, revoked_at FROM certificates WHERE node = $1 AND kind = 'node' ORDER BY id DESC LIMIT 1",
        "reading the latest node certificate of " + new_cert.node, new_cert.node);
    if (!latest) return std::unexpected(latest.error());
    std::optional<std::string> serial;
    bool revoked = false;
    if (latest->Rows() == 1) {
      serial = latest->Text(0, 0);
      revoked = !latest->IsNull(0, 1);
    }
    if (auto r = CheckLatestNodeCert(new_cert.node, old_serial, serial, revoked); !r) return r;
    if (auto r = pg::InsertCertificateRows(conn, std::span(&new_cert, 1)); !r) return r;
    return pg::AppendAuditRow(conn, event);
  });
}

}  // namespace mayfly
