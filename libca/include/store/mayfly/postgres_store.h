// The PostgreSQL backend of the store: one database shared by every CA
// instance that points at it, through libpq (docs/ha.md; docs/configuration.md,
// [store]).
#pragma once

#include <memory>
#include <string>

#include "mayfly/store.h"

namespace mayfly {

// Safe with several processes writing the same database at once (active-
// active daemons), not only several threads: every check-then-write is made
// atomic by the database itself, never by a lock in this process.
// - one-time tokens: UPDATE ... WHERE used_at IS NULL ... RETURNING, whose
//   row lock makes a second consumer wait and then find the token used;
// - serials: a UNIQUE constraint (kConflict);
// - the audit chain: every append locks the one chain-head row (SELECT ...
//   FOR UPDATE) in the transaction of the change it records, so appends are
//   serialised and ids run without gaps (no sequence: rolled-back appends
//   leave none);
// - CRL numbers: UPDATE ... RETURNING on one row;
// - bans and revocations against in-flight issuance: a transaction that
//   records certificates holds a shared advisory lock, one that revokes the
//   exclusive one, so a revocation waits for issuance under way and issuance
//   that waited sees the revocation.
// Connections come from a pool; a connection the server dropped is discarded
// and the next call opens a new one.
class PostgresStore final : public Store {
 public:
  // Connects to `url` (a libpq URI or conninfo string; several hosts allowed)
  // with the password on the first line of `password_file`, which must not be
  // readable by group or others, and creates or migrates the schema (under an
  // advisory lock, so instances starting together do not race).
  // kUnavailable (libpq's message) when the database cannot be reached;
  // kConfig for a password in the URL or an unreadable or empty password
  // file; kStore when the schema is newer than this build knows.
  [[nodiscard]] static Result<std::unique_ptr<PostgresStore>> Open(const std::string& url,
                                                                   const std::string& password_file);
  ~PostgresStore() override;

  // kConfig unless `url` is a connection string libpq accepts and holds no
  // password (a password there would end up in configs, logs and `ps`).
  [[nodiscard]] static Result<void> CheckUrl(const std::string& url);

  // The schema version (table schema_version) the database is at.
  int SchemaVersion() const;
  // Connections opened, connect failures, broken connections dropped,
  // transactions run again after a deadlock, idle connections.
  std::vector<StoreStat> Stats() const override;

  [[nodiscard]] Result<void> InsertCertificates(std::span<const CertRecord> certs) override;
  [[nodiscard]] Result<void> RecordIssuance(std::span<const CertRecord> certs, std::span<const AuditEvent> events) override;
  [[nodiscard]] Result<std::optional<CertRecord>> GetCertificate(const std::string& serial) override;
  [[nodiscard]] Result<CertPage> ListCertificates(const CertFilter& filter) override;
  [[nodiscard]] Result<int64_t> CountCertificates(std::optional<CertStatus> status, int64_t now) override;
  [[nodiscard]] Result<std::vector<std::string>> Revoke(const RevokeSelector& which, RevocationReason reason,
                                                        int64_t now,
                                                        const RevocationAuditEvent& event) override;
  [[nodiscard]] Result<std::vector<RevokedCert>> ListRevokedUnexpired(const std::string& issuer, int64_t now) override;
  [[nodiscard]] Result<int64_t> NextCrlNumber() override;
  [[nodiscard]] Result<CrlContents> NextCrl(const std::string& issuer, int64_t now) override;
  [[nodiscard]] Result<void> CreateToken(const TokenRecord& token, const AuditEvent& event) override;
  [[nodiscard]] Result<std::string> ConsumeTokenAndEnroll(const std::string& token_hash, int64_t now, CertRecord node_cert, std::optional<AuditEvent> event) override;
  [[nodiscard]] Result<void> CreateRecoveryChallenge(const std::string& challenge_hash, int64_t expires_at, int64_t now) override;
  [[nodiscard]] Result<void> ConsumeChallengeAndRecover(const std::string& challenge_hash, int64_t now, const std::string& old_serial, const CertRecord& new_cert, const AuditEvent& event) override;
  [[nodiscard]] Result<std::optional<NodeRecord>> GetNode(const std::string& name) override;
  [[nodiscard]] Result<std::vector<NodeRecord>> ListRestrictedNodes() override;
  [[nodiscard]] Result<std::vector<NodeRecord>> ListNodes() override;
  [[nodiscard]] Result<bool> QuarantineNode(const std::string& node, const std::string& kind,
                                            const AuditEvent& event) override;
  [[nodiscard]] Result<void> LiftQuarantine(const std::string& node, const AuditEvent& event) override;
  [[nodiscard]] Result<std::vector<NodeIdentityStats>> ListNodeIdentities(int64_t since) override;
  [[nodiscard]] Result<std::vector<NodeAddress>> ListNodeAddresses() override;
  [[nodiscard]] Result<void> AddNodeAddresses(std::span<const NodeAddress> addresses) override;
  [[nodiscard]] Result<void> PutAdmin(const AdminRecord& admin, std::span<const CertRecord> certs,
                                      std::span<const AuditEvent> events) override;
  [[nodiscard]] Result<std::optional<AdminRecord>> GetAdmin(const std::string& name) override;
  [[nodiscard]] Result<std::vector<AdminRecord>> ListAdmins() override;
  [[nodiscard]] Result<std::vector<std::string>> RevokeAdmin(const std::string& name, const std::string& spiffe_id,
                                                             int64_t now, const RevocationAuditEvent& event) override;
  [[nodiscard]] Result<int64_t> AddEntry(const EntryRecord& entry, const EntryAuditEvent& event) override;
  [[nodiscard]] Result<void> RemoveEntry(int64_t id, const AuditEvent& event) override;
  [[nodiscard]] Result<std::vector<EntryRecord>> ListEntries() override;
  [[nodiscard]] Result<void> ReplaceConfigEntries(std::span<const EntryRecord> entries) override;
  [[nodiscard]] Result<AuditEvent> AppendAudit(AuditEvent event) override;
  [[nodiscard]] Result<std::vector<AuditEvent>> ListAudit(int64_t since, int limit, std::optional<int64_t> before_id, const std::string& type = "") override;
  [[nodiscard]] Result<AuditChainCheck> VerifyAuditChain() override;
  [[nodiscard]] Result<std::vector<CaCertRecord>> ListCaCerts() override;
  [[nodiscard]] Result<std::vector<CaCertRecord>> SaveCaCerts(std::vector<CaCertRecord> records, const AuditEvent& event) override;
  [[nodiscard]] Result<std::map<std::string, int64_t>> CountLiveByIssuer(int64_t now) override;
  [[nodiscard]] Result<std::optional<std::string>> GetMeta(const std::string& key) override;
  [[nodiscard]] Result<void> SetMeta(const std::string& key, const std::string& value) override;
  [[nodiscard]] Result<int64_t> ChangeGeneration() override;
  [[nodiscard]] std::vector<int64_t> TakeOwnChanges() override;
  [[nodiscard]] Result<bool> WaitForChange(std::chrono::milliseconds timeout, std::stop_token stop) override;

  struct Impl;

 private:
  explicit PostgresStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace mayfly
