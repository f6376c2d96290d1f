// Writing a whole store into an empty PostgreSQL database, rows as given and
// all in one transaction (`mayfly-ca store migrate`).
#include <string>

#include "mayfly/store_transfer.h"
#include "pg_store_internal.h"

namespace mayfly {
namespace pg {
namespace {

// The store's tables, locked for the import's life so no daemon already
// pointed at the database can write between the emptiness check and COMMIT.
constexpr const char* kLockTables =
    "LOCK TABLE certificates, nodes, join_tokens, entries, audit_events, audit_head, crl_state, meta, ca_certs, admins "
    "IN EXCLUSIVE MODE";

// "($1, $2), ($3, $4)" for `rows` rows of `columns` parameters each.
std::string Placeholders(size_t rows, int columns) {
  std::string sql;
  int n = 0;
  for (size_t r = 0; r < rows; ++r) {
    sql += r > 0 ? ", (" : "(";
    for (int c = 0; c < columns; ++c) sql += (c > 0 ? ", $" : "$") + std::to_string(++n);
    sql += ")";
  }
  return sql;
}

// What the target holds, as "3 CA certificates, 10 certificates", or "" when empty.
Result<std::string> DescribeContents(PgConnection& conn) {
  auto res = conn.Query(
      "SELECT (SELECT count(*) FROM ca_certs), (SELECT count(*) FROM certificates), "
      "(SELECT count(*) FROM audit_events), (SELECT count(*) FROM nodes), (SELECT count(*) FROM join_tokens), "
      "(SELECT count(*) FROM entries), (SELECT count(*) FROM meta), (SELECT number FROM crl_state WHERE id = 1), "
      "(SELECT last_id FROM audit_head WHERE id = 1), (SELECT count(*) FROM admins)",
      "checking that the target database is empty");
  if (!res) return std::unexpected(res.error());
  const char* names[] = {"CA certificates", "certificates", "audit events", "nodes", "join tokens",
                         "entries",         "settings",     "CRLs issued",  "audit ids handed out",
                         "admins"};
  std::string found;
  for (int col = 0; col < static_cast<int>(std::size(names)); ++col) {
    if (res->Int(0, col) == 0) continue;
    found += (found.empty() ? "" : ", ") + std::to_string(res->Int(0, col)) + " " + names[col];
  }
  return found;
}

class PgImport final : public StoreImport {
 public:
  explicit PgImport(std::unique_ptr<PgConnection> conn) : conn_(std::move(conn)) {}
  ~PgImport() override {
    if (!committed_ && !conn_->Broken()) (void)conn_->Run("ROLLBACK", "abandoning the import");
  }

  Result<void> AddCertificates(std::span<const ExportedCert> rows) override {
    if (rows.empty()) return Ok();
    PgParams params;
    for (const ExportedCert& row : rows) {
      const CertRecord& c = row.cert;
      params.AddAll(row.id, c.serial, c.spiffe_id, c.node, CertKindName(c.kind), c.issuer, c.not_before,
                    c.not_after, c.issued_at);
      params.AddBytes(c.der);
      params.AddAll(c.revoked_at, int64_t{static_cast<int>(c.reason)});
    }
    return Insert(
        "INSERT INTO certificates (id, serial, spiffe_id, node, kind, issuer, not_before, not_after, issued_at, der, "
        "revoked_at, reason) OVERRIDING SYSTEM VALUE VALUES " + Placeholders(rows.size(), 12),
        params, "copying certificates");
  }

  Result<void> AddAuditEvents(std::span<const AuditEvent> rows) override {
    if (rows.empty()) return Ok();
    PgParams params;
    for (const AuditEvent& e : rows) {
      params.AddAll(e.id, e.time, e.type, e.actor, e.subject, e.result, e.detail, e.prev_hash, e.hash);
    }
    return Insert(
        "INSERT INTO audit_events (id, time, type, actor, subject, result, detail, prev_hash, hash) VALUES " +
            Placeholders(rows.size(), 9),
        params, "copying audit events");
  }

  Result<void> AddNodes(std::span<const NodeRecord> rows) override {
    if (rows.empty()) return Ok();
    PgParams params;
    for (const NodeRecord& n : rows) params.AddAll(n.name, n.enrolled_at, n.banned, n.banned_at, n.quarantine);
    return Insert("INSERT INTO nodes (name, enrolled_at, banned, banned_at, quarantine) VALUES " +
                      Placeholders(rows.size(), 5),
                  params, "copying nodes");
  }

  Result<void> AddTokens(std::span<const ExportedToken> rows) override {
    if (rows.empty()) return Ok();
    PgParams params;
    for (const ExportedToken& t : rows) {
      params.AddAll(t.token.hash, t.token.node, t.token.created_at, t.token.expires_at, t.used_at, t.revoked_at);
    }
    return Insert(
        "INSERT INTO join_tokens (hash, node, created_at, expires_at, used_at, revoked_at) VALUES " +
            Placeholders(rows.size(), 6),
        params, "copying join tokens");
  }

  Result<void> AddEntries(std::span<const EntryRecord> rows) override {
    for (const EntryRecord& e : rows) {
      PgParams params;
      params.AddAll(e.id, e.spiffe_id, e.node, e.max_ttl, e.source);
      const std::string dns = TextArray(params, e.dns);
      const std::string ips = TextArray(params, e.ips);
      const std::string selectors = TextArray(params, e.selectors);
      if (auto r = Insert("INSERT INTO entries (id, spiffe_id, node, max_ttl, source, dns, ips, selectors) "
                          "OVERRIDING SYSTEM VALUE VALUES ($1, $2, $3, $4, $5, " + dns + ", " + ips + ", " +
                          selectors + ")",
                          params, "copying entry " + std::to_string(e.id));
          !r) {
        return r;
      }
    }
    return Ok();
  }

  Result<void> AddCaCerts(std::span<const CaCertRecord> rows) override {
    for (const CaCertRecord& c : rows) {
      PgParams params;
      params.AddAll(c.id, CaRoleName(c.role), CaStateName(c.state), c.key_id, c.issuer_key_id, c.serial);
      params.AddBytes(c.der);
      params.AddAll(c.key_file, c.key_pem, c.not_after, c.created_at, c.changed_at, c.crl_pem);
      if (auto r = Insert("INSERT INTO ca_certs (id, role, state, key_id, issuer_key_id, serial, der, key_file, "
                          "key_pem, not_after, created_at, changed_at, crl_pem) OVERRIDING SYSTEM VALUE VALUES " +
                              Placeholders(1, 13),
                          params, "copying CA certificate " + c.serial);
          !r) {
        return r;
      }
    }
    return Ok();
  }

  Result<void> AddMeta(std::span<const MetaRow> rows) override {
    if (rows.empty()) return Ok();
    PgParams params;
    for (const auto& [key, value] : rows) params.AddAll(key, value);
    return Insert("INSERT INTO meta (key, value) VALUES " + Placeholders(rows.size(), 2), params, "copying settings");
  }

  Result<void> AddAdmins(std::span<const AdminRecord> rows) override {
    if (rows.empty()) return Ok();
    PgParams params;
    for (const AdminRecord& a : rows) {
      params.AddAll(a.name, std::string(AdminRoleName(a.role)), a.created_at, a.revoked_at);
    }
    return Insert("INSERT INTO admins (name, role, created_at, revoked_at) VALUES " + Placeholders(rows.size(), 4),
                  params, "copying admins");
  }

  Result<void> Commit(const StoreCounters& c) override {
    if (auto r = conn_->Run("UPDATE crl_state SET number = $1 WHERE id = 1", "copying the CRL number", c.crl_number);
        !r) {
      return r;
    }
    // The next event links to the copied head and takes the id after it.
    if (auto r = conn_->Run("UPDATE audit_head SET last_id = $1, last_hash = $2 WHERE id = 1",
                            "copying the audit chain's head", c.last_audit_id, c.last_audit_hash);
        !r) {
      return r;
    }
    // Identity sequences go past every copied id, deleted ones included, so
    // no id is ever handed out twice.
    const std::pair<const char*, int64_t> sequences[] = {
        {"certificates", c.last_cert_id}, {"entries", c.last_entry_id}, {"ca_certs", c.last_ca_cert_id}};
    for (const auto& [table, last] : sequences) {
      if (last <= 0) continue;  // never used: the sequence starts at 1 as it is
      if (auto r = conn_->Run("SELECT setval(pg_get_serial_sequence($1, 'id'), $2)",
                              "advancing the id sequence of " + std::string(table), std::string_view(table), last);
          !r) {
        return r;
      }
    }
    if (auto r = conn_->Run("COMMIT", "committing the copy"); !r) return r;
    committed_ = true;
    return Ok();
  }

 private:
  Result<void> Insert(const std::string& sql, const PgParams& params, const std::string& what) {
    auto res = conn_->Exec(sql, params, what);
    if (!res) return std::unexpected(res.error());
    return Ok();
  }

  const std::unique_ptr<PgConnection> conn_;
  bool committed_ = false;
};

}  // namespace
}  // namespace pg

Result<std::unique_ptr<StoreImport>> BeginPostgresImport(const std::string& url, const std::string& password_file) {
  auto conn = pg::ConnectWithPasswordFile(url, password_file);
  if (!conn) return std::unexpected(conn.error());
  PgConnection& c = **conn;
  if (auto version = pg::MigrateSchema(c); !version) return std::unexpected(version.error());
  if (auto r = c.Run("BEGIN", "starting the copy"); !r) return std::unexpected(r.error());
  auto import = std::make_unique<pg::PgImport>(std::move(*conn));  // rolls back unless committed
  if (auto r = c.Run(pg::kLockTables, "locking the store's tables"); !r) return std::unexpected(r.error());
  auto found = pg::DescribeContents(c);
  if (!found) return std::unexpected(found.error());
  if (!found->empty()) {
    return MakeError(ErrorCode::kConflict, "the target database is not empty: it holds " + *found +
                                               "; copy only into an empty database (a new one, or drop this one's "
                                               "mayfly tables first)");
  }
  return std::unique_ptr<StoreImport>(std::move(import));
}

}  // namespace mayfly
