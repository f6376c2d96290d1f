// Loading a CA from its state directory and keeping its runtime state fresh.
#include "ca_runtime.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <spdlog/spdlog.h>

#include <future>

#include "mayfly/ca_layout.h"
#include "mayfly/crl.h"
#include "mayfly/file_util.h"
#include "mayfly/identity.h"
#include "mayfly/keys.h"
#include "mayfly/x509_util.h"

namespace mayfly {
namespace {

AuthzPolicy PolicyOf(const CaConfig& config) {
  return AuthzPolicy{.trust_domain = config.trust_domain,
                     .default_ttl = config.issuance.default_ttl,
                     .min_ttl = config.issuance.min_ttl,
                     .max_ttl = config.issuance.max_ttl};
}

// Validates every [[entry]] table; the first bad one is a kConfig error
// naming the file, its index and its SPIFFE ID.
Result<std::vector<EntryRecord>> ValidateConfigEntries(const CaConfig& config, const AuthzPolicy& policy) {
  std::vector<EntryRecord> out;
  for (size_t i = 0; i < config.entries.size(); ++i) {
    const EntryConfig& e = config.entries[i];
    EntryRecord record{.spiffe_id = e.spiffe_id, .node = e.node, .dns = e.dns, .ips = e.ips,
                       .max_ttl = e.ttl ? e.ttl->count() : 0, .source = "config",
                       .selectors = e.selectors};
    auto valid = ValidateEntry(std::move(record), policy);
    if (!valid) {
      std::string where = config.path.empty() ? std::string("configuration") : config.path;
      return MakeError(ErrorCode::kConfig, where + ": entry[" + std::to_string(i) + "] " +
                                               QuoteForMessage(e.spiffe_id) + ": " + valid.error().message);
    }
    out.push_back(std::move(*valid));
  }
  return out;
}

Result<OsslPtr<X509>> LoadCaCert(const std::string& path) {
  auto cert = LoadCertFile(path);
  if (!cert && cert.error().code == ErrorCode::kNotFound) {
    return MakeError(ErrorCode::kConfig, "no CA certificate at " + path + " (run `mayfly-ca init` first)");
  }
  return cert;
}

// The CA certificates a state directory made by `mayfly-ca init` holds, as
// the store's first rotation records: both active.
Result<std::vector<CaCertRecord>> ImportInitialCa(const CaPaths& paths, int64_t now) {
  auto root = LoadCaCert(paths.root_cert);
  if (!root) return std::unexpected(root.error());
  auto inter = LoadCaCert(paths.intermediate_cert);
  if (!inter) return std::unexpected(inter.error());
  auto root_crl = ReadFile(paths.root_crl);
  if (!root_crl) return WithContext(root_crl.error(), "reading the root CRL");
  std::vector<CaCertRecord> records;
  for (auto [cert, role, key_file] : {std::tuple{root->get(), CaRole::kRoot, "root.key"},
                                      std::tuple{inter->get(), CaRole::kIntermediate, "intermediate.key"}}) {
    auto der = CertToDer(cert);
    if (!der) return std::unexpected(der.error());
    records.push_back(CaCertRecord{.role = role, .state = CaState::kActive, .key_id = SubjectKeyIdHex(cert),
                                   .issuer_key_id = AuthorityKeyIdHex(cert), .serial = CertSerialHex(cert),
                                   .der = std::move(*der), .key_file = key_file,
                                   .not_after = ToUnixSeconds(CertNotAfter(cert)), .created_at = now,
                                   .changed_at = now,
                                   .crl_pem = role == CaRole::kRoot ? *root_crl : std::string()});
  }
  return records;
}

}  // namespace

std::string HashToken(std::string_view token) {
  return Sha256Hex(token);
}

CaRuntime::CaRuntime(const CaConfig& config, const Clock& clock)
    : clock_(clock),
      trust_domain_(config.trust_domain),
      policy_(PolicyOf(config)),
      node_ttl_(config.issuance.node_ttl),
      config_(std::make_shared<const CaConfig>(config)),
      state_dir_(config.state_dir),
      passphrase_file_(PassphraseFilePath(config)),
      keys_in_store_(StoreOptionsFor(config).backend == StoreBackend::kPostgresql),
      issuer_options_{config.issuance.backdate, config.crl.url, config.ocsp.url},
      sign_limiter_(config.limits.sign_per_node_per_minute, clock),
      enroll_limiter_(config.limits.enroll_per_ip_per_minute, clock) {}

CaRuntime::~CaRuntime() {
  // What the detector learned since the last refresh outlives the daemon.
  if (store_) SaveLearnedAddresses();
  // The commit queue completes pending issuances and audit events; the
  // callbacks of the last ones may still audit (into the queue as it
  // drains). Only then do the observer and the audit log go.
  commit_queue_.reset();
  check_observer_.reset();
  audit_.reset();
}

Result<std::unique_ptr<CaRuntime>> CaRuntime::Load(const CaConfig& config, const Clock& clock) {
  const CaPaths paths = CaPaths::For(config.state_dir);
  std::unique_ptr<CaRuntime> rt(new CaRuntime(config, clock));

  // Keys, passphrase and the directory holding them must be the daemon's
  // alone: refuse to run with anything others could read.
  // (The CA keys themselves are checked below, from the store's records.)
  const std::pair<std::string, const char*> private_paths[] = {
      {paths.state_dir, "state_dir"}, {paths.admin_key, "admin key"},
      {rt->passphrase_file_, "key passphrase file"}, {paths.database, "database"}};
  // (With PostgreSQL there is no database file; the store checks its
  // password file itself. A missing ca.db passes CheckPrivate.)
  for (const auto& [path, what] : private_paths) {
    if (auto r = CheckPrivate(path, what); !r) return std::unexpected(r.error());
  }
  // Before OpenStore, which would create an empty SQLite database: no CA
  // here is "run `mayfly-ca init` first". (A PostgreSQL store holds the CA
  // itself; it is checked once open.)
  const StoreOptions store_options = StoreOptionsFor(config);
  if (store_options.backend == StoreBackend::kSqlite) {
    if (auto root = LoadCaCert(paths.root_cert); !root) return std::unexpected(root.error());
  }

  auto store = OpenStore(store_options);
  if (!store) {
    return WithContext(store.error(), "opening the store (" +
                                          (store_options.backend == StoreBackend::kSqlite
                                               ? paths.database
                                               : std::string(StoreBackendName(store_options.backend))) +
                                          ")");
  }
  rt->store_ = std::move(*store);
  auto records = rt->store_->ListCaCerts();
  if (!records) return std::unexpected(records.error());
  if (records->empty() && store_options.backend != StoreBackend::kSqlite) {
    return MakeError(ErrorCode::kConfig, "the " + std::string(StoreBackendName(store_options.backend)) +
                                             " store holds no CA (run `mayfly-ca init` once, with this [store])");
  }
  if (records->empty()) {
    const int64_t now = ToUnixSeconds(clock.Now());
    auto initial = ImportInitialCa(paths, now);
    if (!initial) return std::unexpected(initial.error());
    records = rt->store_->SaveCaCerts(
        std::move(*initial), AuditEvent{.time = now, .type = "ca_import", .actor = "mayfly-ca", .subject = "ca",
                                        .result = "ok", .detail = AuditDetail({{"from", paths.state_dir}})});
    if (!records) return WithContext(records.error(), "recording the CA certificates");
  }
  for (const CaCertRecord& r : *records) {
    if (r.key_file.empty() || !r.key_pem.empty()) continue;
    const std::string what = std::string(CaRoleName(r.role)) + " key";  // "root key", "intermediate key"
    if (auto c = CheckPrivate(paths.state_dir + "/" + r.key_file, what); !c) return std::unexpected(c.error());
  }
  auto view = BuildCaView(std::move(*records), paths.state_dir, rt->passphrase_file_, rt->issuer_options_, clock,
                          nullptr);
  if (!view) return std::unexpected(view.error());
  rt->view_ = std::move(*view);

  rt->commit_queue_ = std::make_unique<CommitQueue>(*rt->store_);
  rt->audit_ = std::make_unique<AuditLog>(*rt->commit_queue_, rt->metrics_);
  rt->check_observer_ = std::make_unique<ScopedIssuanceCheckObserver>(
      [audit = rt->audit_.get(), &metrics = rt->metrics_, &clock](const IssuanceCheckFailure& f) {
        metrics.CountIssuanceCheckFailure(f.kind);
        audit->Record(AuditEvent{.time = ToUnixSeconds(clock.Now()), .type = "issuance_check_failed",
                                 .actor = "mayfly-ca", .subject = f.subject,
                                 .result = std::string(ErrorCodeName(ErrorCode::kInternal)),
                                 .detail = AuditDetail({{"kind", f.kind}, {"field", f.field},
                                                        {"expected", f.expected}, {"found", f.found}})});
      });

  if (auto r = rt->SyncConfigEntries(config); !r) return std::unexpected(r.error());
  if (auto r = rt->revocations_.Rebuild(*rt->store_, ToUnixSeconds(clock.Now())); !r) {
    return std::unexpected(r.error());
  }
  // The detector's history and the first CRL are independent, and each
  // takes a few hundred ms at a million rows: read the one while signing
  // the other. (Declared after rt: an early return waits for it first.)
  std::future<Result<void>> anomaly_loaded;
  if (config.anomaly.enabled) {
    rt->anomaly_detector_ = std::make_unique<AnomalyDetector>(config.anomaly);
    anomaly_loaded = std::async(std::launch::async, [detector = rt->anomaly_detector_.get(),
                                                     store = rt->store_.get(), now = ToUnixSeconds(clock.Now())] {
      return detector->Load(*store, now);
    });
  }
  CaRuntime* self = rt.get();
  auto crl = CrlPublisher::Create(*rt->store_, [self] { return self->ca(); }, config.crl.next_update, clock,
                                  rt->metrics_);
  if (!crl) return std::unexpected(crl.error());
  rt->crl_ = std::move(*crl);
  if (anomaly_loaded.valid()) {
    if (auto r = anomaly_loaded.get(); !r) return std::unexpected(r.error());
  }
  auto ocsp = OcspResponder::Create(*rt, config.ocsp.validity, paths.state_dir, rt->passphrase_file_);
  if (!ocsp) return std::unexpected(ocsp.error());
  rt->ocsp_ = std::move(*ocsp);
  if (auto r = rt->EnsureJwtKey(); !r) return WithContext(r.error(), "the JWT signing key");
  return rt;
}

void CaRuntime::SaveLearnedAddresses() {
  if (!anomaly_detector_) return;
  // Written in a batch, off the request path: a crash forgets at most the
  // addresses learned since the last refresh.
  if (auto r = store_->AddNodeAddresses(anomaly_detector_->TakeNewAddresses()); !r) {
    spdlog::error("anomaly: recording source addresses: {}", r.error().ToString());
  }
}

std::string CaRuntime::MetricsText() const {
  std::string text = metrics_.PrometheusText();
  for (const StoreStat& stat : store_->Stats()) AppendMetric(text, stat.name, stat.type, stat.help, stat.value);
  return text;
}

std::shared_ptr<const CaView> CaRuntime::ca() const {
  std::lock_guard lock(view_mu_);
  return view_;
}

Result<void> CaRuntime::SyncConfigEntries(const CaConfig& config) {
  auto entries = ValidateConfigEntries(config, policy_);
  if (!entries) return std::unexpected(entries.error());
  if (auto r = store_->ReplaceConfigEntries(*entries); !r) return WithContext(r.error(), "storing config entries");
  if (auto r = entries_.Rebuild(*store_); !r) return r;
  audit_->Record(AuditEvent{.time = ToUnixSeconds(clock_.Now()), .type = "entry_sync", .actor = "config",
                            .subject = config.path, .result = "ok",
                            .detail = AuditDetail({{"entries", std::to_string(entries->size())}})});
  return Ok();
}

Result<void> CaRuntime::Reload(const CaConfig& config) {
  auto current = this->config();
  // Everything but what a reload applies, compared whole: a setting added
  // later ([ocsp], [store], ...) is covered without being listed here.
  CaConfig unapplied = config;
  unapplied.path = current->path;
  unapplied.entries = current->entries;
  unapplied.limits = current->limits;
  if (unapplied != *current) {
    spdlog::warn("reload: only [[entry]] and [limits] are applied; other changes need a restart");
  }
  if (auto r = SyncConfigEntries(config); !r) return r;
  sign_limiter_.SetRate(config.limits.sign_per_node_per_minute);
  enroll_limiter_.SetRate(config.limits.enroll_per_ip_per_minute);
  auto next = std::make_shared<CaConfig>(*current);
  next->entries = config.entries;
  next->limits = config.limits;
  std::lock_guard lock(config_mu_);
  config_ = std::move(next);
  return Ok();
}

Result<void> CaRuntime::RebuildCaches() {
  if (auto r = revocations_.Rebuild(*store_, ToUnixSeconds(clock_.Now())); !r) return r;
  return entries_.Rebuild(*store_);
}

Result<void> CaRuntime::Refresh() {
  if (auto r = RebuildCaches(); !r) return r;
  SaveLearnedAddresses();
  if (auto r = MaintainRotation(); !r) spdlog::error("automatic CA rotation: {}", r.error().ToString());
  return crl_->Regenerate();
}

void CaRuntime::AppliedOwnChange(const Result<void>& applied, std::string_view what) {
  if (applied) return;
  spdlog::error("{}: {}; the store follower rebuilds from the store", what, applied.error().ToString());
  follow_requested_.store(true);
}

Result<void> CaRuntime::FollowStoreChanges() {
  if (auto r = RebuildCaches(); !r) return r;
  const Result<bool> adopted = [&] {
    std::lock_guard lock(rotation_mu_);
    return CatchUpWithStore();
  }();
  if (!adopted) return std::unexpected(adopted.error());
  if (*adopted) return Ok();  // the new view re-signed the CRLs
  return crl_->Regenerate();
}

std::shared_ptr<const CaConfig> CaRuntime::config() const {
  std::lock_guard lock(config_mu_);
  return config_;
}

Result<IssuedServerCert> CaRuntime::IssueServerCertificate(std::vector<std::string> server_names) {
  if (server_names.empty()) return MakeError(ErrorCode::kInvalidArgument, "the server certificate needs a name");
  LeafSpec spec;
  for (const std::string& name : server_names) {
    if (auto ip = ParseIpAddress(name)) {
      spec.ips.push_back(std::move(*ip));
    } else if (auto dns = NormalizeDnsName(name)) {
      spec.dns.push_back(std::move(*dns));
    } else {
      return WithContext(dns.error(), "server_names");
    }
  }
  auto id = SpiffeId::FromParts(trust_domain_, "/mayfly/ca");
  if (!id) return std::unexpected(id.error());
  auto key = GenerateKey(KeyType::kEcdsaP256);
  if (!key) return std::unexpected(key.error());
  auto spki = PublicKeyOf(key->get());
  if (!spki) return std::unexpected(spki.error());
  spec.public_key = &*spki;
  spec.spiffe_id = id->ToString();
  spec.ttl = node_ttl_;
  const auto view = ca();
  auto issued = view->active->Issue(spec);
  if (!issued) {
    metrics_.CountIssue(IssueRoute::kServer, false);
    return WithContext(issued.error(), "issuing the server certificate");
  }
  CertRecord record{.serial = issued->serial, .spiffe_id = spec.spiffe_id, .kind = CertKind::kServer,
                    .issuer = view->active->id(), .not_before = ToUnixSeconds(issued->not_before),
                    .not_after = ToUnixSeconds(issued->not_after), .issued_at = ToUnixSeconds(clock_.Now()),
                    .der = issued->der};
  if (auto r = store_->InsertCertificates(std::span<const CertRecord>(&record, 1)); !r) {
    metrics_.CountIssue(IssueRoute::kServer, false);
    return WithContext(r.error(), "recording the server certificate");
  }
  metrics_.CountIssue(IssueRoute::kServer, true);
  audit_->Record(AuditEvent{.time = record.issued_at, .type = "issue", .actor = "mayfly-ca",
                            .subject = record.spiffe_id, .result = "ok",
                            .detail = AuditDetail({{"serial", record.serial}, {"kind", "server"},
                                                   {"not_after", FormatRfc3339(issued->not_after)}})});
  return IssuedServerCert{.cert_chain_pem = issued->Pem() + view->chain_pem, .key = std::move(*key),
                          .serial = issued->serial, .not_after = issued->not_after};
}

}  // namespace mayfly
