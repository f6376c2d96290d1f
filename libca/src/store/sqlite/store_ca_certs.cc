// The CA certificates' rotation state: each step saved with its audit event.
#include <string>

#include "store_internal.h"

namespace mayfly {
namespace {

constexpr std::string_view kCaColumns =
    "id, role, state, key_id, issuer_key_id, serial, der, key_file, not_after, created_at, changed_at, crl_pem, key_pem";

Result<CaCertRecord> ReadCaRow(const Statement& row) {
  CaCertRecord r;
  r.id = row.Int(0);
  r.serial = row.Text(5);
  auto role = ParseCaRole(row.Text(1));
  if (!role) return WithContext(role.error(), "CA certificate " + r.serial + " in the database");
  auto state = ParseCaState(row.Text(2));
  if (!state) return WithContext(state.error(), "CA certificate " + r.serial + " in the database");
  r.role = *role;
  r.state = *state;
  r.key_id = row.Text(3);
  r.issuer_key_id = row.Text(4);
  r.der = row.Blob(6);
  r.key_file = row.Text(7);
  r.not_after = row.Int(8);
  r.created_at = row.Int(9);
  r.changed_at = row.Int(10);
  r.crl_pem = row.Text(11);
  r.key_pem = row.Text(12);
  return r;
}

Result<void> InsertCaRow(Connection& conn, CaCertRecord& r) {
  if (r.serial.empty() || r.der.empty() || r.key_id.empty()) {
    return MakeError(ErrorCode::kInvalidArgument, "a CA certificate record needs a serial, DER and key id");
  }
  auto stmt = conn.Prepare(
      "INSERT INTO ca_certs (role, state, key_id, issuer_key_id, serial, key_file, not_after, created_at, "
      "changed_at, crl_pem, key_pem, der) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12) RETURNING id");
  if (!stmt) return std::unexpected(stmt.error());
  stmt->BindAll(CaRoleName(r.role), CaStateName(r.state), r.key_id, r.issuer_key_id, r.serial, r.key_file,
                r.not_after, r.created_at, r.changed_at, r.crl_pem, r.key_pem)
      .BindBlob(12, r.der);
  auto row = stmt->Step();
  if (!row) return WithContext(row.error(), "recording CA certificate " + r.serial);
  r.id = stmt->Int(0);
  return stmt->Run();
}

Result<void> UpdateCaRow(Connection& conn, const CaCertRecord& r) {
  auto stmt = conn.Prepare("UPDATE ca_certs SET state = ?1, changed_at = ?2, crl_pem = ?3 WHERE id = ?4");
  if (!stmt) return std::unexpected(stmt.error());
  if (auto done = stmt->BindAll(CaStateName(r.state), r.changed_at, r.crl_pem, r.id).Run(); !done) {
    return WithContext(done.error(), "updating CA certificate " + r.serial);
  }
  if (conn.Changes() != 1) {
    return MakeError(ErrorCode::kNotFound, "no CA certificate with id " + std::to_string(r.id));
  }
  return Ok();
}

}  // namespace

Result<std::vector<CaCertRecord>> SqliteStore::ListCaCerts() {
  static const std::string kSql = "SELECT " + std::string(kCaColumns) + " FROM ca_certs ORDER BY id";
  return impl_->Read([&](Connection& conn) -> Result<std::vector<CaCertRecord>> {
    auto stmt = conn.Prepare(kSql);
    if (!stmt) return std::unexpected(stmt.error());
    std::vector<CaCertRecord> out;
    while (true) {
      auto row = stmt->Step();
      if (!row) return WithContext(row.error(), "listing CA certificates");
      if (!*row) break;
      auto record = ReadCaRow(*stmt);
      if (!record) return std::unexpected(record.error());
      out.push_back(std::move(*record));
    }
    return out;
  });
}

Result<std::vector<CaCertRecord>> SqliteStore::SaveCaCerts(std::vector<CaCertRecord> records, const AuditEvent& event) {
  return impl_->Write([&](Connection& conn) -> Result<std::vector<CaCertRecord>> {
    for (CaCertRecord& r : records) {
      auto saved = r.id == 0 ? InsertCaRow(conn, r) : UpdateCaRow(conn, r);
      if (!saved) return std::unexpected(saved.error());
    }
    auto count = [&](CaRole role, CaState state) -> Result<int64_t> {
      auto stmt = conn.Prepare("SELECT count(*) FROM ca_certs WHERE role = ?1 AND state = ?2");
      if (!stmt) return std::unexpected(stmt.error());
      auto row = stmt->BindAll(CaRoleName(role), CaStateName(state)).Step();
      if (!row) return WithContext(row.error(), "checking the CA certificates' states");
      return stmt->Int(0);
    };
    if (auto r = CheckCaStates(count); !r) return std::unexpected(r.error());
    if (auto r = AppendAuditRow(conn, event); !r) return std::unexpected(r.error());
    if (auto r = NoteChange(conn); !r) return std::unexpected(r.error());
    return records;
  });
}

Result<std::map<std::string, int64_t>> SqliteStore::CountLiveByIssuer(int64_t now) {
  return impl_->Read([&](Connection& conn) -> Result<std::map<std::string, int64_t>> {
    auto stmt = conn.Prepare(
        "SELECT issuer, count(*) FROM certificates WHERE not_after > ?1 AND revoked_at IS NULL AND kind != 'server' "
        "GROUP BY issuer");
    if (!stmt) return std::unexpected(stmt.error());
    stmt->Bind(1, now);
    std::map<std::string, int64_t> out;
    while (true) {
      auto row = stmt->Step();
      if (!row) return WithContext(row.error(), "counting live certificates per issuer");
      if (!*row) break;
      out[stmt->Text(0)] = stmt->Int(1);
    }
    return out;
  });
}

}  // namespace mayfly
