// What the store's source files share: SqliteStore::Impl, the reader pool, row helpers.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "mayfly/sqlite_store.h"
#include "sqlite_util.h"
#include "../own_changes.h"
#include "../store_rules.h"
#include "wal_checkpointer.h"

namespace mayfly {

// The newest schema version this build knows (PRAGMA user_version).
int LatestSchemaVersion();

// Brings the database on `conn` up to LatestSchemaVersion(), one transaction
// per migration step, and returns the version it ends at. A database newer
// than this build is refused (kStore) before any step runs.
[[nodiscard]] Result<int> MigrateSchema(Connection& conn, const std::string& path);

// Read connections, reused so their prepared statements stay cached. Never
// blocks: when all are busy a new one is opened; at most kMaxIdle are kept.
class ReaderPool {
 public:
  explicit ReaderPool(std::string path) : path_(std::move(path)) {}

  struct Returner {
    ReaderPool* pool;
    void operator()(Connection* conn) const { pool->Return(conn); }
  };
  using Lease = std::unique_ptr<Connection, Returner>;

  [[nodiscard]] Result<Lease> Acquire();

 private:
  static constexpr size_t kMaxIdle = 4;
  void Return(Connection* conn);

  std::string path_;
  std::mutex mu_;
  std::vector<std::unique_ptr<Connection>> idle_;
};

struct SqliteStore::Impl {
  Impl(std::string p, std::unique_ptr<Connection> w)
      : path(std::move(p)), writer(std::move(w)), readers(path) {}

  // Runs body(Connection&) -> Result<T> inside one write transaction on the
  // writer connection, committing when it succeeds and rolling back when it
  // fails. Writers are serialised by write_mu.
  template <typename Body>
  std::invoke_result_t<Body, Connection&> Write(Body&& body) {
    std::lock_guard lock(write_mu);
    auto tx = Transaction::Begin(*writer);
    if (!tx) return std::unexpected(tx.error());
    writer->noted_generations.clear();
    auto result = std::forward<Body>(body)(*writer);
    if (!result) return result;  // the transaction rolls back as it goes out of scope
    if (auto committed = tx->Commit(); !committed) return std::unexpected(committed.error());
    own_changes.Record(writer->noted_generations);
    return result;
  }

  // Runs body(Connection&) -> Result<T> on a reader connection. Under WAL a
  // reader sees the last committed state and never waits for the writer.
  template <typename Body>
  std::invoke_result_t<Body, Connection&> Read(Body&& body) {
    auto lease = readers.Acquire();
    if (!lease) return std::unexpected(lease.error());
    return std::forward<Body>(body)(**lease);
  }

  const std::string path;
  int schema_version = 0;
  std::mutex write_mu;
  const std::unique_ptr<Connection> writer;  // guarded by write_mu
  ReaderPool readers;
  OwnChanges own_changes;  // Store::TakeOwnChanges
  // Declared after the writer: unhooks it before it closes.
  std::unique_ptr<WalCheckpointer> checkpointer;
};

// A listing filter matching fewer rows than this in all is answered by
// reading those rows' index entries and sorting them (cheap at this size);
// with more, a newest-first scan from the cursor meets a page's worth soon.
// Counting stops at the threshold, so the choice costs at most this many
// index entries. (Counting only below the cursor would not be bounded: the
// index cannot seek by id.)
inline constexpr int64_t kSortThreshold = 20000;

// Counts the rows `select_sql` returns, stopping at `cap`. `bind` binds its
// named parameters; :cap is taken.
[[nodiscard]] Result<int64_t> CountUpTo(Connection& conn, std::string_view select_sql, int64_t cap,
                                        const std::function<void(Statement&)>& bind);

// Inserts one certificate row (within the caller's transaction); kConflict
// when the serial is already recorded, kForbidden when its node is banned,
// kUnauthenticated when its caller_serial is revoked.
[[nodiscard]] Result<void> InsertCertificateRow(Connection& conn, const CertRecord& cert);

// Bans `node` at `now` (within the caller's transaction), recording it if it
// never enrolled, and invalidates every unused join token for it: only a
// token created after the ban can lift it. A node banned already keeps its
// first banned_at.
[[nodiscard]] Result<void> BanNode(Connection& conn, const std::string& node, int64_t now);

// RecordIssuance's writes (within the caller's transaction): the
// certificate rows, then the events appended to the audit chain.
[[nodiscard]] Result<void> InsertIssuanceRows(Connection& conn, std::span<const CertRecord> certs,
                                              std::span<const AuditEvent> events);

// Revoke's writes (within the caller's transaction): revokes the matching
// certificates, bans a selected node, notes the change. Returns the serials
// revoked; errors as Store::Revoke.
[[nodiscard]] Result<std::vector<std::string>> RevokeRows(Connection& conn, const RevokeSelector& which,
                                                          RevocationReason reason, int64_t now);

// Advances the change generation within the caller's transaction, which
// makes a change the daemons' caches must follow (Store::ChangeGeneration).
[[nodiscard]] Result<void> NoteChange(Connection& conn);

// The revoked, unexpired certificates of `issuer` ("" = all) at `now`.
[[nodiscard]] Result<std::vector<RevokedCert>> ReadRevokedUnexpired(Connection& conn, const std::string& issuer,
                                                                    int64_t now);

// Appends `event` to the audit chain (within the caller's transaction),
// filling in id, prev_hash and hash.
[[nodiscard]] Result<AuditEvent> AppendAuditRow(Connection& conn, AuditEvent event);

// The columns ReadCertificateRow expects, in order: "SELECT <this> FROM
// certificates", with ", der" appended when the DER is wanted.
inline constexpr std::string_view kCertColumns =
    "id, serial, spiffe_id, node, kind, issuer, not_before, not_after, issued_at, revoked_at, "
    "reason";

// The certificate on the current row of a statement selecting
// kCertColumns (plus der when `with_der`). kStore when the row holds an
// unknown kind or reason.
[[nodiscard]] Result<CertRecord> ReadCertificateRow(const Statement& row, bool with_der);

// The SQL condition selecting certificates in `status`; it reads the
// parameter :now except for kRevoked.
std::string_view CertStatusCondition(CertStatus status);

// Every entry, by id, with its names decoded.
[[nodiscard]] Result<std::vector<EntryRecord>> ReadEntries(Connection& conn);
// Every admin role row, by name.
[[nodiscard]] Result<std::vector<AdminRecord>> ReadAdmins(Connection& conn);

}  // namespace mayfly
