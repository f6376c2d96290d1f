// Loading a CA from its state directory and keeping its runtime state fresh.
#include "ca_runtime.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <spdlog/spdlog.h>

#include "mayfly/ca_layout.h"
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
                       .max_ttl = e.ttl ? e.ttl->count() : 0, .source = "config"};
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

}  // namespace

std::string HashToken(std::string_view token) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(token.data()), token.size(), digest);
  return HexEncode(std::string_view(reinterpret_cast<const char*>(digest), sizeof(digest)));
}

CaRuntime::CaRuntime(const CaConfig& config, const Clock& clock)
    : clock_(clock),
      trust_domain_(config.trust_domain),
      policy_(PolicyOf(config)),
      node_ttl_(config.issuance.node_ttl),
      config_(std::make_shared<const CaConfig>(config)),
      sign_limiter_(config.limits.sign_per_node_per_minute, clock),
      enroll_limiter_(config.limits.enroll_per_ip_per_minute, clock) {}

CaRuntime::~CaRuntime() {
  // Completes pending issuances (their callbacks audit), then the audit log.
  commit_queue_.reset();
  audit_.reset();
}

Result<std::unique_ptr<CaRuntime>> CaRuntime::Load(const CaConfig& config, const Clock& clock) {
  const CaPaths paths = CaPaths::For(config.state_dir);
  std::unique_ptr<CaRuntime> rt(new CaRuntime(config, clock));

  // Keys, passphrase and the directory holding them must be the daemon's
  // alone: refuse to run with anything others could read.
  const std::pair<std::string, const char*> private_paths[] = {
      {paths.state_dir, "state_dir"},         {paths.intermediate_key, "intermediate key"},
      {paths.root_key, "root key"},           {paths.admin_key, "admin key"},
      {PassphraseFilePath(config), "key passphrase file"}, {paths.database, "database"}};
  for (const auto& [path, what] : private_paths) {
    if (auto r = CheckPrivate(path, what); !r) return std::unexpected(r.error());
  }
  auto root = LoadCaCert(paths.root_cert);
  if (!root) return std::unexpected(root.error());
  auto inter = LoadCaCert(paths.intermediate_cert);
  if (!inter) return std::unexpected(inter.error());
  auto passphrase = ReadPassphraseFile(PassphraseFilePath(config));
  if (!passphrase) return WithContext(passphrase.error(), "reading the CA key passphrase");
  auto key = LoadKeyFile(paths.intermediate_key, *passphrase);
  OPENSSL_cleanse(passphrase->data(), passphrase->size());
  if (!key) return WithContext(key.error(), "loading the intermediate key " + paths.intermediate_key);
  if (!KeysMatch(X509_get0_pubkey(inter->get()), key->get())) {
    return MakeError(ErrorCode::kConfig, paths.intermediate_key + " does not match " + paths.intermediate_cert);
  }
  auto root_pem = CertToPem(root->get());
  auto chain_pem = CertToPem(inter->get());
  auto fingerprint = CertFingerprint(root->get());
  if (!root_pem || !chain_pem || !fingerprint) return MakeError(ErrorCode::kCrypto, "encoding the CA certificates");
  rt->root_pem_ = std::move(*root_pem);
  rt->chain_pem_ = std::move(*chain_pem);
  rt->root_fingerprint_ = std::move(*fingerprint);
  auto root_crl = ReadFile(paths.root_crl);
  if (!root_crl) return WithContext(root_crl.error(), "reading the root CRL");

  auto store = Store::Open(paths.database);
  if (!store) return WithContext(store.error(), "opening " + paths.database);
  rt->store_ = std::move(*store);
  auto issuer = Issuer::Create(std::move(*inter), std::move(*key), {config.issuance.backdate, config.crl.url}, clock);
  if (!issuer) return WithContext(issuer.error(), "preparing the issuer");
  rt->issuer_ = std::move(*issuer);
  rt->audit_ = std::make_unique<AuditLog>(*rt->store_, rt->metrics_);
  rt->commit_queue_ = std::make_unique<CommitQueue>(*rt->store_);

  if (auto r = rt->SyncConfigEntries(config); !r) return std::unexpected(r.error());
  if (auto r = rt->revocations_.Rebuild(*rt->store_, ToUnixSeconds(clock.Now())); !r) {
    return std::unexpected(r.error());
  }
  auto crl = CrlPublisher::Create(*rt->store_, *rt->issuer_, std::move(*root_crl), config.crl.next_update, clock,
                                  rt->metrics_);
  if (!crl) return std::unexpected(crl.error());
  rt->crl_ = std::move(*crl);
  return rt;
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
  if (config.trust_domain != current->trust_domain || config.state_dir != current->state_dir ||
      config.listen != current->listen || config.ca != current->ca || config.issuance != current->issuance ||
      config.crl != current->crl || config.tls != current->tls || config.server_names != current->server_names) {
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

Result<void> CaRuntime::Refresh() {
  if (auto r = revocations_.Rebuild(*store_, ToUnixSeconds(clock_.Now())); !r) return r;
  if (auto r = entries_.Rebuild(*store_); !r) return r;
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
  auto issued = issuer_->Issue(spec);
  if (!issued) {
    metrics_.CountIssue(IssueRoute::kServer, false);
    return WithContext(issued.error(), "issuing the server certificate");
  }
  CertRecord record{.serial = issued->serial, .spiffe_id = spec.spiffe_id, .kind = CertKind::kServer,
                    .issuer = issuer_->id(), .not_before = ToUnixSeconds(issued->not_before),
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
  return IssuedServerCert{.cert_chain_pem = issued->Pem() + chain_pem_, .key = std::move(*key),
                          .serial = issued->serial, .not_after = issued->not_after};
}

}  // namespace mayfly
