// What the PostgreSQL store's source files share: PostgresStore::Impl (the
// pool and the transaction runner), the locks, and the row helpers. All of it
// lives in mayfly::pg, apart from the SQLite backend's helpers.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "mayfly/postgres_store.h"
#include "pg_pool.h"
#include "pg_util.h"
#include "../own_changes.h"
#include "../store_rules.h"

namespace mayfly::pg {

// A transaction that failed with a deadlock or serialization failure is run
// again, this many times in all.
inline constexpr int kMaxAttempts = 4;

// Advisory lock keys (pg_advisory_xact_lock's bigint space, per database).
// Schema migrations: one instance migrates, the others wait and find it done.
inline constexpr int64_t kMigrationLock = 0x6d61796601;  // "mayf" 01
// Issuance against revocation: recording certificates holds it shared,
// revoking holds it exclusive (see LockForIssuance, LockForRevocation).
inline constexpr int64_t kRevocationLock = 0x6d61796602;
// CA rotation steps (SaveCaCerts), one at a time across instances.
inline constexpr int64_t kCaStepLock = 0x6d61796603;

// The newest schema version this build knows, and the migration to it
// (one transaction per step under kMigrationLock). kStore for a database
// newer than this build. Returns the version the database is at.
int LatestSchemaVersion();
[[nodiscard]] Result<int> MigrateSchema(PgConnection& conn);

// Takes the revocation lock shared, first thing in a transaction that
// records certificates: a revocation (which takes it exclusive, first thing
// too) then either commits before this transaction's checks run, which see
// it, or waits until this transaction has committed, and revokes what it
// recorded. Taking it first keeps the lock order the same everywhere.
[[nodiscard]] Result<void> LockForIssuance(PgConnection& conn);
// Takes the revocation lock exclusive, first thing in a transaction that
// revokes: issuance in flight commits first (and is revoked by it), or waits
// and then sees the revocation.
[[nodiscard]] Result<void> LockForRevocation(PgConnection& conn);

// Inserts certificate rows within the caller's transaction, which holds
// LockForIssuance, all or none: kConflict when a serial is recorded already,
// kForbidden when a node is banned, kUnauthenticated when a caller_serial is
// revoked.
[[nodiscard]] Result<void> InsertCertificateRows(PgConnection& conn, std::span<const CertRecord> certs);

// Advances the change generation and notifies kChangeChannel within the
// caller's transaction (the notification is sent when it commits), for a
// change every instance's caches must follow (Store::ChangeGeneration).
inline constexpr std::string_view kChangeChannel = "mayfly_changes";
[[nodiscard]] Result<void> NoteChange(PgConnection& conn);

// The revoked, unexpired certificates of `issuer` ("" = all) at `now`.
[[nodiscard]] Result<std::vector<RevokedCert>> ReadRevokedUnexpired(PgConnection& conn, const std::string& issuer,
                                                                    int64_t now);

// Appends `events` to the audit chain within the caller's transaction,
// filling in their ids and hashes. Locks the chain-head row until commit.
[[nodiscard]] Result<void> AppendAuditRows(PgConnection& conn, std::span<AuditEvent> events);
// One event, as AppendAuditRows.
[[nodiscard]] inline Result<void> AppendAuditRow(PgConnection& conn, AuditEvent event) {
  return AppendAuditRows(conn, std::span(&event, 1));
}

// RecordIssuance's writes within the caller's transaction, which holds
// LockForIssuance when `certs` is not empty: the certificate rows (as
// InsertCertificateRows), then the events appended to the audit chain.
[[nodiscard]] Result<void> InsertIssuanceRows(PgConnection& conn, std::span<const CertRecord> certs,
                                              std::span<const AuditEvent> events);

// Revoke's writes within the caller's transaction, which must hold the
// revocation lock exclusive (LockForRevocation): revokes the matching
// certificates, bans a selected node, notes the change. Returns the serials
// revoked; errors as Store::Revoke.
[[nodiscard]] Result<std::vector<std::string>> RevokeRows(PgConnection& conn, const RevokeSelector& which,
                                                          RevocationReason reason, int64_t now);

// The certificate columns ReadCertificateRow expects, in order ("SELECT
// <this> FROM certificates"), with ", der" appended when the DER is wanted.
inline constexpr std::string_view kCertColumns =
    "id, serial, spiffe_id, node, kind, issuer, not_before, not_after, issued_at, revoked_at, reason";
[[nodiscard]] Result<CertRecord> ReadCertificateRow(const PgResult& res, int row, bool with_der);
[[nodiscard]] Result<RevocationReason> ReasonColumn(const PgResult& res, int row, int col, const std::string& serial);

// The SQL condition selecting certificates in `status`, reading the
// parameter `$<now_param>` except for kRevoked.
std::string CertStatusCondition(CertStatus status, int now_param);

// The database password: the first line of `path`, which only its owner may
// read. kConfig for an empty path or file, or one others can read.
[[nodiscard]] Result<std::string> ReadPasswordFile(const std::string& path);

// One connection of its own (not the pool's), for `url` checked by
// PostgresStore::CheckUrl and the password in `password_file`: the bulk
// export and import run their whole work on it.
[[nodiscard]] Result<std::unique_ptr<PgConnection>> ConnectWithPasswordFile(const std::string& url,
                                                                            const std::string& password_file);

// "ARRAY[$n, $n+1, ...]::text[]" for `values`, added to `params`: every name
// is a parameter of its own, so no quoting is ever done by hand.
std::string TextArray(PgParams& params, const std::vector<std::string>& values);

// Every entry, by id, with its names.
[[nodiscard]] Result<std::vector<EntryRecord>> ReadEntries(PgConnection& conn);
// Every admin role row, by name in byte order.
[[nodiscard]] Result<std::vector<AdminRecord>> ReadAdmins(PgConnection& conn);

}  // namespace mayfly::pg

namespace mayfly {

struct PostgresStore::Impl {
  Impl(std::string url, std::string password) : pool(std::move(url), std::move(password)) {}

  // Runs body(PgConnection&) -> Result<T> in one transaction, committing
  // when it succeeds and rolling back when it fails. Run again (from the
  // start: the body must not keep state across calls) after a deadlock or
  // serialization failure, or when a pooled connection turns out dead
  // before anything was sent in it.
  template <typename Body>
  std::invoke_result_t<Body&, PgConnection&> Write(Body&& body) {
    return Run(body, "BEGIN", /*commit=*/true);
  }

  // Runs body(PgConnection&) -> Result<T> outside any transaction (each
  // statement sees the last committed state), or in one read-only snapshot
  // when `snapshot`. Run again on a fresh connection if a pooled one was dead.
  template <typename Body>
  std::invoke_result_t<Body&, PgConnection&> Read(Body&& body, bool snapshot = false) {
    return Run(body, snapshot ? "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY" : nullptr,
               /*commit=*/snapshot);
  }

  PgPool pool;
  int schema_version = 0;
  // The LISTEN session for WaitForChange (pg_changes.cc); reopened after
  // the server drops it.
  std::mutex listen_mu;
  std::unique_ptr<PgConnection> listener;  // guarded by listen_mu
  std::atomic<uint64_t> retries{0};
  OwnChanges own_changes;  // Store::TakeOwnChanges

 private:
  template <typename Body>
  std::invoke_result_t<Body&, PgConnection&> Run(Body& body, const char* begin, bool commit) {
    for (int attempt = 1;; ++attempt) {
      auto acquired = pool.Acquire();
      if (!acquired) return std::unexpected(acquired.error());
      PgConnection& conn = *acquired->conn;
      if (begin != nullptr) {
        if (auto r = conn.Run(begin, "starting a transaction"); !r) {
          if (acquired->reused && conn.Broken() && attempt < pg::kMaxAttempts) {
            pool.DropIdle();
            continue;
          }
          return std::unexpected(r.error());
        }
      }
      conn.noted_generations.clear();
      auto result = body(conn);
      if (result) {
        if (!commit) return result;
        auto committed = conn.Run("COMMIT", "committing");
        if (committed) {
          own_changes.Record(conn.noted_generations);
          return result;
        }
        if (IsRetryableSqlState(conn.SqlState()) && attempt < pg::kMaxAttempts) {
          retries.fetch_add(1, std::memory_order_relaxed);
          continue;
        }
        return std::unexpected(committed.error());
      }
      const std::string state = conn.SqlState();
      if (conn.InTransaction() && !conn.Broken()) (void)conn.Run("ROLLBACK", "rolling back");
      if (IsRetryableSqlState(state) && attempt < pg::kMaxAttempts) {
        retries.fetch_add(1, std::memory_order_relaxed);
        continue;
      }
      // A read on a pooled connection that died while idle: nothing was
      // done, so ask again on a new one.
      if (begin == nullptr && acquired->reused && conn.Broken() && attempt < pg::kMaxAttempts) {
        pool.DropIdle();
        continue;
      }
      return result;
    }
  }
};

}  // namespace mayfly
