// Node recovery: single-use challenges (stored as hashes) and the
// transaction that spends one for a node's new certificate.
#include <optional>
#include <string>

#include "store_internal.h"

namespace mayfly {

Result<void> SqliteStore::CreateRecoveryChallenge(const std::string& challenge_hash, int64_t expires_at,
                                                  int64_t now) {
  if (challenge_hash.empty()) return MakeError(ErrorCode::kInvalidArgument, "a recovery challenge needs a hash");
  return impl_->Write([&](Connection& conn) -> Result<void> {
    if (auto r = conn.Run("DELETE FROM recovery_challenges WHERE expires_at <= ?1",
                          "dropping expired recovery challenges", now);
        !r) {
      return r;
    }
    return conn.Run("INSERT INTO recovery_challenges (hash, expires_at) VALUES (?1, ?2)",
                    "recording a recovery challenge", challenge_hash, expires_at);
  });
}

Result<void> SqliteStore::ConsumeChallengeAndRecover(const std::string& challenge_hash, int64_t now,
                                                     const std::string& old_serial, const CertRecord& new_cert,
                                                     const AuditEvent& event) {
  return impl_->Write([&](Connection& conn) -> Result<void> {
    // Writers are serialised, so nothing commits between these checks and
    // the insert: one challenge, and one recovery per node, wins.
    auto consume = conn.Prepare("DELETE FROM recovery_challenges WHERE hash = ?1 AND expires_at > ?2 RETURNING 1");
    if (!consume) return std::unexpected(consume.error());
    auto consumed = consume->BindAll(challenge_hash, now).Step();
    if (!consumed) return WithContext(consumed.error(), "consuming a recovery challenge");
    if (!*consumed) return ChallengeUnusable();
    if (auto r = consume->Run(); !r) return r;
    auto latest = conn.Prepare(
        "SELECT serial, revoked_at FROM certificates WHERE node = ?1 AND kind = 'node' ORDER BY id DESC LIMIT 1");
    if (!latest) return std::unexpected(latest.error());
    auto row = latest->Bind(1, new_cert.node).Step();
    if (!row) return WithContext(row.error(), "reading the latest node certificate of " + new_cert.node);
    std::optional<std::string> serial;
    bool revoked = false;
    if (*row) {
      serial = latest->Text(0);
      revoked = !latest->IsNull(1);
    }
    if (auto r = latest->Run(); !r) return r;
    if (auto r = CheckLatestNodeCert(new_cert.node, old_serial, serial, revoked); !r) return r;
    if (auto r = InsertCertificateRow(conn, new_cert); !r) return r;
    if (auto r = AppendAuditRow(conn, event); !r) return std::unexpected(r.error());
    return Ok();
  });
}

}  // namespace mayfly
