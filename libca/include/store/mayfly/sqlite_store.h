// The SQLite backend of the store: one file in the CA's state directory,
// WAL journal, one writer connection and a pool of readers (the default,
// zero-setup backend; docs/configuration.md, [store]).
#pragma once

#include <memory>
#include <string>

#include "mayfly/store.h"

namespace mayfly {

// Writes are serialised on one connection (a process-wide mutex, which is what
// makes its check-then-write operations atomic) and committed durably
// (synchronous=FULL) before they return; reads use their own connections and
// run while a write commits. One process per database file.
class SqliteStore final : public Store {
 public:
  // Opens or creates the database (mode 0600, as are its -wal and -shm files,
  // whatever the umask) and applies pending schema migrations, each in its
  // own transaction. kIo when the file cannot be created; kStore when it is
  // not a database or its schema is newer than this build knows.
  [[nodiscard]] static Result<std::unique_ptr<SqliteStore>> Open(const std::string& path);
  ~SqliteStore() override;

  // The schema version (PRAGMA user_version) the database is at.
  int SchemaVersion() const;
  // WAL checkpoints run so far. They run on a thread of the store's own, not
  // inside the commit that fills the WAL (wal_checkpointer.h).
  uint64_t WalCheckpoints() const;
  // Of those, the ones that failed (I/O errors; a checkpoint that only could
  // not copy what a reader still needs is not a failure).
  uint64_t WalCheckpointFailures() const;
  // The WAL checkpoint counters, for /metrics.
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
  explicit SqliteStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace mayfly
