// Join tokens (stored as hashes) and the nodes they enroll, in PostgreSQL.
#include <string>

#include "pg_store_internal.h"

namespace mayfly {
namespace pg {
namespace {

// Why a token could not be consumed: unknown, used, invalidated by a ban or expired (the caller
// holds the token, so this reveals nothing it does not know), never the
// node name or the hash.
Result<std::string> WhyTokenRefused(PgConnection& conn, const std::string& token_hash, int64_t now) {
  auto res = conn.Query("SELECT used_at, expires_at, revoked_at FROM join_tokens WHERE hash = $1",
                        "looking up a join token", token_hash);
  if (!res) return std::unexpected(res.error());
  if (res->Rows() == 0) return "join token is unknown";
  if (!res->IsNull(0, 0)) return "join token has already been used";
  if (!res->IsNull(0, 2)) {
    return "join token was invalidated when its node was banned (revoke --node); create a new token";
  }
  if (res->Int(0, 1) <= now) return "join token has expired";
  return "join token is not usable";
}

}  // namespace
}  // namespace pg

Result<void> PostgresStore::CreateToken(const TokenRecord& token, const AuditEvent& event) {
  if (token.hash.empty() || token.node.empty()) {
    return MakeError(ErrorCode::kInvalidArgument, "a join token needs a hash and a node");
  }
  return impl_->Write([&](PgConnection& conn) -> Result<void> {
    if (auto r = conn.Run("INSERT INTO join_tokens (hash, node, created_at, expires_at) VALUES ($1, $2, $3, $4)",
                          "recording a join token for " + token.node, token.hash, token.node, token.created_at,
                          token.expires_at);
        !r) {
      return r;
    }
    return pg::AppendAuditRow(conn, event);
  });
}

Result<std::string> PostgresStore::ConsumeTokenAndEnroll(const std::string& token_hash, int64_t now,
                                                         CertRecord node_cert, std::optional<AuditEvent> event) {
  return impl_->Write([&](PgConnection& conn) -> Result<std::string> {
    // First, as in every transaction that records a certificate.
    if (auto r = pg::LockForIssuance(conn); !r) return std::unexpected(r.error());
    // The row lock this UPDATE takes makes a concurrent consumer (in this
    // process or another) wait for this transaction; it then re-reads the
    // row, finds used_at set and matches nothing. If this transaction rolls
    // back instead, the other one gets the token.
    auto consumed = conn.Query(
        "UPDATE join_tokens SET used_at = $1 WHERE hash = $2 AND used_at IS NULL AND revoked_at IS NULL "
        "AND expires_at > $1 "
        "RETURNING node",
        "consuming a join token", now, token_hash);
    if (!consumed) return std::unexpected(consumed.error());
    if (consumed->Rows() == 0) {
      auto why = pg::WhyTokenRefused(conn, token_hash, now);
      if (!why) return std::unexpected(why.error());
      return MakeError(ErrorCode::kInvalidToken, *why);
    }
    const std::string node = consumed->Text(0, 0);
    // Lifting a ban is a change every instance's caches follow.
    auto enrolled = conn.Query(
        "WITH before AS (SELECT banned FROM nodes WHERE name = $1 FOR UPDATE) "
        "INSERT INTO nodes (name, enrolled_at, banned, banned_at) VALUES ($1, $2, false, NULL) "
        "ON CONFLICT (name) DO UPDATE SET enrolled_at = excluded.enrolled_at, banned = false, banned_at = NULL "
        "RETURNING coalesce((SELECT banned FROM before), false)",
        "enrolling node " + node, node, now);
    if (!enrolled) return std::unexpected(enrolled.error());
    if (enrolled->Rows() == 1 && enrolled->Bool(0, 0)) {
      if (auto r = pg::NoteChange(conn); !r) return std::unexpected(r.error());
    }
    CertRecord cert = node_cert;
    cert.node = node;
    // A failure here rolls the whole transaction back: the token stays unused.
    if (auto r = pg::InsertCertificateRows(conn, std::span(&cert, 1)); !r) return std::unexpected(r.error());
    if (event) {
      if (auto r = pg::AppendAuditRow(conn, *event); !r) return std::unexpected(r.error());
    }
    return node;
  });
}

Result<std::optional<NodeRecord>> PostgresStore::GetNode(const std::string& name) {
  return impl_->Read([&](PgConnection& conn) -> Result<std::optional<NodeRecord>> {
    auto res = conn.Query("SELECT enrolled_at, banned, banned_at FROM nodes WHERE name = $1", "reading node " + name,
                          name);
    if (!res) return std::unexpected(res.error());
    if (res->Rows() == 0) return std::nullopt;
    return NodeRecord{
        .name = name, .enrolled_at = res->Int(0, 0), .banned = res->Bool(0, 1), .banned_at = res->OptInt(0, 2)};
  });
}

}  // namespace mayfly
