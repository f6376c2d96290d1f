// Reading a whole SQLite store, page by page, for `mayfly-ca store migrate`,
// while holding the database file exclusively.
#include <algorithm>
#include <string>
#include <utility>

#include "mayfly/store_transfer.h"
#include "store_internal.h"

namespace mayfly {
namespace {

// How long the export waits for another process to let go of the database
// before it reports the database as in use: a running daemon holds it open
// for good, so waiting longer would not help.
constexpr int kLockWaitMs = 1000;

int ClampLimit(int limit) { return std::clamp(limit, 1, 10000); }

class SqliteExport final : public StoreExport {
 public:
  SqliteExport(std::string path, std::unique_ptr<Connection> conn) : path_(std::move(path)), conn_(std::move(conn)) {}

  Result<StoreCounts> Counts() override {
    StoreCounts counts;
    const std::pair<const char*, int64_t*> tables[] = {
        {"certificates", &counts.certificates}, {"nodes", &counts.nodes},
        {"join_tokens", &counts.join_tokens},   {"entries", &counts.entries},
        {"audit_events", &counts.audit_events}, {"ca_certs", &counts.ca_certs},
        {"meta", &counts.meta},                 {"admins", &counts.admins}};
    for (const auto& [table, count] : tables) {
      auto n = Single("SELECT count(*) FROM " + std::string(table), std::string("counting ") + table);
      if (!n) return std::unexpected(n.error());
      *count = *n;
    }
    return counts;
  }

  Result<StoreCounters> Counters() override {
    StoreCounters c;
    const std::pair<const char*, int64_t*> values[] = {
        {"SELECT number FROM crl_state WHERE id = 1", &c.crl_number},
        {"SELECT coalesce(max(id), 0) FROM certificates", &c.last_cert_id},
        // AUTOINCREMENT tables remember the highest id ever used in sqlite_sequence.
        {"SELECT max(coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'entries'), 0), "
         "coalesce((SELECT max(id) FROM entries), 0))",
         &c.last_entry_id},
        {"SELECT max(coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'ca_certs'), 0), "
         "coalesce((SELECT max(id) FROM ca_certs), 0))",
         &c.last_ca_cert_id},
        {"SELECT max(coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'audit_events'), 0), "
         "coalesce((SELECT max(id) FROM audit_events), 0))",
         &c.last_audit_id}};
    for (const auto& [sql, value] : values) {
      auto n = Single(sql, "reading the store's counters");
      if (!n) return std::unexpected(n.error());
      *value = *n;
    }
    auto stmt = conn_->Prepare("SELECT hash FROM audit_events ORDER BY id DESC LIMIT 1");
    if (!stmt) return std::unexpected(stmt.error());
    auto row = stmt->Step();
    if (!row) return WithContext(row.error(), "reading the audit chain's head");
    if (*row) c.last_audit_hash = stmt->Text(0);
    return c;
  }

  Result<std::vector<ExportedCert>> Certificates(int64_t after_id, int limit) override {
    auto stmt = conn_->Prepare("SELECT " + std::string(kCertColumns) +
                               ", der FROM certificates WHERE id > ?1 ORDER BY id LIMIT ?2");
    if (!stmt) return std::unexpected(stmt.error());
    stmt->BindAll(after_id, int64_t{ClampLimit(limit)});
    std::vector<ExportedCert> page;
    while (true) {
      auto row = stmt->Step();
      if (!row) return WithContext(row.error(), "reading certificates");
      if (!*row) return page;
      auto cert = ReadCertificateRow(*stmt, /*with_der=*/true);
      if (!cert) return std::unexpected(cert.error());
      page.push_back({.id = stmt->Int(0), .cert = std::move(*cert)});
    }
  }

  Result<std::vector<AuditEvent>> AuditEvents(int64_t after_id, int limit) override {
    auto stmt = conn_->Prepare(
        "SELECT id, time, type, actor, subject, result, detail, prev_hash, hash FROM audit_events "
        "WHERE id > ?1 ORDER BY id LIMIT ?2");
    if (!stmt) return std::unexpected(stmt.error());
    stmt->BindAll(after_id, int64_t{ClampLimit(limit)});
    std::vector<AuditEvent> page;
    while (true) {
      auto row = stmt->Step();
      if (!row) return WithContext(row.error(), "reading audit events");
      if (!*row) return page;
      page.push_back({.id = stmt->Int(0), .time = stmt->Int(1), .type = stmt->Text(2), .actor = stmt->Text(3),
                      .subject = stmt->Text(4), .result = stmt->Text(5), .detail = stmt->Text(6),
                      .prev_hash = stmt->Text(7), .hash = stmt->Text(8)});
    }
  }

  Result<std::vector<NodeRecord>> Nodes(const std::string& after, int limit) override {
    auto stmt = conn_->Prepare(
        "SELECT name, enrolled_at, banned, banned_at, quarantine FROM nodes WHERE name > ?1 ORDER BY name LIMIT ?2");
    if (!stmt) return std::unexpected(stmt.error());
    stmt->BindAll(after, int64_t{ClampLimit(limit)});
    std::vector<NodeRecord> page;
    while (true) {
      auto row = stmt->Step();
      if (!row) return WithContext(row.error(), "reading nodes");
      if (!*row) return page;
      page.push_back({.name = stmt->Text(0), .enrolled_at = stmt->Int(1), .banned = stmt->Int(2) != 0,
                      .banned_at = stmt->OptInt(3), .quarantine = stmt->Text(4)});
    }
  }

  Result<std::vector<ExportedToken>> Tokens(const std::string& after, int limit) override {
    auto stmt = conn_->Prepare(
        "SELECT hash, node, created_at, expires_at, used_at, revoked_at FROM join_tokens "
        "WHERE hash > ?1 ORDER BY hash LIMIT ?2");
    if (!stmt) return std::unexpected(stmt.error());
    stmt->BindAll(after, int64_t{ClampLimit(limit)});
    std::vector<ExportedToken> page;
    while (true) {
      auto row = stmt->Step();
      if (!row) return WithContext(row.error(), "reading join tokens");
      if (!*row) return page;
      page.push_back({.token = {.hash = stmt->Text(0), .node = stmt->Text(1), .created_at = stmt->Int(2),
                                .expires_at = stmt->Int(3)},
                      .used_at = stmt->OptInt(4),
                      .revoked_at = stmt->OptInt(5)});
    }
  }

  Result<std::vector<EntryRecord>> Entries() override { return ReadEntries(*conn_); }
  Result<std::vector<AdminRecord>> Admins() override { return ReadAdmins(*conn_); }

  Result<std::vector<CaCertRecord>> CaCerts() override {
    auto stmt = conn_->Prepare(
        "SELECT id, role, state, key_id, issuer_key_id, serial, der, key_file, key_pem, not_after, created_at, "
        "changed_at, crl_pem FROM ca_certs ORDER BY id");
    if (!stmt) return std::unexpected(stmt.error());
    std::vector<CaCertRecord> records;
    while (true) {
      auto row = stmt->Step();
      if (!row) return WithContext(row.error(), "reading CA certificates");
      if (!*row) return records;
      auto role = ParseCaRole(stmt->Text(1));
      if (!role) return WithContext(role.error(), "CA certificate " + stmt->Text(5) + " in the database");
      auto state = ParseCaState(stmt->Text(2));
      if (!state) return WithContext(state.error(), "CA certificate " + stmt->Text(5) + " in the database");
      records.push_back({.id = stmt->Int(0), .role = *role, .state = *state, .key_id = stmt->Text(3),
                         .issuer_key_id = stmt->Text(4), .serial = stmt->Text(5), .der = stmt->Blob(6),
                         .key_file = stmt->Text(7), .key_pem = stmt->Text(8), .not_after = stmt->Int(9),
                         .created_at = stmt->Int(10), .changed_at = stmt->Int(11), .crl_pem = stmt->Text(12)});
    }
  }

  Result<std::vector<MetaRow>> Meta() override {
    auto stmt = conn_->Prepare("SELECT key, value FROM meta ORDER BY key");
    if (!stmt) return std::unexpected(stmt.error());
    std::vector<MetaRow> rows;
    while (true) {
      auto row = stmt->Step();
      if (!row) return WithContext(row.error(), "reading settings");
      if (!*row) return rows;
      rows.emplace_back(stmt->Text(0), stmt->Text(1));
    }
  }

 private:
  Result<int64_t> Single(const std::string& sql, const std::string& what) {
    auto stmt = conn_->Prepare(sql);
    if (!stmt) return std::unexpected(stmt.error());
    auto row = stmt->Step();
    if (!row) return WithContext(row.error(), what);
    return *row ? stmt->Int(0) : 0;
  }

  const std::string path_;
  const std::unique_ptr<Connection> conn_;
};

}  // namespace

Result<std::unique_ptr<StoreExport>> OpenSqliteExport(const std::string& path) {
  auto conn = Connection::Open(path, /*read_only=*/false);
  if (!conn) return std::unexpected(conn.error());
  sqlite3_busy_timeout((*conn)->db(), kLockWaitMs);
  // Exclusive locking mode keeps the lock the first write transaction takes
  // until the connection closes, and (in WAL mode) cannot take it while any
  // other connection has the database open: a daemon left running is found
  // here, and none can start and write behind the copy's back.
  if (auto r = (*conn)->Exec("PRAGMA locking_mode=EXCLUSIVE", "locking " + path); !r) return std::unexpected(r.error());
  {
    auto tx = Transaction::Begin(**conn);
    if (!tx) {
      const int code = sqlite3_extended_errcode((*conn)->db()) & 0xff;
      if (code == SQLITE_BUSY || code == SQLITE_LOCKED) {
        return MakeError(ErrorCode::kUnavailable,
                         "another process has the database " + path +
                             " open (is `mayfly-ca serve` running? stop it, then run this again)");
      }
      return WithContext(tx.error(), "locking " + path);
    }
    if (auto r = (*conn)->Exec("SELECT count(*) FROM sqlite_master", "locking " + path); !r) {
      return std::unexpected(r.error());
    }
    if (auto r = tx->Commit(); !r) return WithContext(r.error(), "locking " + path);
  }
  auto version = MigrateSchema(**conn, path);
  if (!version) return std::unexpected(version.error());
  return std::unique_ptr<StoreExport>(new SqliteExport(path, std::move(*conn)));
}

}  // namespace mayfly
