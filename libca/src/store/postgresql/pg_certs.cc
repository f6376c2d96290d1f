// Certificates in PostgreSQL: recording (against concurrent revocation), reading, counting, revoking, the CRL number.
#include <algorithm>
#include <set>
#include <string>

#include "pg_store_internal.h"

namespace mayfly {
namespace pg {
namespace {

constexpr int64_t kMaxReasonValue = static_cast<int64_t>(RevocationReason::kCessationOfOperation);

Result<void> BanNodeRow(PgConnection& conn, const std::string& node, int64_t now) {
  // A node not yet in the table is created banned, so a ban may come before
  // enrollment; enrolling with a new token lifts it. A node banned already
  // keeps its first banned_at.
  auto banned = conn.Run(
      "INSERT INTO nodes (name, banned, banned_at) VALUES ($1, true, $2) "
      "ON CONFLICT (name) DO UPDATE SET banned = true, "
      "banned_at = CASE WHEN nodes.banned THEN nodes.banned_at ELSE excluded.banned_at END",
      "banning node " + node, node, now);
  if (!banned) return banned;
  // Enrolling lifts a ban, so a token made before it would undo it.
  return conn.Run("UPDATE join_tokens SET revoked_at = $2 WHERE node = $1 AND used_at IS NULL AND revoked_at IS NULL",
                  "invalidating the join tokens of node " + node, node, now);
}

// Which of `values` the query "<select_prefix> IN (...)" returns (its first
// column), asked in chunks so no statement nears the protocol's parameter limit.
Result<std::set<std::string>> Matching(PgConnection& conn, const std::string& select_prefix,
                                       const std::set<std::string>& values, std::string_view what) {
  constexpr size_t kPerQuery = 1000;
  std::set<std::string> found;
  auto it = values.begin();
  while (it != values.end()) {
    PgParams params;
    std::string list;
    for (; it != values.end() && static_cast<size_t>(params.size()) < kPerQuery; ++it) {
      params.Add(*it);
      list += (list.empty() ? "$" : ", $") + std::to_string(params.size());
    }
    auto res = conn.Exec(select_prefix + " IN (" + list + ")", params, what);
    if (!res) return std::unexpected(res.error());
    for (int i = 0; i < res->Rows(); ++i) found.insert(res->Text(i, 0));
  }
  return found;
}

// Refuses a batch holding a certificate whose node was banned, or whose
// caller's certificate was revoked, while its request was in flight (the
// first such certificate names the error). Runs under the shared revocation
// lock, in statements that start after the lock was granted, so they see
// every revocation committed before, and none can commit until this
// transaction has.
Result<void> RefusedInFlight(PgConnection& conn, std::span<const CertRecord> certs) {
  std::set<std::string> nodes, callers;
  for (const CertRecord& cert : certs) {
    if (!cert.node.empty()) nodes.insert(cert.node);
    if (!cert.caller_serial.empty()) callers.insert(cert.caller_serial);
  }
  auto banned = Matching(conn, "SELECT name FROM nodes WHERE banned AND name", nodes,
                         "checking the certificates' nodes");
  if (!banned) return std::unexpected(banned.error());
  auto revoked = Matching(conn, "SELECT serial FROM certificates WHERE revoked_at IS NOT NULL AND serial", callers,
                          "checking the callers' certificates");
  if (!revoked) return std::unexpected(revoked.error());
  for (const CertRecord& cert : certs) {
    if (banned->contains(cert.node)) return BannedInFlight(cert.node);
    if (revoked->contains(cert.caller_serial)) return RevokedInFlight(cert.caller_serial);
  }
  return Ok();
}

// One INSERT for up to kCertRowsPerInsert certificates (11 parameters each,
// far below the protocol's 65535).
constexpr size_t kCertRowsPerInsert = 1000;

Result<void> InsertCertificateChunk(PgConnection& conn, std::span<const CertRecord> certs) {
  std::string sql =
      "INSERT INTO certificates (serial, spiffe_id, node, kind, issuer, not_before, not_after, issued_at, "
      "revoked_at, reason, der) VALUES ";
  PgParams params;
  for (const CertRecord& cert : certs) {
    if (params.size() > 0) sql += ", ";
    sql += "(";
    for (int i = 1; i <= 11; ++i) sql += "$" + std::to_string(params.size() + i) + (i < 11 ? ", " : ")");
    params.AddAll(cert.serial, cert.spiffe_id, cert.node, CertKindName(cert.kind), cert.issuer, cert.not_before,
                  cert.not_after, cert.issued_at, cert.revoked_at, static_cast<int64_t>(cert.reason));
    params.AddBytes(cert.der);
  }
  const std::string what = certs.size() == 1 ? "recording certificate " + certs.front().serial
                                             : "recording " + std::to_string(certs.size()) + " certificates";
  auto r = conn.Exec(sql, params, what);
  if (!r) return std::unexpected(r.error());
  return Ok();
}

}  // namespace

Result<void> LockForIssuance(PgConnection& conn) {
  return conn.Run("SELECT pg_advisory_xact_lock_shared($1)", "waiting for revocations in progress",
                  kRevocationLock);
}

Result<void> LockForRevocation(PgConnection& conn) {
  return conn.Run("SELECT pg_advisory_xact_lock($1)", "waiting for issuance in progress", kRevocationLock);
}

Result<void> InsertCertificateRows(PgConnection& conn, std::span<const CertRecord> certs) {
  for (const CertRecord& cert : certs) {
    if (cert.serial.empty() || cert.spiffe_id.empty()) {
      return MakeError(ErrorCode::kInvalidArgument, "a certificate record needs a serial and a SPIFFE ID");
    }
  }
  if (auto r = RefusedInFlight(conn, certs); !r) return r;
  for (size_t at = 0; at < certs.size(); at += kCertRowsPerInsert) {
    if (auto r = InsertCertificateChunk(conn, certs.subspan(at, std::min(kCertRowsPerInsert, certs.size() - at)));
        !r) {
      return r;
    }
  }
  return Ok();
}

Result<RevocationReason> ReasonColumn(const PgResult& res, int row, int col, const std::string& serial) {
  const int64_t reason = res.Int(row, col);
  if (reason < 0 || reason > kMaxReasonValue) {
    return MakeError(ErrorCode::kStore,
                     "certificate " + serial + " has unknown revocation reason " + std::to_string(reason));
  }
  return static_cast<RevocationReason>(reason);
}

Result<CertRecord> ReadCertificateRow(const PgResult& res, int row, bool with_der) {
  CertRecord cert;
  cert.serial = res.Text(row, 1);
  auto kind = ParseCertKind(res.Text(row, 4));
  if (!kind) return WithContext(kind.error(), "certificate " + cert.serial + " in the database");
  auto reason = ReasonColumn(res, row, 10, cert.serial);
  if (!reason) return std::unexpected(reason.error());
  cert.spiffe_id = res.Text(row, 2);
  cert.node = res.Text(row, 3);
  cert.kind = *kind;
  cert.issuer = res.Text(row, 5);
  cert.not_before = res.Int(row, 6);
  cert.not_after = res.Int(row, 7);
  cert.issued_at = res.Int(row, 8);
  cert.revoked_at = res.OptInt(row, 9);
  cert.reason = *reason;
  if (with_der) cert.der = res.Bytes(row, 11);
  return cert;
}

std::string CertStatusCondition(CertStatus status, int now_param) {
  const std::string now = "$" + std::to_string(now_param);
  switch (status) {
    case CertStatus::kValid: return "revoked_at IS NULL AND not_after > " + now;
    case CertStatus::kRevoked: return "revoked_at IS NOT NULL";
    case CertStatus::kExpired: return "revoked_at IS NULL AND not_after <= " + now;
  }
  return "false";
}

}  // namespace pg

Result<void> PostgresStore::InsertCertificates(std::span<const CertRecord> certs) {
  return RecordIssuance(certs, {});
}

Result<void> PostgresStore::RecordIssuance(std::span<const CertRecord> certs, std::span<const AuditEvent> events) {
  if (certs.empty() && events.empty()) return Ok();
  return impl_->Write([&](PgConnection& conn) -> Result<void> {
    if (!certs.empty()) {
      if (auto r = pg::LockForIssuance(conn); !r) return r;
    }
    return pg::InsertIssuanceRows(conn, certs, events);
  });
}

namespace pg {

Result<void> InsertIssuanceRows(PgConnection& conn, std::span<const CertRecord> certs,
                                std::span<const AuditEvent> events) {
  if (auto r = InsertCertificateRows(conn, certs); !r) return r;
  std::vector<AuditEvent> chained(events.begin(), events.end());
  return AppendAuditRows(conn, chained);
}

}  // namespace pg

Result<std::optional<CertRecord>> PostgresStore::GetCertificate(const std::string& serial) {
  static const std::string kSql = "SELECT " + std::string(pg::kCertColumns) + ", der FROM certificates WHERE serial = $1";
  return impl_->Read([&](PgConnection& conn) -> Result<std::optional<CertRecord>> {
    auto res = conn.Query(kSql, "reading certificate " + serial, serial);
    if (!res) return std::unexpected(res.error());
    if (res->Rows() == 0) return std::nullopt;
    return pg::ReadCertificateRow(*res, 0, /*with_der=*/true);
  });
}

Result<int64_t> PostgresStore::CountCertificates(std::optional<CertStatus> status, int64_t now) {
  std::string sql = "SELECT count(*) FROM certificates";
  if (status) sql += " WHERE " + pg::CertStatusCondition(*status, 1);
  return impl_->Read([&](PgConnection& conn) -> Result<int64_t> {
    PgParams params;
    if (status && *status != CertStatus::kRevoked) params.Add(now);
    auto res = conn.Exec(sql, params, "counting certificates");
    if (!res) return std::unexpected(res.error());
    return res->Int(0, 0);
  });
}

Result<std::vector<std::string>> PostgresStore::Revoke(const RevokeSelector& which, RevocationReason reason,
                                                       int64_t now, const RevocationAuditEvent& event) {
  if (auto r = RevokeSelectorColumn(which); !r) return std::unexpected(r.error());
  return impl_->Write([&](PgConnection& conn) -> Result<std::vector<std::string>> {
    if (auto r = pg::LockForRevocation(conn); !r) return std::unexpected(r.error());
    auto serials = pg::RevokeRows(conn, which, reason, now);
    if (!serials) return serials;
    if (auto r = pg::AppendAuditRow(conn, event(*serials)); !r) return std::unexpected(r.error());
    return serials;
  });
}

namespace pg {

Result<std::vector<std::string>> RevokeRows(PgConnection& conn, const RevokeSelector& which, RevocationReason reason,
                                            int64_t now) {
  auto selector = RevokeSelectorColumn(which);
  if (!selector) return std::unexpected(selector.error());
  const auto& [column, value] = *selector;
  const std::string sql = "UPDATE certificates SET revoked_at = $1, reason = $2 WHERE " + std::string(column) +
                          " = $3 AND revoked_at IS NULL AND not_after > $1 RETURNING serial";
  auto res = conn.Query(sql, "revoking by " + std::string(column) + " " + value, now, static_cast<int64_t>(reason),
                        value);
  if (!res) return std::unexpected(res.error());
  std::vector<std::string> serials;
  for (int i = 0; i < res->Rows(); ++i) serials.push_back(res->Text(i, 0));
  if (which.serial && serials.empty()) {
    auto exists = conn.Query("SELECT 1 FROM certificates WHERE serial = $1", "looking up certificate " + value,
                             value);
    if (!exists) return std::unexpected(exists.error());
    if (exists->Rows() == 0) return MakeError(ErrorCode::kNotFound, "no certificate with serial " + value);
  }
  if (which.node) {
    if (auto r = BanNodeRow(conn, value, now); !r) return std::unexpected(r.error());
  }
  if (!serials.empty() || which.node) {
    if (auto r = NoteChange(conn); !r) return std::unexpected(r.error());
  }
  return serials;
}

Result<std::vector<RevokedCert>> ReadRevokedUnexpired(PgConnection& conn, const std::string& issuer, int64_t now) {
  auto res = conn.Query(
      "SELECT serial, revoked_at, reason, not_after, issuer FROM certificates "
      "WHERE revoked_at IS NOT NULL AND not_after > $1 AND ($2::text = '' OR issuer = $2) ORDER BY id",
      "listing revoked certificates", now, issuer);
  if (!res) return std::unexpected(res.error());
  std::vector<RevokedCert> revoked;
  for (int i = 0; i < res->Rows(); ++i) {
    std::string serial = res->Text(i, 0);
    auto why = ReasonColumn(*res, i, 2, serial);
    if (!why) return std::unexpected(why.error());
    revoked.push_back(RevokedCert{.serial = std::move(serial),
                                  .revoked_at = res->Int(i, 1),
                                  .reason = *why,
                                  .not_after = res->Int(i, 3),
                                  .issuer = res->Text(i, 4)});
  }
  return revoked;
}

namespace {

Result<int64_t> AdvanceCrlNumber(PgConnection& conn) {
  // The row lock makes concurrent instances take turns: each number once.
  auto res = conn.Query("UPDATE crl_state SET number = number + 1 WHERE id = 1 RETURNING number",
                        "advancing the CRL number");
  if (!res) return std::unexpected(res.error());
  if (res->Rows() != 1) return MakeError(ErrorCode::kStore, "the CRL number row is missing");
  return res->Int(0, 0);
}

}  // namespace
}  // namespace pg

Result<std::vector<RevokedCert>> PostgresStore::ListRevokedUnexpired(const std::string& issuer, int64_t now) {
  return impl_->Read([&](PgConnection& conn) { return pg::ReadRevokedUnexpired(conn, issuer, now); });
}

Result<int64_t> PostgresStore::NextCrlNumber() {
  return impl_->Write([&](PgConnection& conn) { return pg::AdvanceCrlNumber(conn); });
}

Result<CrlContents> PostgresStore::NextCrl(const std::string& issuer, int64_t now) {
  return impl_->Write([&](PgConnection& conn) -> Result<CrlContents> {
    // The revocation lock, shared: a revocation (exclusive) either committed
    // before, and is listed, or waits for this number to be taken, and goes
    // into a higher one. Taking the number first orders concurrent CRLs:
    // the later one waits on the number's row, then reads a list at least as
    // long.
    if (auto r = pg::LockForIssuance(conn); !r) return std::unexpected(r.error());
    auto number = pg::AdvanceCrlNumber(conn);
    if (!number) return std::unexpected(number.error());
    auto revoked = pg::ReadRevokedUnexpired(conn, issuer, now);
    if (!revoked) return std::unexpected(revoked.error());
    return CrlContents{.number = *number, .revoked = std::move(*revoked)};
  });
}

}  // namespace mayfly
