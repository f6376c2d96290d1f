// Join tokens (stored as hashes) and the nodes they enroll.
#include <string>

#include "store_internal.h"

namespace mayfly {
namespace {

// Why a token could not be consumed. The caller holds the token, so telling
// unknown, used and expired apart reveals nothing it does not know; the node
// name and the hash stay out of the message.
Result<std::string> TokenRefusal(Connection& conn, const std::string& token_hash, int64_t now) {
  auto stmt = conn.Prepare("SELECT used_at, expires_at, revoked_at FROM join_tokens WHERE hash = ?1");
  if (!stmt) return std::unexpected(stmt.error());
  auto row = stmt->Bind(1, token_hash).Step();
  if (!row) return WithContext(row.error(), "looking up a join token");
  if (!*row) return "join token is unknown";
  if (!stmt->IsNull(0)) return "join token has already been used";
  if (!stmt->IsNull(2)) {
    return "join token was invalidated when its node was banned (revoke --node); create a new token";
  }
  if (stmt->Int(1) <= now) return "join token has expired";
  return "join token is not usable";
}

// Records `node` as enrolled at `now`, lifting any ban (a change the
// daemons' caches follow).
Result<void> EnrollNode(Connection& conn, const std::string& node, int64_t now) {
  auto was_banned = conn.Prepare("SELECT 1 FROM nodes WHERE name = ?1 AND banned");
  if (!was_banned) return std::unexpected(was_banned.error());
  auto banned = was_banned->Bind(1, node).Step();
  if (!banned) return WithContext(banned.error(), "reading node " + node);
  if (*banned) {
    if (auto r = NoteChange(conn); !r) return r;
  }
  return conn.Run(
      "INSERT INTO nodes (name, enrolled_at, banned, banned_at) VALUES (?1, ?2, 0, NULL) "
      "ON CONFLICT (name) DO UPDATE SET enrolled_at = excluded.enrolled_at, banned = 0, "
      "banned_at = NULL",
      "enrolling node " + node, node, now);
}

}  // namespace

Result<void> BanNode(Connection& conn, const std::string& node, int64_t now) {
  // A node not yet in the table is created banned, so a ban may come before
  // enrollment.
  auto banned = conn.Run(
      "INSERT INTO nodes (name, banned, banned_at) VALUES (?1, 1, ?2) "
      "ON CONFLICT (name) DO UPDATE SET banned = 1, "
      "banned_at = CASE WHEN nodes.banned THEN nodes.banned_at ELSE excluded.banned_at END",
      "banning node " + node, node, now);
  if (!banned) return banned;
  // Enrolling lifts a ban, so a token made before it would undo it.
  return conn.Run("UPDATE join_tokens SET revoked_at = ?2 WHERE node = ?1 AND used_at IS NULL AND revoked_at IS NULL",
                  "invalidating the join tokens of node " + node, node, now);
}

Result<void> SqliteStore::CreateToken(const TokenRecord& token, const AuditEvent& event) {
  if (token.hash.empty() || token.node.empty()) {
    return MakeError(ErrorCode::kInvalidArgument, "a join token needs a hash and a node");
  }
  return impl_->Write([&](Connection& conn) -> Result<void> {
    if (auto r = conn.Run("INSERT INTO join_tokens (hash, node, created_at, expires_at) VALUES (?1, ?2, ?3, ?4)",
                          "recording a join token for " + token.node, token.hash, token.node, token.created_at,
                          token.expires_at);
        !r) {
      return r;
    }
    if (auto r = AppendAuditRow(conn, event); !r) return std::unexpected(r.error());
    return Ok();
  });
}

Result<std::string> SqliteStore::ConsumeTokenAndEnroll(const std::string& token_hash, int64_t now,
                                                 CertRecord node_cert, std::optional<AuditEvent> event) {
  return impl_->Write([&](Connection& conn) -> Result<std::string> {
    auto consume = conn.Prepare(
        "UPDATE join_tokens SET used_at = ?1 "
        "WHERE hash = ?2 AND used_at IS NULL AND revoked_at IS NULL AND expires_at > ?1 RETURNING node");
    if (!consume) return std::unexpected(consume.error());
    auto row = consume->BindAll(now, token_hash).Step();
    if (!row) return WithContext(row.error(), "consuming a join token");
    if (!*row) {
      auto why = TokenRefusal(conn, token_hash, now);
      if (!why) return std::unexpected(why.error());
      return MakeError(ErrorCode::kInvalidToken, *why);
    }
    std::string node = consume->Text(0);
    if (auto r = consume->Run(); !r) return std::unexpected(r.error());
    if (auto r = EnrollNode(conn, node, now); !r) return std::unexpected(r.error());
    node_cert.node = node;
    // A failure here rolls the whole transaction back: the token stays unused.
    if (auto r = InsertCertificateRow(conn, node_cert); !r) return std::unexpected(r.error());
    if (event) {
      if (auto r = AppendAuditRow(conn, *event); !r) return std::unexpected(r.error());
    }
    return node;
  });
}

Result<std::optional<NodeRecord>> SqliteStore::GetNode(const std::string& name) {
  return impl_->Read([&](Connection& conn) -> Result<std::optional<NodeRecord>> {
    auto stmt = conn.Prepare("SELECT enrolled_at, banned, banned_at FROM nodes WHERE name = ?1");
    if (!stmt) return std::unexpected(stmt.error());
    auto row = stmt->Bind(1, name).Step();
    if (!row) return WithContext(row.error(), "reading node " + name);
    if (!*row) return std::nullopt;
    return NodeRecord{.name = name,
                      .enrolled_at = stmt->Int(0),
                      .banned = stmt->Int(1) != 0,
                      .banned_at = stmt->OptInt(2)};
  });
}

}  // namespace mayfly
