// The durable state of a CA: one interface of transactions over SQLite.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "mayfly/error.h"

namespace mayfly {

// What a certificate was issued as.
enum class CertKind { kWorkload, kNode, kAdmin, kServer };
std::string_view CertKindName(CertKind kind);          // "workload", ...
[[nodiscard]] Result<CertKind> ParseCertKind(std::string_view name);

// RFC 5280 CRLReason values Mayfly uses.
enum class RevocationReason : int {
  kUnspecified = 0,
  kKeyCompromise = 1,
  kCaCompromise = 2,
  kAffiliationChanged = 3,
  kSuperseded = 4,
  kCessationOfOperation = 5,
};
std::string_view RevocationReasonName(RevocationReason r);  // "keyCompromise"
// Accepts the RFC names ("keyCompromise") and snake_case ("key_compromise").
[[nodiscard]] Result<RevocationReason> ParseRevocationReason(std::string_view name);

struct CertRecord {
  std::string serial;        // lowercase hex, no leading zeros; UNIQUE
  std::string spiffe_id;
  std::string node;          // node it was issued to or through; "" if none
  CertKind kind = CertKind::kWorkload;
  std::string issuer;        // identifies the issuing CA (hex SKI)
  int64_t not_before = 0;    // Unix seconds
  int64_t not_after = 0;
  int64_t issued_at = 0;
  std::string der;
  std::optional<int64_t> revoked_at;
  RevocationReason reason = RevocationReason::kUnspecified;
  // Not stored: the serial of the client certificate the issuing request
  // came with ("" for none). The row is refused if that certificate was
  // revoked while the request was in flight.
  std::string caller_serial;
};

struct RevokedCert {
  std::string serial;
  int64_t revoked_at = 0;
  RevocationReason reason = RevocationReason::kUnspecified;
  int64_t not_after = 0;
  std::string issuer;
};

enum class CertStatus { kValid, kRevoked, kExpired };
std::string_view CertStatusName(CertStatus status);             // "valid", ...
[[nodiscard]] Result<CertStatus> ParseCertStatus(std::string_view name);

struct CertFilter {
  std::optional<std::string> spiffe_id;
  std::optional<std::string> node;
  std::optional<CertStatus> status;   // evaluated at `now`
  int64_t now = 0;
  int limit = 100;                    // 1..1000
  // Keyset paging: return rows issued before this cursor (from CertPage).
  std::optional<std::string> cursor;
};
struct CertPage {
  std::vector<CertRecord> certs;      // newest first; der is left empty
  std::optional<std::string> next_cursor;
};

// Exactly one of the three is set.
struct RevokeSelector {
  std::optional<std::string> serial;
  std::optional<std::string> spiffe_id;
  std::optional<std::string> node;    // also bans the node
};

struct NodeRecord {
  std::string name;
  int64_t enrolled_at = 0;
  bool banned = false;
  std::optional<int64_t> banned_at;
};

struct TokenRecord {
  std::string hash;          // hex SHA-256 of the token; the token itself is never stored
  std::string node;
  int64_t created_at = 0;
  int64_t expires_at = 0;
};

struct EntryRecord {
  int64_t id = 0;            // assigned by the store
  std::string spiffe_id;
  std::string node;          // node name or glob
  std::vector<std::string> dns;
  std::vector<std::string> ips;
  int64_t max_ttl = 0;       // seconds
  std::string source;        // "config" or "api"
};

struct AuditEvent {
  int64_t id = 0;            // assigned by the store, increasing
  int64_t time = 0;
  std::string type;          // "issue", "renew", "enroll", "revoke", "token", "entry_add", "refused", ...
  std::string actor;         // who called: SPIFFE ID, "admin-socket", an IP
  std::string subject;       // what it was about: a SPIFFE ID, serial, node
  std::string result;        // "ok" or an error code
  std::string detail;        // JSON object text; never a secret
  std::string prev_hash;     // hex SHA-256 of the previous event ("" for the first)
  std::string hash;          // hex SHA-256 over prev_hash and this event's fields
};

// What VerifyAuditChain found.
struct AuditChainCheck {
  int64_t events = 0;                   // events read, in id order
  std::optional<int64_t> first_bad_id;  // nullopt when the chain is intact
};

// Where a CA certificate stands in a rotation (docs/rotation.md).
enum class CaRole {
  kRoot,          // self-signed trust anchor
  kIntermediate,  // issues leaves and signs its CRL
  kCross,         // a newer root's key certified by an older root, for old trust stores
};
std::string_view CaRoleName(CaRole role);   // "root", "intermediate", "cross"
[[nodiscard]] Result<CaRole> ParseCaRole(std::string_view name);

enum class CaState {
  kPrepared,  // published (bundle, CRLs, client trust) but not yet used
  kActive,    // issues (intermediate) or anchors the active intermediate (root)
  kRetiring,  // replaced; still published while what it signed is unexpired
  kRetired,   // no longer published
  kRevoked,   // revoked at its root's CRL (an intermediate after a compromise)
};
std::string_view CaStateName(CaState state);  // "prepared", "active", ...
[[nodiscard]] Result<CaState> ParseCaState(std::string_view name);

struct CaCertRecord {
  int64_t id = 0;              // assigned by the store; creation order
  CaRole role = CaRole::kIntermediate;
  CaState state = CaState::kPrepared;
  std::string key_id;          // hex subject key identifier of its key
  std::string issuer_key_id;   // hex key identifier of the key that signed it
  std::string serial;          // lowercase hex
  std::string der;
  std::string key_file;        // its encrypted key, relative to state_dir; "" for kCross
  int64_t not_after = 0;
  int64_t created_at = 0;
  int64_t changed_at = 0;      // when `state` last changed
  std::string crl_pem;         // roots only: the root's current CRL

  friend bool operator==(const CaCertRecord&, const CaCertRecord&) = default;
};

// Thread-safe. Writes are serialised on one connection and committed durably
// (WAL, synchronous=FULL) before they return; reads use their own connections
// and run while a write commits. The store never reads the clock: every `now`
// is the caller's, in Unix seconds.
//
// Errors: kStore (with SQLite's message and what was being done) when the
// database fails; kConflict for a duplicate key; kInvalidArgument for a
// malformed request; otherwise as stated per call.
class Store {
 public:
  // Opens or creates the database (mode 0600, as are its -wal and -shm files,
  // whatever the umask) and applies pending schema migrations, each in its
  // own transaction. kIo when the file cannot be created; kStore when it is
  // not a database or its schema is newer than this build knows.
  [[nodiscard]] static Result<std::unique_ptr<Store>> Open(const std::string& path);
  ~Store();

  // The schema version (PRAGMA user_version) the database is at.
  int SchemaVersion() const;
  // WAL checkpoints run so far. They run on a thread of the store's own, not
  // inside the commit that fills the WAL (see wal_checkpointer.h).
  uint64_t WalCheckpoints() const;
  // Of those, the ones that failed (I/O errors; a checkpoint that only could
  // not copy what a reader still needs is not a failure).
  uint64_t WalCheckpointFailures() const;

  // Certificates. InsertCertificates commits all records in one transaction
  // (the group-commit path); a duplicate serial fails the whole batch with
  // kConflict, a certificate whose node is banned with kForbidden and one
  // whose caller_serial is revoked with kUnauthenticated (a ban or revocation
  // committed while its request was in flight), and records none of it. An
  // empty batch is a no-op.
  [[nodiscard]] Result<void> InsertCertificates(std::span<const CertRecord> certs);
  // As InsertCertificates, and appends `events` to the audit log in the same
  // transaction: an issuance and its audit record become durable together,
  // with one disk sync, or not at all.
  [[nodiscard]] Result<void> RecordIssuance(std::span<const CertRecord> certs,
                                            std::span<const AuditEvent> events);
  // The certificate with this serial (exactly as stored: lowercase hex), der
  // included; nullopt when there is none.
  [[nodiscard]] Result<std::optional<CertRecord>> GetCertificate(const std::string& serial);
  // One page, newest first. kInvalidArgument for a cursor this store did not
  // hand out. `limit` outside 1..1000 is clamped. next_cursor is set only
  // when more certificates match.
  [[nodiscard]] Result<CertPage> ListCertificates(const CertFilter& filter);
  // How many certificates are in `status` at `now` (all when nullopt).
  [[nodiscard]] Result<int64_t> CountCertificates(std::optional<CertStatus> status, int64_t now);

  // Marks every matching certificate that is neither revoked nor expired at
  // `now` as revoked; for a node selector also bans the node (recording it
  // if it was never enrolled) and invalidates every unused join token for
  // it, so only a token created after the ban can lift it. One transaction. Returns the serials revoked
  // (possibly none, e.g. an already revoked serial). kInvalidArgument unless
  // exactly one selector field is set, and non-empty; kNotFound for a serial
  // that was never recorded.
  [[nodiscard]] Result<std::vector<std::string>> Revoke(const RevokeSelector& which,
                                                        RevocationReason reason, int64_t now);
  // Revoked certificates not yet expired at `now`, for one issuer ("" = all).
  [[nodiscard]] Result<std::vector<RevokedCert>> ListRevokedUnexpired(const std::string& issuer,
                                                                      int64_t now);
  // Increments and returns the CRL number (1 first); never goes backwards,
  // across restarts included.
  [[nodiscard]] Result<int64_t> NextCrlNumber();

  // Join tokens, stored only as hashes. kConflict when the hash exists.
  [[nodiscard]] Result<void> CreateToken(const TokenRecord& token);
  // One transaction: the token must exist, be unused, not invalidated by a
  // ban of its node, and unexpired at `now` (else kInvalidToken, whose
  // message says which of unknown, used, invalidated or expired, and
  // nothing else); it is marked used, its node is recorded as
  // enrolled and unbanned, and node_cert (whose node field is filled in) is
  // inserted. If the insert fails (kConflict) nothing happens: the token
  // stays unused. Returns the token's node name. Concurrent calls with one
  // token: one wins. `event`, when given, is appended to the audit chain in
  // the same transaction.
  [[nodiscard]] Result<std::string> ConsumeTokenAndEnroll(const std::string& token_hash,
                                                          int64_t now, CertRecord node_cert,
                                                          std::optional<AuditEvent> event = std::nullopt);

  // Nodes. A node revoked before it ever enrolled has enrolled_at 0.
  [[nodiscard]] Result<std::optional<NodeRecord>> GetNode(const std::string& name);
  // Names of banned nodes, sorted.
  [[nodiscard]] Result<std::vector<std::string>> ListBannedNodes();

  // Registration entries. AddEntry stores `entry` with source "api" when
  // its source is empty, and returns its id; ids are never reused.
  [[nodiscard]] Result<int64_t> AddEntry(const EntryRecord& entry);
  // Removes an "api" entry by id; kNotFound when none (a "config" entry's
  // message says it is edited in ca.toml).
  [[nodiscard]] Result<void> RemoveEntry(int64_t id);
  // Every entry, by id.
  [[nodiscard]] Result<std::vector<EntryRecord>> ListEntries();
  // Replaces every "config" entry with these (on start and on reload), in
  // one transaction; their source fields are ignored. New ids each time.
  [[nodiscard]] Result<void> ReplaceConfigEntries(std::span<const EntryRecord> entries);

  // Audit log: AppendAudit fills in id, prev_hash and hash. The hash is the
  // hex SHA-256 of prev_hash, time (decimal), type, actor, subject, result
  // and detail, each preceded by its length as 8 bytes big-endian.
  [[nodiscard]] Result<AuditEvent> AppendAudit(AuditEvent event);
  // Newest first; events with id < before_id when set; time >= since.
  // `limit` outside 1..1000 is clamped.
  [[nodiscard]] Result<std::vector<AuditEvent>> ListAudit(int64_t since, int limit,
                                                          std::optional<int64_t> before_id);
  // Checks the whole chain: ids run 1, 2, 3... without gaps, each prev_hash
  // is the previous event's hash, each hash recomputes. first_bad_id is the
  // id of the first event that is wrong (edited, inserted, or following a
  // deleted one), or the id after the last event when events at the end were
  // deleted.
  [[nodiscard]] Result<AuditChainCheck> VerifyAuditChain();

  // The CA certificates, in creation order.
  [[nodiscard]] Result<std::vector<CaCertRecord>> ListCaCerts();
  // One rotation step, in one transaction: inserts the records whose id is
  // 0, updates state, changed_at and crl_pem of the others (kNotFound when an
  // id is unknown) and appends `event` to the audit chain. Returns the records
  // with their ids.
  [[nodiscard]] Result<std::vector<CaCertRecord>> SaveCaCerts(std::vector<CaCertRecord> records,
                                                              const AuditEvent& event);
  // Unexpired, unrevoked certificates per issuer key id (CertRecord::issuer),
  // not counting the daemon's own server certificates (replaced at once).
  [[nodiscard]] Result<std::map<std::string, int64_t>> CountLiveByIssuer(int64_t now);

  // Small key/value settings (CA state).
  [[nodiscard]] Result<std::optional<std::string>> GetMeta(const std::string& key);
  [[nodiscard]] Result<void> SetMeta(const std::string& key, const std::string& value);

 private:
  struct Impl;
  explicit Store(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Lets many threads commit certificates in shared transactions: each caller
// blocks in Commit until the transaction holding its record is durable.
// While one batch commits, new arrivals queue and form the next batch. No
// thread of its own: the first waiting caller commits for everyone queued
// (up to max_batch). When a batch fails, its records are retried one by one,
// so only a bad record (e.g. a duplicate serial) gets the error. Destroy it
// only once no Commit is running.
class GroupCommitter {
 public:
  explicit GroupCommitter(Store& store, size_t max_batch = 256);
  ~GroupCommitter();
  [[nodiscard]] Result<void> Commit(CertRecord record);
  // Commits the record and its audit event in one transaction (RecordIssuance).
  [[nodiscard]] Result<void> Commit(CertRecord record, AuditEvent event);

  // Transactions committed so far (batches, and single retries of a failed batch).
  uint64_t batches_committed() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mayfly
