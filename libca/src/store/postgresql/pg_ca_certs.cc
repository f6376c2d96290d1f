// The CA certificates' rotation state in PostgreSQL: each step saved with its audit event.
#include <string>

#include "pg_store_internal.h"

namespace mayfly {
namespace pg {
namespace {

constexpr std::string_view kCaCertColumns =
    "id, role, state, key_id, issuer_key_id, serial, der, key_file, not_after, created_at, changed_at, crl_pem, key_pem";

Result<CaCertRecord> ReadCaCertRow(const PgResult& res, int row) {
  CaCertRecord r;
  r.id = res.Int(row, 0);
  r.serial = res.Text(row, 5);
  auto role = ParseCaRole(res.Text(row, 1));
  if (!role) return WithContext(role.error(), "CA certificate " + r.serial + " in the database");
  auto state = ParseCaState(res.Text(row, 2));
  if (!state) return WithContext(state.error(), "CA certificate " + r.serial + " in the database");
  r.role = *role;
  r.state = *state;
  r.key_id = res.Text(row, 3);
  r.issuer_key_id = res.Text(row, 4);
  r.der = res.Bytes(row, 6);
  r.key_file = res.Text(row, 7);
  r.not_after = res.Int(row, 8);
  r.created_at = res.Int(row, 9);
  r.changed_at = res.Int(row, 10);
  r.crl_pem = res.Text(row, 11);
  r.key_pem = res.Text(row, 12);
  return r;
}

Result<void> InsertCaCertRow(PgConnection& conn, CaCertRecord& r) {
  if (r.serial.empty() || r.der.empty() || r.key_id.empty()) {
    return MakeError(ErrorCode::kInvalidArgument, "a CA certificate record needs a serial, DER and key id");
  }
  PgParams params;
  params.AddAll(CaRoleName(r.role), CaStateName(r.state), r.key_id, r.issuer_key_id, r.serial, r.key_file,
                r.not_after, r.created_at, r.changed_at, r.crl_pem, r.key_pem);
  params.AddBytes(r.der);
  auto res = conn.Exec(
      "INSERT INTO ca_certs (role, state, key_id, issuer_key_id, serial, key_file, not_after, created_at, "
      "changed_at, crl_pem, key_pem, der) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id",
      params, "recording CA certificate " + r.serial);
  if (!res) return std::unexpected(res.error());
  r.id = res->Int(0, 0);
  return Ok();
}

Result<void> UpdateCaCertRow(PgConnection& conn, const CaCertRecord& r) {
  auto res = conn.Query("UPDATE ca_certs SET state = $1, changed_at = $2, crl_pem = $3 WHERE id = $4 RETURNING id",
                        "updating CA certificate " + r.serial, CaStateName(r.state), r.changed_at, r.crl_pem, r.id);
  if (!res) return std::unexpected(res.error());
  if (res->Rows() != 1) return MakeError(ErrorCode::kNotFound, "no CA certificate with id " + std::to_string(r.id));
  return Ok();
}

}  // namespace
}  // namespace pg

Result<std::vector<CaCertRecord>> PostgresStore::ListCaCerts() {
  static const std::string kSql = "SELECT " + std::string(pg::kCaCertColumns) + " FROM ca_certs ORDER BY id";
  return impl_->Read([&](PgConnection& conn) -> Result<std::vector<CaCertRecord>> {
    auto res = conn.Query(kSql, "listing CA certificates");
    if (!res) return std::unexpected(res.error());
    std::vector<CaCertRecord> out;
    for (int i = 0; i < res->Rows(); ++i) {
      auto record = pg::ReadCaCertRow(*res, i);
      if (!record) return std::unexpected(record.error());
      out.push_back(std::move(*record));
    }
    return out;
  });
}

Result<std::vector<CaCertRecord>> PostgresStore::SaveCaCerts(std::vector<CaCertRecord> records,
                                                             const AuditEvent& event) {
  return impl_->Write([&](PgConnection& conn) -> Result<std::vector<CaCertRecord>> {
    // One step at a time across instances, so CheckCaStates sees the others.
    if (auto r = conn.Run("SELECT pg_advisory_xact_lock($1)", "waiting for another CA step", pg::kCaStepLock); !r) {
      return std::unexpected(r.error());
    }
    std::vector<CaCertRecord> saved = records;  // a retried transaction starts from the caller's ids
    for (CaCertRecord& r : saved) {
      auto done = r.id == 0 ? pg::InsertCaCertRow(conn, r) : pg::UpdateCaCertRow(conn, r);
      if (!done) return std::unexpected(done.error());
    }
    auto count = [&](CaRole role, CaState state) -> Result<int64_t> {
      auto res = conn.Query("SELECT count(*) FROM ca_certs WHERE role = $1 AND state = $2",
                            "checking the CA certificates' states", CaRoleName(role), CaStateName(state));
      if (!res) return std::unexpected(res.error());
      return res->Int(0, 0);
    };
    if (auto r = CheckCaStates(count); !r) return std::unexpected(r.error());
    if (auto r = pg::AppendAuditRow(conn, event); !r) return std::unexpected(r.error());
    if (auto r = pg::NoteChange(conn); !r) return std::unexpected(r.error());
    return saved;
  });
}

Result<std::map<std::string, int64_t>> PostgresStore::CountLiveByIssuer(int64_t now) {
  return impl_->Read([&](PgConnection& conn) -> Result<std::map<std::string, int64_t>> {
    auto res = conn.Query(
        "SELECT issuer, count(*) FROM certificates WHERE not_after > $1 AND revoked_at IS NULL AND kind <> 'server' "
        "GROUP BY issuer",
        "counting live certificates per issuer", now);
    if (!res) return std::unexpected(res.error());
    std::map<std::string, int64_t> out;
    for (int i = 0; i < res->Rows(); ++i) out[res->Text(i, 0)] = res->Int(i, 1);
    return out;
  });
}

}  // namespace mayfly
