// Reading a whole PostgreSQL store, page by page, in one snapshot (what
// `mayfly-ca store migrate` compares its copy against).
#include <openssl/crypto.h>

#include <algorithm>
#include <string>

#include "mayfly/store_transfer.h"
#include "pg_store_internal.h"

namespace mayfly {
namespace pg {
namespace {

int64_t ClampLimit(int limit) { return std::clamp(limit, 1, 10000); }

// The highest id an identity column handed out, deleted rows included.
std::string LastIdentity(const char* table) {
  const std::string t = table;
  return "SELECT greatest(coalesce(pg_sequence_last_value(pg_get_serial_sequence('" + t +
         "', 'id')::regclass), 0), coalesce((SELECT max(id) FROM " + t + "), 0))";
}

class PgExport final : public StoreExport {
 public:
  explicit PgExport(std::unique_ptr<PgConnection> conn) : conn_(std::move(conn)) {}

  Result<StoreCounts> Counts() override {
    auto res = conn_->Query(
        "SELECT (SELECT count(*) FROM certificates), (SELECT count(*) FROM nodes), "
        "(SELECT count(*) FROM join_tokens), (SELECT count(*) FROM entries), (SELECT count(*) FROM audit_events), "
        "(SELECT count(*) FROM ca_certs), (SELECT count(*) FROM meta), (SELECT count(*) FROM admins)",
        "counting the store's rows");
    if (!res) return std::unexpected(res.error());
    return StoreCounts{.certificates = res->Int(0, 0), .nodes = res->Int(0, 1), .join_tokens = res->Int(0, 2),
                       .entries = res->Int(0, 3), .audit_events = res->Int(0, 4), .ca_certs = res->Int(0, 5),
                       .meta = res->Int(0, 6), .admins = res->Int(0, 7)};
  }

  Result<StoreCounters> Counters() override {
    auto res = conn_->Query("SELECT (SELECT number FROM crl_state WHERE id = 1), (" + LastIdentity("certificates") +
                                "), (" + LastIdentity("entries") + "), (" + LastIdentity("ca_certs") +
                                "), last_id, last_hash FROM audit_head WHERE id = 1",
                            "reading the store's counters");
    if (!res) return std::unexpected(res.error());
    if (res->Rows() != 1) return MakeError(ErrorCode::kStore, "the audit chain's head row is missing");
    return StoreCounters{.crl_number = res->Int(0, 0), .last_cert_id = res->Int(0, 1),
                         .last_entry_id = res->Int(0, 2), .last_ca_cert_id = res->Int(0, 3),
                         .last_audit_id = res->Int(0, 4), .last_audit_hash = res->Text(0, 5)};
  }

  Result<std::vector<ExportedCert>> Certificates(int64_t after_id, int limit) override {
    auto res = conn_->Query("SELECT " + std::string(kCertColumns) +
                                ", der FROM certificates WHERE id > $1 ORDER BY id LIMIT $2",
                            "reading certificates", after_id, ClampLimit(limit));
    if (!res) return std::unexpected(res.error());
    std::vector<ExportedCert> page;
    for (int i = 0; i < res->Rows(); ++i) {
      auto cert = ReadCertificateRow(*res, i, /*with_der=*/true);
      if (!cert) return std::unexpected(cert.error());
      page.push_back({.id = res->Int(i, 0), .cert = std::move(*cert)});
    }
    return page;
  }

  Result<std::vector<AuditEvent>> AuditEvents(int64_t after_id, int limit) override {
    auto res = conn_->Query(
        "SELECT id, time, type, actor, subject, result, detail, prev_hash, hash FROM audit_events "
        "WHERE id > $1 ORDER BY id LIMIT $2",
        "reading audit events", after_id, ClampLimit(limit));
    if (!res) return std::unexpected(res.error());
    std::vector<AuditEvent> page;
    for (int i = 0; i < res->Rows(); ++i) {
      page.push_back({.id = res->Int(i, 0), .time = res->Int(i, 1), .type = res->Text(i, 2),
                      .actor = res->Text(i, 3), .subject = res->Text(i, 4), .result = res->Text(i, 5),
                      .detail = res->Text(i, 6), .prev_hash = res->Text(i, 7), .hash = res->Text(i, 8)});
    }
    return page;
  }

  // COLLATE "C": byte order, as SQLite's, whatever the database's collation.
  Result<std::vector<NodeRecord>> Nodes(const std::string& after, int limit) override {
    auto res = conn_->Query(
        "SELECT name, enrolled_at, banned, banned_at, quarantine FROM nodes WHERE name COLLATE \"C\" > $1 "
        "ORDER BY name COLLATE \"C\" LIMIT $2",
        "reading nodes", after, ClampLimit(limit));
    if (!res) return std::unexpected(res.error());
    std::vector<NodeRecord> page;
    for (int i = 0; i < res->Rows(); ++i) {
      page.push_back({.name = res->Text(i, 0), .enrolled_at = res->Int(i, 1), .banned = res->Bool(i, 2),
                      .banned_at = res->OptInt(i, 3), .quarantine = res->Text(i, 4)});
    }
    return page;
  }

  Result<std::vector<ExportedToken>> Tokens(const std::string& after, int limit) override {
    auto res = conn_->Query(
        "SELECT hash, node, created_at, expires_at, used_at, revoked_at FROM join_tokens "
        "WHERE hash COLLATE \"C\" > $1 ORDER BY hash COLLATE \"C\" LIMIT $2",
        "reading join tokens", after, ClampLimit(limit));
    if (!res) return std::unexpected(res.error());
    std::vector<ExportedToken> page;
    for (int i = 0; i < res->Rows(); ++i) {
      page.push_back({.token = {.hash = res->Text(i, 0), .node = res->Text(i, 1), .created_at = res->Int(i, 2),
                                .expires_at = res->Int(i, 3)},
                      .used_at = res->OptInt(i, 4),
                      .revoked_at = res->OptInt(i, 5)});
    }
    return page;
  }

  Result<std::vector<EntryRecord>> Entries() override { return ReadEntries(*conn_); }
  Result<std::vector<AdminRecord>> Admins() override { return ReadAdmins(*conn_); }

  Result<std::vector<CaCertRecord>> CaCerts() override {
    auto res = conn_->Query(
        "SELECT id, role, state, key_id, issuer_key_id, serial, der, key_file, key_pem, not_after, created_at, "
        "changed_at, crl_pem FROM ca_certs ORDER BY id",
        "reading CA certificates");
    if (!res) return std::unexpected(res.error());
    std::vector<CaCertRecord> records;
    for (int i = 0; i < res->Rows(); ++i) {
      auto role = ParseCaRole(res->Text(i, 1));
      if (!role) return WithContext(role.error(), "CA certificate " + res->Text(i, 5) + " in the database");
      auto state = ParseCaState(res->Text(i, 2));
      if (!state) return WithContext(state.error(), "CA certificate " + res->Text(i, 5) + " in the database");
      records.push_back({.id = res->Int(i, 0), .role = *role, .state = *state, .key_id = res->Text(i, 3),
                         .issuer_key_id = res->Text(i, 4), .serial = res->Text(i, 5), .der = res->Bytes(i, 6),
                         .key_file = res->Text(i, 7), .key_pem = res->Text(i, 8), .not_after = res->Int(i, 9),
                         .created_at = res->Int(i, 10), .changed_at = res->Int(i, 11),
                         .crl_pem = res->Text(i, 12)});
    }
    return records;
  }

  Result<std::vector<MetaRow>> Meta() override {
    auto res = conn_->Query("SELECT key, value FROM meta ORDER BY key COLLATE \"C\"", "reading settings");
    if (!res) return std::unexpected(res.error());
    std::vector<MetaRow> rows;
    for (int i = 0; i < res->Rows(); ++i) rows.emplace_back(res->Text(i, 0), res->Text(i, 1));
    return rows;
  }

 private:
  const std::unique_ptr<PgConnection> conn_;
};

}  // namespace

Result<std::unique_ptr<PgConnection>> ConnectWithPasswordFile(const std::string& url,
                                                              const std::string& password_file) {
  if (auto r = PostgresStore::CheckUrl(url); !r) return std::unexpected(r.error());
  auto password = ReadPasswordFile(password_file);
  if (!password) return std::unexpected(password.error());
  auto conn = PgConnection::Open(url, *password);
  OPENSSL_cleanse(password->data(), password->size());
  return conn;
}

}  // namespace pg

Result<std::unique_ptr<StoreExport>> OpenPostgresExport(const std::string& url, const std::string& password_file) {
  auto conn = pg::ConnectWithPasswordFile(url, password_file);
  if (!conn) return std::unexpected(conn.error());
  if (auto r = (*conn)->Run("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", "starting a snapshot"); !r) {
    return std::unexpected(r.error());
  }
  return std::unique_ptr<StoreExport>(new pg::PgExport(std::move(*conn)));
}

}  // namespace mayfly
