// Bulk copy of a whole store from one database to another (`mayfly-ca store
// migrate`): a backend's export reads every table in pages of rows exactly as
// stored, the PostgreSQL import writes them verbatim in one transaction.
// Only the migration uses this; the daemon goes through Store.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "mayfly/error.h"
#include "mayfly/store_records.h"

namespace mayfly {

// A certificate row: the record (der included) and its row id, which orders
// listings and is kept so paging cursors stay valid.
struct ExportedCert {
  int64_t id = 0;
  CertRecord cert;  // caller_serial is always ""

  friend bool operator==(const ExportedCert& a, const ExportedCert& b) {
    const CertRecord &x = a.cert, &y = b.cert;
    return a.id == b.id && x.serial == y.serial && x.spiffe_id == y.spiffe_id && x.node == y.node &&
           x.kind == y.kind && x.issuer == y.issuer && x.not_before == y.not_before &&
           x.not_after == y.not_after && x.issued_at == y.issued_at && x.der == y.der &&
           x.revoked_at == y.revoked_at && x.reason == y.reason;
  }
};

// A join token row: the hash (the token itself never exists), and whether it
// was used or invalidated by a ban of its node.
struct ExportedToken {
  TokenRecord token;
  std::optional<int64_t> used_at;
  std::optional<int64_t> revoked_at;

  friend bool operator==(const ExportedToken& a, const ExportedToken& b) {
    return a.token.hash == b.token.hash && a.token.node == b.token.node &&
           a.token.created_at == b.token.created_at && a.token.expires_at == b.token.expires_at &&
           a.used_at == b.used_at && a.revoked_at == b.revoked_at;
  }
};

using MetaRow = std::pair<std::string, std::string>;  // key, value

// Rows per table.
struct StoreCounts {
  int64_t certificates = 0;
  int64_t nodes = 0;
  int64_t join_tokens = 0;
  int64_t entries = 0;
  int64_t audit_events = 0;
  int64_t ca_certs = 0;
  int64_t meta = 0;
  int64_t admins = 0;

  friend bool operator==(const StoreCounts&, const StoreCounts&) = default;
};

// The counters beside the rows: what the next CRL, id and audit link follow.
// A last_* id is the highest ever handed out, which outlives a deleted row
// (ids are never reused).
struct StoreCounters {
  int64_t crl_number = 0;        // the last CRL number issued (0: none yet)
  int64_t last_cert_id = 0;
  int64_t last_entry_id = 0;
  int64_t last_ca_cert_id = 0;
  int64_t last_audit_id = 0;
  std::string last_audit_hash;   // hash of the newest audit event ("" for none)

  friend bool operator==(const StoreCounters&, const StoreCounters&) = default;
};

// Reads a whole store. Pages are in key order and start after the given key
// (0 or "" for the first); an empty page means the end. `limit` is 1..10000.
// Every read sees one state of the database (a snapshot or a lock held for
// the export's life). Errors: kStore with the database's message.
class StoreExport {
 public:
  virtual ~StoreExport() = default;

  [[nodiscard]] virtual Result<StoreCounts> Counts() = 0;
  [[nodiscard]] virtual Result<StoreCounters> Counters() = 0;
  [[nodiscard]] virtual Result<std::vector<ExportedCert>> Certificates(int64_t after_id, int limit) = 0;
  [[nodiscard]] virtual Result<std::vector<AuditEvent>> AuditEvents(int64_t after_id, int limit) = 0;
  // By name, in byte order.
  [[nodiscard]] virtual Result<std::vector<NodeRecord>> Nodes(const std::string& after, int limit) = 0;
  // By hash, in byte order.
  [[nodiscard]] virtual Result<std::vector<ExportedToken>> Tokens(const std::string& after, int limit) = 0;
  // These tables are small (configuration, CA certificates, settings): whole.
  [[nodiscard]] virtual Result<std::vector<EntryRecord>> Entries() = 0;  // by id
  [[nodiscard]] virtual Result<std::vector<CaCertRecord>> CaCerts() = 0;  // by id
  [[nodiscard]] virtual Result<std::vector<MetaRow>> Meta() = 0;         // by key, byte order
  [[nodiscard]] virtual Result<std::vector<AdminRecord>> Admins() = 0;   // by name, byte order
};

// Writes a whole store into an empty database, all of it in one transaction:
// nothing is visible to anyone else until Commit, and an import destroyed
// before Commit (or whose Commit fails) leaves the database as it was.
// Rows are written as given, ids included.
class StoreImport {
 public:
  virtual ~StoreImport() = default;

  [[nodiscard]] virtual Result<void> AddCertificates(std::span<const ExportedCert> rows) = 0;
  [[nodiscard]] virtual Result<void> AddAuditEvents(std::span<const AuditEvent> rows) = 0;
  [[nodiscard]] virtual Result<void> AddNodes(std::span<const NodeRecord> rows) = 0;
  [[nodiscard]] virtual Result<void> AddTokens(std::span<const ExportedToken> rows) = 0;
  [[nodiscard]] virtual Result<void> AddEntries(std::span<const EntryRecord> rows) = 0;
  [[nodiscard]] virtual Result<void> AddCaCerts(std::span<const CaCertRecord> rows) = 0;
  [[nodiscard]] virtual Result<void> AddMeta(std::span<const MetaRow> rows) = 0;
  [[nodiscard]] virtual Result<void> AddAdmins(std::span<const AdminRecord> rows) = 0;
  // Sets the counters (so new ids come after every copied one and the next
  // audit event links to the copied head), then commits.
  [[nodiscard]] virtual Result<void> Commit(const StoreCounters& counters) = 0;
};

// The SQLite store in `path` (which must exist), migrated to this build's
// schema first. Holds the database exclusively until destroyed: no other
// process can read or write it meanwhile. kUnavailable naming the file when
// another process has it open (a running daemon); kStore otherwise.
[[nodiscard]] Result<std::unique_ptr<StoreExport>> OpenSqliteExport(const std::string& path);

// The PostgreSQL store at `url` (a libpq URI without a password; the
// password on the first line of `password_file`), read in one snapshot.
// Errors as PostgresStore::Open.
[[nodiscard]] Result<std::unique_ptr<StoreExport>> OpenPostgresExport(const std::string& url,
                                                                      const std::string& password_file);

// Starts an import into the PostgreSQL database at `url` (as
// OpenPostgresExport), creating the schema when the database has none. Locks
// the store's tables against writers for the import's life and checks they
// are empty: kConflict saying what it holds otherwise.
[[nodiscard]] Result<std::unique_ptr<StoreImport>> BeginPostgresImport(const std::string& url,
                                                                       const std::string& password_file);

}  // namespace mayfly
