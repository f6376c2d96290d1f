// Everything a running CA holds: keys, issuer, store, commit queue, caches,
// the published CRL, rate limits, the audit log and metrics.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "anomaly_detector.h"
#include "audit_log.h"
#include "caches.h"
#include "crl_publisher.h"
#include "mayfly/ca_rotation.h"
#include "mayfly/ca_view.h"
#include "mayfly/authorization.h"
#include "mayfly/clock.h"
#include "mayfly/commit_queue.h"
#include "mayfly/config.h"
#include "mayfly/error.h"
#include "mayfly/issuance_check.h"
#include "mayfly/issuer.h"
#include "mayfly/ossl_ptr.h"
#include "mayfly/store.h"
#include "metrics.h"
#include "ocsp_responder.h"
#include "rate_limiter.h"

namespace mayfly {

// The daemon's own TLS server credential, issued in memory.
struct IssuedServerCert {
  std::string cert_chain_pem;   // leaf + intermediate
  OsslPtr<EVP_PKEY> key;        // fresh P-256; never written to disk
  std::string serial;
  TimePoint not_after;          // renew well before this ([issuance] node_ttl after issue)
};

// Owns the CA's state for the daemon's lifetime. Thread-safe after Load.
// It is the service's composition root: it builds its parts (store, commit
// queue, caches, CRL publisher, OCSP responder, audit log, limiters,
// detector) in dependency order, destroys them in reverse, and hands each out
// by reference; a handler takes the parts it uses from it (ApiCall::rt) and
// keeps none beyond its call.
// Destroy it only after every listener and the ApiService are gone: pending
// commit callbacks are completed by the destructor.
class CaRuntime {
 public:
  // Loads root.pem, intermediate.pem and intermediate.key (passphrase from
  // PassphraseFilePath(config)) from config.state_dir, opens the store,
  // validates the [[entry]] tables and replaces the store's config entries
  // with them, fills the caches and signs the first CRL. Errors name what
  // failed: kConfig for a bad entry ("entry[1] spiffe://...: ..."), a
  // missing CA (run `mayfly-ca init`) or a key that does not match its
  // certificate; kIo/kCrypto/kStore otherwise.
  [[nodiscard]] static Result<std::unique_ptr<CaRuntime>> Load(const CaConfig& config, const Clock& clock);
  ~CaRuntime();
  CaRuntime(const CaRuntime&) = delete;
  CaRuntime& operator=(const CaRuntime&) = delete;

  // SIGHUP: applies the new [[entry]] tables and [limits] rates. Other
  // changes (trust domain, state_dir, listeners, lifetimes) need a restart
  // and are ignored with a warning. A bad entry refuses the whole reload and
  // leaves the running state unchanged.
  [[nodiscard]] Result<void> Reload(const CaConfig& config);

  // Rebuilds the caches from the store (so other daemons' writes and expired
  // revocations show up), runs the automatic rotation ([ca] rotate_before)
  // and signs fresh CRLs. Call every [crl] interval.
  [[nodiscard]] Result<void> Refresh();
  // Applies what the store says changed (another instance's revocation,
  // ban, entry or rotation step): reloads the revocation and
  // entry caches, swaps in the CA view when the CA records differ, and signs
  // fresh CRLs. StoreFollower calls it when the change generation moves.
  [[nodiscard]] Result<void> FollowStoreChanges();

  // After this instance's own store write, the result of applying it here
  // (caches, CRL, view). StoreFollower skips the change generations this
  // instance produced, as already applied; when applying one failed, this
  // logs why and has the follower rebuild from the store on its next round.
  void AppliedOwnChange(const Result<void>& applied, std::string_view what);
  // True once after AppliedOwnChange saw a failure (StoreFollower).
  bool TakeFollowRequest() { return follow_requested_.exchange(false); }

  // Whether the store answered the last time StoreFollower asked (/healthz).
  bool store_available() const { return store_available_.load(std::memory_order_relaxed); }
  void set_store_available(bool available) { store_available_.store(available, std::memory_order_relaxed); }

  // A fresh P-256 key and a leaf for spiffe://<td>/mayfly/ca naming these
  // DNS names and IP literals (usually config.server_names), TTL [issuance]
  // node_ttl, recorded in the store (kind server) before it is returned.
  // kInvalidName for a malformed name; kInvalidArgument for none.
  [[nodiscard]] Result<IssuedServerCert> IssueServerCertificate(std::vector<std::string> server_names);

  // The CA certificates in force (chain, bundles, client trust, the root
  // fingerprint: mayfly/ca_view.h); a rotation step swaps in a new view, so
  // a request takes one view and uses it throughout.
  std::shared_ptr<const CaView> ca() const;

  // Rotation (ca_rotation.cc, docs/rotation.md). Each step is serialised,
  // saved with its audit event in one transaction, then the new view and its
  // CRLs are swapped in and the change callback runs. kConflict when the
  // step does not apply now (the message says why). `actor` is audited.
  // prepare: a new intermediate under the active root (root = true: a new
  // root, its intermediate and a cross certificate from the active root).
  [[nodiscard]] Result<std::string> PrepareCa(bool root, const std::string& actor);
  // The prepared intermediate (and its root, when prepared with it) becomes
  // active; the ones they replace start retiring.
  [[nodiscard]] Result<std::string> ActivateCa(const std::string& actor);
  // Retires each retiring intermediate none of whose leaves is still live,
  // and each retiring root no published intermediate depends on.
  [[nodiscard]] Result<std::string> RetireCa(const std::string& actor);
  // A fresh intermediate, active at once; with revoke_old, the one it
  // replaces is revoked at its root's CRL (cACompromise).
  [[nodiscard]] Result<std::string> RotateCaNow(bool revoke_old, const std::string& actor);
  // Makes an active JWT-SVID signing key when the store holds none (a new
  // CA, or one made before JWT-SVIDs); a no-op otherwise.
  [[nodiscard]] Result<void> EnsureJwtKey();
  // Live (unexpired, unrevoked) leaves per issuer key id.
  [[nodiscard]] Result<std::map<std::string, int64_t>> LiveLeaves();
  // Called after every rotation step, before the step returns, on the
  // step's thread and under the rotation lock (the daemon renews its TLS
  // identity): it must not start a rotation step itself.
  void SetOnCaChange(std::function<void()> callback);

  // The configuration in force (limits change on Reload).
  std::shared_ptr<const CaConfig> config() const;
  const std::string& trust_domain() const { return trust_domain_; }
  const AuthzPolicy& policy() const { return policy_; }
  Duration node_ttl() const { return node_ttl_; }
  const Clock& clock() const { return clock_; }

  Store& store() { return *store_; }
  CommitQueue& commit_queue() { return *commit_queue_; }
  CrlPublisher& crl() { return *crl_; }
  OcspResponder& ocsp() { return *ocsp_; }
  RevocationCache& revocations() { return revocations_; }
  EntryCache& entries() { return entries_; }
  AuditLog& audit() { return *audit_; }
  Metrics& metrics() { return metrics_; }
  // The /metrics text: the counters, and the store's WAL checkpoints.
  std::string MetricsText() const;
  // Null when [anomaly] enabled = false.
  AnomalyDetector* anomaly_detector() { return anomaly_detector_.get(); }
  // Stores the source addresses the detector learned since the last call
  // (on every refresh, with each anomaly, and when the runtime stops).
  void SaveLearnedAddresses();
  RateLimiter& sign_limiter() { return sign_limiter_; }
  RateLimiter& enroll_limiter() { return enroll_limiter_; }

 private:
  CaRuntime(const CaConfig& config, const Clock& clock);
  [[nodiscard]] Result<void> SyncConfigEntries(const CaConfig& config);
  // ca_rotation.cc
  [[nodiscard]] Result<void> SaveAndSwap(std::vector<CaCertRecord> changed, AuditEvent event);
  // Swaps in the view of `records` (the store's CA records), re-signs the
  // CRLs, updates root.pem and runs the change callback. Under rotation_mu_.
  [[nodiscard]] Result<void> AdoptCaRecords(std::vector<CaCertRecord> records);
  // Swaps in the store's CA records when they differ from the view's
  // (another instance made a rotation step since this view was built);
  // true when it did, which re-signed the CRLs. Under rotation_mu_.
  [[nodiscard]] Result<bool> CatchUpWithStore();
  // Runs `step` under rotation_mu_, after catching up with the store.
  [[nodiscard]] Result<std::string> WithRotationLock(const std::function<Result<std::string>()>& step);
  // Reloads the revocation and entry caches from the store.
  [[nodiscard]] Result<void> RebuildCaches();
  [[nodiscard]] Result<void> MaintainRotation();
  // The options of a rotation step under the current configuration.
  RotationOptions RotationOptionsNow();
  // Saves `step` with its audit event (SaveAndSwap) and keeps its key
  // files; its message, or the error that made or saved it.
  [[nodiscard]] Result<std::string> SaveStep(Result<RotationStep> step);
  [[nodiscard]] Result<std::string> PrepareLocked(bool root, const std::string& actor);
  [[nodiscard]] Result<std::string> ActivateLocked(const std::string& actor);
  [[nodiscard]] Result<std::string> RetireLocked(const std::string& actor, bool quiet);

  const Clock& clock_;
  const std::string trust_domain_;
  const AuthzPolicy policy_;
  const Duration node_ttl_;
  mutable std::mutex config_mu_;
  std::shared_ptr<const CaConfig> config_;

  const std::string state_dir_;
  const std::string passphrase_file_;
  // PostgreSQL: new CA keys go into the store, for every instance to load.
  const bool keys_in_store_;
  std::atomic<bool> store_available_{true};
  std::atomic<bool> follow_requested_{false};
  const IssuerOptions issuer_options_;
  mutable std::mutex view_mu_;
  std::shared_ptr<const CaView> view_;
  std::mutex rotation_mu_;  // one rotation step at a time
  std::mutex on_change_mu_;
  std::function<void()> on_change_;

  // Declaration order is destruction order reversed: the commit queue and the
  // audit log stop (completing their callbacks) before what they use goes.
  Metrics metrics_;
  RevocationCache revocations_;
  EntryCache entries_;
  RateLimiter sign_limiter_;
  RateLimiter enroll_limiter_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<CrlPublisher> crl_;
  std::unique_ptr<OcspResponder> ocsp_;
  std::unique_ptr<AuditLog> audit_;
  // Audits and counts failed pre-issuance checks; goes before audit_.
  std::unique_ptr<ScopedIssuanceCheckObserver> check_observer_;
  std::unique_ptr<CommitQueue> commit_queue_;
  std::unique_ptr<AnomalyDetector> anomaly_detector_;
};

// The hex SHA-256 of a join token: all the store ever sees of it.
std::string HashToken(std::string_view token);

}  // namespace mayfly
