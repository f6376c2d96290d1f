// Admin roles in the SQLite store.
#include "mayfly/sqlite_store.h"
#include "store_internal.h"

namespace mayfly {
namespace {

Result<AdminRecord> AdminFromRow(Statement& stmt) {
  auto role = ParseAdminRole(stmt.Text(1));
  if (!role) return std::unexpected(role.error());
  return AdminRecord{.name = stmt.Text(0), .role = *role, .created_at = stmt.Int(2), .revoked_at = stmt.OptInt(3)};
}

}  // namespace

Result<std::vector<AdminRecord>> ReadAdmins(Connection& conn) {
  auto stmt = conn.Prepare("SELECT name, role, created_at, revoked_at FROM admins ORDER BY name");
  if (!stmt) return std::unexpected(stmt.error());
  std::vector<AdminRecord> admins;
  while (true) {
    auto row = stmt->Step();
    if (!row) return WithContext(row.error(), "listing admins");
    if (!*row) return admins;
    auto admin = AdminFromRow(*stmt);
    if (!admin) return std::unexpected(admin.error());
    admins.push_back(std::move(*admin));
  }
}

Result<void> SqliteStore::PutAdmin(const AdminRecord& admin, std::span<const CertRecord> certs,
                                   std::span<const AuditEvent> events) {
  return impl_->Write([&](Connection& conn) -> Result<void> {
    const std::string what = "recording admin " + admin.name;
    if (auto r = conn.Run(
            "INSERT INTO admins (name, role, created_at) VALUES (?1, ?2, ?3) "
            "ON CONFLICT (name) DO UPDATE SET role = excluded.role, created_at = excluded.created_at, "
            "revoked_at = NULL WHERE admins.revoked_at IS NOT NULL",
            what, admin.name, AdminRoleName(admin.role), admin.created_at);
        !r) {
      return r;
    }
    if (conn.Changes() == 0) return MakeError(ErrorCode::kConflict, "admin " + admin.name + " already exists");
    return InsertIssuanceRows(conn, certs, events);
  });
}

Result<std::optional<AdminRecord>> SqliteStore::GetAdmin(const std::string& name) {
  return impl_->Read([&](Connection& conn) -> Result<std::optional<AdminRecord>> {
    auto stmt = conn.Prepare("SELECT name, role, created_at, revoked_at FROM admins WHERE name = ?1");
    if (!stmt) return std::unexpected(stmt.error());
    auto row = stmt->Bind(1, name).Step();
    if (!row) return WithContext(row.error(), "reading admin " + name);
    if (!*row) return std::nullopt;
    return AdminFromRow(*stmt);
  });
}

Result<std::vector<AdminRecord>> SqliteStore::ListAdmins() {
  return impl_->Read([](Connection& conn) { return ReadAdmins(conn); });
}

Result<std::vector<std::string>> SqliteStore::RevokeAdmin(const std::string& name, const std::string& spiffe_id,
                                                           int64_t now, const RevocationAuditEvent& event) {
  const RevokeSelector certs{.spiffe_id = spiffe_id};
  return impl_->Write([&](Connection& conn) -> Result<std::vector<std::string>> {
    if (auto r = conn.Run("UPDATE admins SET revoked_at = coalesce(revoked_at, ?2) WHERE name = ?1",
                          "revoking admin " + name, name, now);
        !r) {
      return std::unexpected(r.error());
    }
    if (conn.Changes() == 0) return MakeError(ErrorCode::kNotFound, "no admin named " + name);
    auto serials = RevokeRows(conn, certs, RevocationReason::kCessationOfOperation, now);
    if (!serials) return serials;
    if (auto r = AppendAuditRow(conn, event(*serials)); !r) return std::unexpected(r.error());
    return serials;
  });
}

}  // namespace mayfly
