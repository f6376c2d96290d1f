// Admin roles in the PostgreSQL store.
#include <string>

#include "pg_store_internal.h"

namespace mayfly {
namespace {

Result<AdminRecord> AdminFromRow(const PgResult& res, int row) {
  auto role = ParseAdminRole(res.Text(row, 1));
  if (!role) return std::unexpected(role.error());
  return AdminRecord{
      .name = res.Text(row, 0), .role = *role, .created_at = res.Int(row, 2), .revoked_at = res.OptInt(row, 3)};
}

}  // namespace

namespace pg {
Result<std::vector<AdminRecord>> ReadAdmins(PgConnection& conn) {
  // COLLATE "C": sorted by bytes, as SQLite sorts, whatever the database's locale.
  auto res = conn.Query("SELECT name, role, created_at, revoked_at FROM admins ORDER BY name COLLATE \"C\"",
                        "listing admins");
  if (!res) return std::unexpected(res.error());
  std::vector<AdminRecord> admins;
  for (int i = 0; i < res->Rows(); ++i) {
    auto admin = AdminFromRow(*res, i);
    if (!admin) return std::unexpected(admin.error());
    admins.push_back(std::move(*admin));
  }
  return admins;
}
}  // namespace pg

Result<void> PostgresStore::PutAdmin(const AdminRecord& admin, std::span<const CertRecord> certs,
                                     std::span<const AuditEvent> events) {
  return impl_->Write([&](PgConnection& conn) -> Result<void> {
    // First, as in every transaction that records a certificate.
    if (!certs.empty()) {
      if (auto r = pg::LockForIssuance(conn); !r) return r;
    }
    auto res = conn.Query(
        "INSERT INTO admins (name, role, created_at) VALUES ($1, $2, $3) "
        "ON CONFLICT (name) DO UPDATE SET role = excluded.role, created_at = excluded.created_at, "
        "revoked_at = NULL WHERE admins.revoked_at IS NOT NULL RETURNING name",
        "recording admin " + admin.name, admin.name, std::string(AdminRoleName(admin.role)), admin.created_at);
    if (!res) return std::unexpected(res.error());
    if (res->Rows() == 0) return MakeError(ErrorCode::kConflict, "admin " + admin.name + " already exists");
    return pg::InsertIssuanceRows(conn, certs, events);
  });
}

Result<std::optional<AdminRecord>> PostgresStore::GetAdmin(const std::string& name) {
  return impl_->Read([&](PgConnection& conn) -> Result<std::optional<AdminRecord>> {
    auto res = conn.Query("SELECT name, role, created_at, revoked_at FROM admins WHERE name = $1",
                          "reading admin " + name, name);
    if (!res) return std::unexpected(res.error());
    if (res->Rows() == 0) return std::nullopt;
    return AdminFromRow(*res, 0);
  });
}

Result<std::vector<AdminRecord>> PostgresStore::ListAdmins() {
  return impl_->Read([](PgConnection& conn) { return pg::ReadAdmins(conn); });
}

Result<std::vector<std::string>> PostgresStore::RevokeAdmin(const std::string& name, const std::string& spiffe_id,
                                                             int64_t now, const RevocationAuditEvent& event) {
  return impl_->Write([&](PgConnection& conn) -> Result<std::vector<std::string>> {
    // First, as in every transaction that revokes.
    if (auto r = pg::LockForRevocation(conn); !r) return std::unexpected(r.error());
    auto res = conn.Query("UPDATE admins SET revoked_at = coalesce(revoked_at, $2) WHERE name = $1 RETURNING name",
                          "revoking admin " + name, name, now);
    if (!res) return std::unexpected(res.error());
    if (res->Rows() == 0) return MakeError(ErrorCode::kNotFound, "no admin named " + name);
    auto serials = pg::RevokeRows(conn, {.spiffe_id = spiffe_id}, RevocationReason::kCessationOfOperation, now);
    if (!serials) return serials;
    if (auto r = pg::AppendAuditRow(conn, event(*serials)); !r) return std::unexpected(r.error());
    return serials;
  });
}

}  // namespace mayfly
