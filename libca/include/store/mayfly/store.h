// The durable state of a CA: one interface of transactions, whatever
// database holds it (store_records.h has the records it keeps).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <stop_token>
#include <string>
#include <vector>

#include "mayfly/error.h"
#include "mayfly/store_records.h"

namespace mayfly {

// A figure a backend reports about itself on /metrics (Prometheus text).
struct StoreStat {
  std::string name;  // "mayfly_store_..."
  std::string type;  // "counter" or "gauge"
  std::string help;
  uint64_t value = 0;
};

// Builds the audit event of a write whose content depends on what the write
// did, inside its transaction: the serials a revocation revoked, the id of a
// new entry. A backend may call it more than once (a transaction retried
// after a deadlock), so it must do nothing but build the event.
using RevocationAuditEvent = std::function<AuditEvent(const std::vector<std::string>& serials)>;
using EntryAuditEvent = std::function<AuditEvent(int64_t id)>;

// Thread-safe. Every write is one transaction, durable before it returns;
// reads see the last committed state. The store never reads the clock: every
// `now` is the caller's, in Unix seconds. Each backend (sqlite_store.h) keeps
// these promises with its own locking: check-then-write operations (a token
// used once, a certificate refused for a node banned meanwhile, the audit
// chain's next link) are atomic against every other writer of the database.
//
// Errors: kStore (with the database's message and what was being done) when
// the database fails; kConflict for a duplicate key; kInvalidArgument for a
// malformed request; otherwise as stated per call.
class Store {
 public:
  virtual ~Store() = default;

  // What the backend reports about itself on /metrics.
  virtual std::vector<StoreStat> Stats() const = 0;

  // Certificates. InsertCertificates commits all records in one transaction
  // (the group-commit path); a duplicate serial fails the whole batch with
  // kConflict, a certificate whose node is banned with kNodeBanned and one
  // whose caller_serial is revoked with kUnauthenticated (a ban or revocation
  // committed while its request was in flight), and records none of it. An
  // empty batch is a no-op.
  [[nodiscard]] virtual Result<void> InsertCertificates(std::span<const CertRecord> certs) = 0;
  // As InsertCertificates, and appends `events` to the audit log in the same
  // transaction: an issuance and its audit record become durable together,
  // with one disk sync, or not at all.
  [[nodiscard]] virtual Result<void> RecordIssuance(std::span<const CertRecord> certs,
                                            std::span<const AuditEvent> events) = 0;
  // The certificate with this serial (exactly as stored: lowercase hex), der
  // included; nullopt when there is none.
  [[nodiscard]] virtual Result<std::optional<CertRecord>> GetCertificate(const std::string& serial) = 0;
  // One page, newest first. kInvalidArgument for a cursor this store did not
  // hand out. `limit` outside 1..1000 is clamped. next_cursor is set only
  // when more certificates match.
  [[nodiscard]] virtual Result<CertPage> ListCertificates(const CertFilter& filter) = 0;
  // How many certificates are in `status` at `now` (all when nullopt).
  [[nodiscard]] virtual Result<int64_t> CountCertificates(std::optional<CertStatus> status, int64_t now) = 0;

  // Marks every matching certificate that is neither revoked nor expired at
  // `now` as revoked; for a node selector also bans the node (recording it
  // if it was never enrolled) and invalidates every unused join token for
  // it, so only a token created after the ban can lift it. Appends
  // event(serials revoked) to the audit chain. One transaction. Returns the
  // serials revoked (possibly none, e.g. an already revoked serial; the event
  // is appended all the same). kInvalidArgument unless exactly one selector
  // field is set, and non-empty; kNotFound for a serial that was never
  // recorded. On any error nothing is revoked, banned or appended.
  [[nodiscard]] virtual Result<std::vector<std::string>> Revoke(const RevokeSelector& which,
                                                        RevocationReason reason, int64_t now,
                                                        const RevocationAuditEvent& event) = 0;
  // Revoked certificates not yet expired at `now`, for one issuer ("" = all).
  [[nodiscard]] virtual Result<std::vector<RevokedCert>> ListRevokedUnexpired(const std::string& issuer,
                                                                      int64_t now) = 0;
  // Increments and returns the CRL number (1 first); never goes backwards,
  // across restarts included.
  [[nodiscard]] virtual Result<int64_t> NextCrlNumber() = 0;
  // The next CRL number and what `issuer`'s CRL lists at `now` (as
  // ListRevokedUnexpired), read as one: no revocation commits between the
  // two, so of two CRLs the one with the higher number never lists less,
  // whichever instance signed them.
  [[nodiscard]] virtual Result<CrlContents> NextCrl(const std::string& issuer, int64_t now) = 0;

  // Join tokens, stored only as hashes. Records `token` and appends `event`
  // to the audit chain, in one transaction: an enrollment with the token
  // commits after both, so its event is always chained after the token's.
  // kConflict when the hash exists; nothing is recorded or appended then.
  [[nodiscard]] virtual Result<void> CreateToken(const TokenRecord& token, const AuditEvent& event) = 0;
  // One transaction: the token must exist, be unused, not invalidated by a
  // ban of its node, and unexpired at `now` (else kInvalidToken, whose
  // message says which of unknown, used, invalidated or expired, and
  // nothing else); it is marked used, its node is recorded as
  // enrolled and unbanned, and node_cert (whose node field is filled in) is
  // inserted. If the insert fails (kConflict) nothing happens: the token
  // stays unused. Returns the token's node name. Concurrent calls with one
  // token: one wins. `event`, when given, is appended to the audit chain in
  // the same transaction.
  [[nodiscard]] virtual Result<std::string> ConsumeTokenAndEnroll(const std::string& token_hash,
                                                          int64_t now, CertRecord node_cert,
                                                          std::optional<AuditEvent> event = std::nullopt) = 0;

  // Node recovery challenges, stored only as hashes. Records one usable
  // until `expires_at`, and drops every challenge expired at `now` (a
  // challenge never asked for back costs nothing for long). kConflict when
  // the hash exists.
  [[nodiscard]] virtual Result<void> CreateRecoveryChallenge(const std::string& challenge_hash, int64_t expires_at,
                                                             int64_t now) = 0;
  // One transaction, atomic against every writer of the database: the
  // challenge is consumed (it must exist and be unexpired at `now`, else
  // kUnauthenticated); `old_serial` must be the latest node certificate of
  // new_cert.node and unrevoked (else kRecoveryRefused: a newer one was
  // issued meanwhile, by a renewal or another recovery); new_cert is
  // inserted as InsertCertificates would (kNodeBanned for a banned node,
  // kConflict for a duplicate serial) and `event` appended to the audit
  // chain. Any failure leaves everything as it was, the challenge included.
  // Concurrent calls with one challenge, or for one node: one wins.
  [[nodiscard]] virtual Result<void> ConsumeChallengeAndRecover(const std::string& challenge_hash, int64_t now,
                                                                const std::string& old_serial,
                                                                const CertRecord& new_cert,
                                                                const AuditEvent& event) = 0;

  // Nodes. A node revoked before it ever enrolled has enrolled_at 0.
  [[nodiscard]] virtual Result<std::optional<NodeRecord>> GetNode(const std::string& name) = 0;
  // The nodes banned or quarantined, by name (byte order): what the
  // daemons' caches refuse, read without listing the whole fleet.
  [[nodiscard]] virtual Result<std::vector<NodeRecord>> ListRestrictedNodes() = 0;
  // Every node, by name (byte order).
  [[nodiscard]] virtual Result<std::vector<NodeRecord>> ListNodes() = 0;

  // Anomaly detection (docs/anomalies.md). Quarantines `node` for the
  // anomaly `kind` (recording the node if it is unknown), a change the
  // daemons' caches follow, and appends `event` (the anomaly's) in the same
  // transaction; false when it was quarantined already (its first kind
  // stays; the event is still appended). Does not revoke or ban anything.
  [[nodiscard]] virtual Result<bool> QuarantineNode(const std::string& node, const std::string& kind,
                                                    const AuditEvent& event) = 0;
  // Lifts the quarantine of `node` and appends `event`, in one transaction;
  // kNotFound when the node is not quarantined (nothing is appended).
  [[nodiscard]] virtual Result<void> LiftQuarantine(const std::string& node, const AuditEvent& event) = 0;
  // Per node and workload SPIFFE ID of its workload certificates: the first
  // issuance and how many were issued at or after `since`.
  [[nodiscard]] virtual Result<std::vector<NodeIdentityStats>> ListNodeIdentities(int64_t since) = 0;
  // The client addresses nodes have called from; AddNodeAddresses keeps the
  // first sighting of a pair already recorded.
  [[nodiscard]] virtual Result<std::vector<NodeAddress>> ListNodeAddresses() = 0;
  [[nodiscard]] virtual Result<void> AddNodeAddresses(std::span<const NodeAddress> addresses) = 0;

  // Admin roles, one row per admin name. Rows are never deleted: a revoked
  // name keeps its row (revoked_at set). PutAdmin inserts a new name, or
  // gives a revoked one a new role and created_at (clearing revoked_at);
  // kConflict when the name exists unrevoked. In the same transaction it
  // records `certs` (the name's credential) as InsertCertificates would,
  // with its errors, and appends `events`: a certificate never exists for a
  // name without its role, nor a role or certificate without its event. On
  // any error nothing is recorded or appended.
  [[nodiscard]] virtual Result<void> PutAdmin(const AdminRecord& admin, std::span<const CertRecord> certs,
                                              std::span<const AuditEvent> events) = 0;
  [[nodiscard]] virtual Result<std::optional<AdminRecord>> GetAdmin(const std::string& name) = 0;
  // Every admin, by name (byte order).
  [[nodiscard]] virtual Result<std::vector<AdminRecord>> ListAdmins() = 0;
  // One transaction: marks the name revoked at `now` (a name revoked already
  // keeps its first revoked_at), revokes its certificates as Revoke by
  // `spiffe_id` (its admin SPIFFE ID) with reason cessationOfOperation, and
  // appends event(serials revoked) to the audit chain. Returns the serials
  // revoked. kNotFound when the name has no row; on any error nothing is
  // revoked or appended.
  [[nodiscard]] virtual Result<std::vector<std::string>> RevokeAdmin(const std::string& name,
                                                                     const std::string& spiffe_id, int64_t now,
                                                                     const RevocationAuditEvent& event) = 0;

  // Registration entries. AddEntry stores `entry` with source "api" when
  // its source is empty and appends event(its id) to the audit chain, in one
  // transaction, and returns the id; ids are never reused. kInvalidArgument
  // for a malformed entry; nothing is stored or appended on any error.
  [[nodiscard]] virtual Result<int64_t> AddEntry(const EntryRecord& entry, const EntryAuditEvent& event) = 0;
  // Removes an "api" entry by id and appends `event`, in one transaction;
  // kNotFound when none (a "config" entry's message says it is edited in
  // ca.toml), and nothing is appended.
  [[nodiscard]] virtual Result<void> RemoveEntry(int64_t id, const AuditEvent& event) = 0;
  // Every entry, by id.
  [[nodiscard]] virtual Result<std::vector<EntryRecord>> ListEntries() = 0;
  // Replaces every "config" entry with these (on start and on reload), in
  // one transaction; their source fields are ignored. New ids each time.
  [[nodiscard]] virtual Result<void> ReplaceConfigEntries(std::span<const EntryRecord> entries) = 0;

  // Audit log: AppendAudit fills in id, prev_hash and hash (AuditEventHash,
  // audit_chain.h); concurrent appends still form one chain.
  [[nodiscard]] virtual Result<AuditEvent> AppendAudit(AuditEvent event) = 0;
  // Newest first; events with id < before_id when set; time >= since; of
  // one `type` when it is not empty. `limit` outside 1..1000 is clamped.
  [[nodiscard]] virtual Result<std::vector<AuditEvent>> ListAudit(int64_t since, int limit,
                                                          std::optional<int64_t> before_id,
                                                          const std::string& type = "") = 0;
  // Checks the whole chain: ids run 1, 2, 3... without gaps, each prev_hash
  // is the previous event's hash, each hash recomputes. first_bad_id is the
  // id of the first event that is wrong (edited, inserted, or following a
  // deleted one), or the id after the last event when events at the end were
  // deleted.
  [[nodiscard]] virtual Result<AuditChainCheck> VerifyAuditChain() = 0;

  // The CA certificates, in creation order.
  [[nodiscard]] virtual Result<std::vector<CaCertRecord>> ListCaCerts() = 0;
  // One rotation step, in one transaction: inserts the records whose id is
  // 0, updates state, changed_at and crl_pem of the others (kNotFound when an
  // id is unknown) and appends `event` to the audit chain. Returns the records
  // with their ids.
  [[nodiscard]] virtual Result<std::vector<CaCertRecord>> SaveCaCerts(std::vector<CaCertRecord> records,
                                                              const AuditEvent& event) = 0;
  // Unexpired, unrevoked certificates per issuer key id (CertRecord::issuer),
  // not counting the daemon's own server certificates (replaced at once).
  [[nodiscard]] virtual Result<std::map<std::string, int64_t>> CountLiveByIssuer(int64_t now) = 0;

  // Small key/value settings (CA state).
  [[nodiscard]] virtual Result<std::optional<std::string>> GetMeta(const std::string& key) = 0;
  [[nodiscard]] virtual Result<void> SetMeta(const std::string& key, const std::string& value) = 0;

  // What a daemon must learn of other instances' writes: revocations, bans
  // and lifted bans, entries and CA certificate records. The generation
  // grows with every such change committed, by any process, in the change's
  // own transaction; a daemon that sees it move rebuilds its caches.
  [[nodiscard]] virtual Result<int64_t> ChangeGeneration() = 0;
  // The generations this Store object's own committed transactions moved
  // the change generation to, since the last call (each returned once; the
  // oldest are dropped past a few thousand). The rest, up to
  // ChangeGeneration, are other processes' changes (or ones this object
  // could not confirm). Lets a daemon skip rebuilding for the writes it
  // applied itself (StoreFollower).
  [[nodiscard]] virtual std::vector<int64_t> TakeOwnChanges() = 0;
  // Blocks until another process may have made such a change (PostgreSQL:
  // LISTEN/NOTIFY), `timeout` passes or `stop` is requested; true when a
  // notification arrived. A backend without notifications only waits: the
  // caller polls ChangeGeneration. kUnavailable while the database is away.
  // One caller at a time.
  [[nodiscard]] virtual Result<bool> WaitForChange(std::chrono::milliseconds timeout, std::stop_token stop) = 0;

};

// The database backends a store can live in.
enum class StoreBackend {
  kSqlite,      // one file in state_dir; one daemon (sqlite_store.h)
  kPostgresql,  // one database shared by several daemons (postgres_store.h)
};
std::string_view StoreBackendName(StoreBackend backend);  // "sqlite", "postgresql"
// kInvalidArgument naming the accepted values for anything else.
[[nodiscard]] Result<StoreBackend> ParseStoreBackend(std::string_view name);

// Which database holds the store, from ca.toml's [store] (StoreOptionsFor,
// ca_layout.h, builds it).
struct StoreOptions {
  StoreBackend backend = StoreBackend::kSqlite;
  std::string sqlite_path;    // kSqlite: the database file
  std::string url;            // kPostgresql: libpq connection URI (no password in it)
  std::string password_file;  // kPostgresql: the password, on its first line
};

// Opens the configured backend, creating and migrating its schema as needed.
// Errors as the backend's Open (SqliteStore::Open, PostgresStore::Open).
[[nodiscard]] Result<std::unique_ptr<Store>> OpenStore(const StoreOptions& options);

}  // namespace mayfly
