// Certificates in the store: recording, reading, counting, revoking, and the CRL number.
#include <string>

#include "store_internal.h"

namespace mayfly {
namespace {

constexpr int64_t kMaxReason = static_cast<int64_t>(RevocationReason::kCessationOfOperation);

// The revocation reason in column `col`; kStore for a value this build does
// not know, rather than a silently wrong reason on a CRL.
Result<RevocationReason> ReasonColumn(const Statement& row, int col, const std::string& serial) {
  const int64_t reason = row.Int(col);
  if (reason < 0 || reason > kMaxReason) {
    return MakeError(ErrorCode::kStore, "certificate " + serial +
                                            " has unknown revocation reason " + std::to_string(reason));
  }
  return static_cast<RevocationReason>(reason);
}

Result<bool> CertificateExists(Connection& conn, const std::string& serial) {
  auto stmt = conn.Prepare("SELECT 1 FROM certificates WHERE serial = ?1");
  if (!stmt) return std::unexpected(stmt.error());
  auto row = stmt->Bind(1, serial).Step();
  if (!row) return WithContext(row.error(), "looking up certificate " + serial);
  return *row;
}

// A ban of the caller's node or a revocation of the caller's certificate
// committed while its request was in flight (revoke --node or --serial while
// it was signing) must still stop it, or the caller would walk away with a
// valid, unrevoked certificate. Run in the write transaction that inserts,
// so nothing can commit in between.
Result<void> RefusedInFlight(Connection& conn, const CertRecord& cert) {
  auto stmt = conn.Prepare(
      "SELECT EXISTS (SELECT 1 FROM nodes WHERE name = ?1 AND banned), "
      "EXISTS (SELECT 1 FROM certificates WHERE serial = ?2 AND revoked_at IS NOT NULL)");
  if (!stmt) return std::unexpected(stmt.error());
  auto row = stmt->Bind(1, cert.node).Bind(2, cert.caller_serial).Step();
  if (!row) return WithContext(row.error(), "checking node " + cert.node + " and its certificate");
  if (stmt->Int(0) != 0) return BannedInFlight(cert.node);
  if (stmt->Int(1) != 0) return RevokedInFlight(cert.caller_serial);
  return Ok();
}

}  // namespace

Result<void> InsertCertificateRow(Connection& conn, const CertRecord& cert) {
  if (cert.serial.empty() || cert.spiffe_id.empty()) {
    return MakeError(ErrorCode::kInvalidArgument, "a certificate record needs a serial and a SPIFFE ID");
  }
  // The caller was checked when its request arrived; check again what may
  // have changed since. Two statements, not one INSERT ... SELECT guarded by
  // NOT EXISTS: an INSERT whose SELECT reads its own table makes SQLite copy
  // the row through a temporary table, a whole in-memory database opened and
  // closed per certificate.
  if (auto r = RefusedInFlight(conn, cert); !r) return r;
  auto stmt = conn.Prepare(
      "INSERT INTO certificates (serial, spiffe_id, node, kind, issuer, not_before, not_after, "
      "issued_at, revoked_at, reason, der) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)");
  if (!stmt) return std::unexpected(stmt.error());
  stmt->BindAll(cert.serial, cert.spiffe_id, cert.node, CertKindName(cert.kind), cert.issuer,
                cert.not_before, cert.not_after, cert.issued_at, cert.revoked_at,
                static_cast<int64_t>(cert.reason))
      .BindBlob(11, cert.der);
  if (auto r = stmt->Run(); !r) return WithContext(r.error(), "recording certificate " + cert.serial);
  return Ok();
}

Result<CertRecord> ReadCertificateRow(const Statement& row, bool with_der) {
  CertRecord cert;
  cert.serial = row.Text(1);
  auto kind = ParseCertKind(row.Text(4));
  if (!kind) return WithContext(kind.error(), "certificate " + cert.serial + " in the database");
  auto reason = ReasonColumn(row, 10, cert.serial);
  if (!reason) return std::unexpected(reason.error());
  cert.spiffe_id = row.Text(2);
  cert.node = row.Text(3);
  cert.kind = *kind;
  cert.issuer = row.Text(5);
  cert.not_before = row.Int(6);
  cert.not_after = row.Int(7);
  cert.issued_at = row.Int(8);
  cert.revoked_at = row.OptInt(9);
  cert.reason = *reason;
  if (with_der) cert.der = row.Blob(11);
  return cert;
}

Result<void> SqliteStore::InsertCertificates(std::span<const CertRecord> certs) {
  return RecordIssuance(certs, {});
}

Result<void> InsertIssuanceRows(Connection& conn, std::span<const CertRecord> certs,
                                std::span<const AuditEvent> events) {
  for (const CertRecord& cert : certs) {
    if (auto r = InsertCertificateRow(conn, cert); !r) return r;
  }
  for (const AuditEvent& event : events) {
    if (auto r = AppendAuditRow(conn, event); !r) return std::unexpected(r.error());
  }
  return Ok();
}

Result<void> SqliteStore::RecordIssuance(std::span<const CertRecord> certs,
                                   std::span<const AuditEvent> events) {
  if (certs.empty() && events.empty()) return Ok();
  return impl_->Write([&](Connection& conn) { return InsertIssuanceRows(conn, certs, events); });
}

Result<std::optional<CertRecord>> SqliteStore::GetCertificate(const std::string& serial) {
  static const std::string kSql =
      "SELECT " + std::string(kCertColumns) + ", der FROM certificates WHERE serial = ?1";
  return impl_->Read([&](Connection& conn) -> Result<std::optional<CertRecord>> {
    auto stmt = conn.Prepare(kSql);
    if (!stmt) return std::unexpected(stmt.error());
    auto row = stmt->Bind(1, serial).Step();
    if (!row) return WithContext(row.error(), "reading certificate " + serial);
    if (!*row) return std::nullopt;
    return ReadCertificateRow(*stmt, /*with_der=*/true);
  });
}

Result<int64_t> SqliteStore::CountCertificates(std::optional<CertStatus> status, int64_t now) {
  std::string sql = "SELECT count(*) FROM certificates";
  if (status) sql += " WHERE " + std::string(CertStatusCondition(*status));
  return impl_->Read([&](Connection& conn) -> Result<int64_t> {
    auto stmt = conn.Prepare(sql);
    if (!stmt) return std::unexpected(stmt.error());
    if (status && *status != CertStatus::kRevoked) stmt->Bind(stmt->Param(":now"), now);
    auto row = stmt->Step();
    if (!row) return WithContext(row.error(), "counting certificates");
    return stmt->Int(0);
  });
}

Result<std::vector<std::string>> RevokeRows(Connection& conn, const RevokeSelector& which, RevocationReason reason,
                                            int64_t now) {
  auto selector = RevokeSelectorColumn(which);
  if (!selector) return std::unexpected(selector.error());
  const auto& [column, value] = *selector;
  const std::string sql = "UPDATE certificates SET revoked_at = ?1, reason = ?2 WHERE " +
                          std::string(column) +
                          " = ?3 AND revoked_at IS NULL AND not_after > ?1 RETURNING serial";
  std::vector<std::string> serials;
  auto stmt = conn.Prepare(sql);
  if (!stmt) return std::unexpected(stmt.error());
  stmt->BindAll(now, static_cast<int64_t>(reason), value);
  while (true) {
    auto row = stmt->Step();
    if (!row) return WithContext(row.error(), "revoking by " + std::string(column) + " " + value);
    if (!*row) break;
    serials.push_back(stmt->Text(0));
  }
  if (which.serial && serials.empty()) {
    auto exists = CertificateExists(conn, value);
    if (!exists) return std::unexpected(exists.error());
    if (!*exists) return MakeError(ErrorCode::kNotFound, "no certificate with serial " + value);
  }
  if (which.node) {
    if (auto r = BanNode(conn, value, now); !r) return std::unexpected(r.error());
  }
  if (!serials.empty() || which.node) {
    if (auto r = NoteChange(conn); !r) return std::unexpected(r.error());
  }
  return serials;
}

Result<std::vector<std::string>> SqliteStore::Revoke(const RevokeSelector& which, RevocationReason reason,
                                                     int64_t now, const RevocationAuditEvent& event) {
  return impl_->Write([&](Connection& conn) -> Result<std::vector<std::string>> {
    auto serials = RevokeRows(conn, which, reason, now);
    if (!serials) return serials;
    if (auto r = AppendAuditRow(conn, event(*serials)); !r) return std::unexpected(r.error());
    return serials;
  });
}

Result<std::vector<RevokedCert>> ReadRevokedUnexpired(Connection& conn, const std::string& issuer, int64_t now) {
  auto stmt = conn.Prepare(
      "SELECT serial, revoked_at, reason, not_after, issuer FROM certificates "
      "WHERE revoked_at IS NOT NULL AND not_after > ?1 AND (?2 = '' OR issuer = ?2) "
      "ORDER BY id");
  if (!stmt) return std::unexpected(stmt.error());
  stmt->BindAll(now, issuer);
  std::vector<RevokedCert> revoked;
  while (true) {
    auto row = stmt->Step();
    if (!row) return WithContext(row.error(), "listing revoked certificates");
    if (!*row) return revoked;
    std::string serial = stmt->Text(0);
    auto reason = ReasonColumn(*stmt, 2, serial);
    if (!reason) return std::unexpected(reason.error());
    revoked.push_back(RevokedCert{
        .serial = std::move(serial),
        .revoked_at = stmt->Int(1),
        .reason = *reason,
        .not_after = stmt->Int(3),
        .issuer = stmt->Text(4),
    });
  }
}

Result<std::vector<RevokedCert>> SqliteStore::ListRevokedUnexpired(const std::string& issuer,
                                                             int64_t now) {
  return impl_->Read([&](Connection& conn) { return ReadRevokedUnexpired(conn, issuer, now); });
}

namespace {

Result<int64_t> AdvanceCrlNumber(Connection& conn) {
  auto stmt = conn.Prepare("UPDATE crl_state SET number = number + 1 WHERE id = 1 RETURNING number");
  if (!stmt) return std::unexpected(stmt.error());
  auto row = stmt->Step();
  if (!row) return WithContext(row.error(), "advancing the CRL number");
  if (!*row) return MakeError(ErrorCode::kStore, "the CRL number row is missing");
  const int64_t number = stmt->Int(0);
  // Step to the end so the UPDATE completes before COMMIT.
  if (auto r = stmt->Run(); !r) return std::unexpected(r.error());
  return number;
}

}  // namespace

Result<int64_t> SqliteStore::NextCrlNumber() {
  return impl_->Write([&](Connection& conn) { return AdvanceCrlNumber(conn); });
}

Result<CrlContents> SqliteStore::NextCrl(const std::string& issuer, int64_t now) {
  // One write transaction: revocations are writes too, so none falls between.
  return impl_->Write([&](Connection& conn) -> Result<CrlContents> {
    auto number = AdvanceCrlNumber(conn);
    if (!number) return std::unexpected(number.error());
    auto revoked = ReadRevokedUnexpired(conn, issuer, now);
    if (!revoked) return std::unexpected(revoked.error());
    return CrlContents{.number = *number, .revoked = std::move(*revoked)};
  });
}

}  // namespace mayfly
