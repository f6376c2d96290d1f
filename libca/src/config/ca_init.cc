// Creating a new CA.
#include "mayfly/ca_init.h"

#include <openssl/rand.h>
#include <unistd.h>

#include <filesystem>
#include <vector>

#include "mayfly/ca_certs.h"
#include "mayfly/crl.h"
#include "mayfly/file_util.h"
#include "mayfly/identity.h"
#include "mayfly/issuer.h"
#include "mayfly/keys.h"
#include "mayfly/public_key.h"
#include "mayfly/store.h"
#include "mayfly/x509_util.h"

namespace mayfly {
namespace {

// Removes the files written so far unless Commit() is called.
class Rollback {
 public:
  ~Rollback() {
    if (committed_) return;
    for (auto it = created_.rbegin(); it != created_.rend(); ++it) ::unlink(it->c_str());
  }
  void Add(const std::string& path) { created_.push_back(path); }
  void Commit() { committed_ = true; }

 private:
  std::vector<std::string> created_;
  bool committed_ = false;
};

Result<std::string> LoadOrCreatePassphrase(const std::string& path, bool* generated, Rollback& rollback) {
  auto existing = ReadPassphraseFile(path);
  if (existing) return existing;
  if (existing.error().code != ErrorCode::kNotFound) {
    return std::unexpected(existing.error());
  }
  unsigned char raw[32];
  if (RAND_bytes(raw, sizeof raw) != 1) return OpensslError("generating a passphrase");
  std::string pass = HexEncode(std::string_view(reinterpret_cast<char*>(raw), sizeof raw));
  OPENSSL_cleanse(raw, sizeof raw);
  auto parent = std::filesystem::path(path).parent_path().string();
  if (!parent.empty()) {
    if (auto r = EnsureDirectory(parent, 0700); !r) return std::unexpected(r.error());
  }
  if (auto r = WriteFileAtomic(path, pass + "\n", 0600); !r) return std::unexpected(r.error());
  rollback.Add(path);
  *generated = true;
  return pass;
}

Result<void> WritePublic(const std::string& path, const std::string& pem, Rollback& rollback) {
  if (auto r = WriteFileAtomic(path, pem, 0644); !r) return r;
  rollback.Add(path);
  return Ok();
}

Result<void> WriteKey(const std::string& path, const EVP_PKEY* key, std::optional<std::string_view> pass,
                      Rollback& rollback) {
  if (auto r = SaveKeyFile(path, key, pass); !r) return r;
  rollback.Add(path);
  return Ok();
}

// The fingerprint of the active root among a store's CA records.
Result<std::string> ActiveRootFingerprint(const std::vector<CaCertRecord>& records) {
  for (const CaCertRecord& r : records) {
    if (r.role != CaRole::kRoot || r.state != CaState::kActive) continue;
    auto cert = CertFromDer(r.der);
    if (!cert) return WithContext(cert.error(), "the store's active root");
    return CertFingerprint(cert->get());
  }
  return MakeError(ErrorCode::kStore, "the store holds CA certificates but no active root");
}

// The records of a new CA kept in a shared store: its keys encrypted in
// key_pem, so every instance loads them from there.
Result<std::vector<CaCertRecord>> SharedCaRecords(const X509* root, const EVP_PKEY* root_key, const X509* inter,
                                                  const EVP_PKEY* inter_key, std::string_view pass,
                                                  const std::string& root_crl_pem, int64_t now) {
  std::vector<CaCertRecord> records;
  for (auto [cert, key, role] : {std::tuple{root, root_key, CaRole::kRoot},
                                 std::tuple{inter, inter_key, CaRole::kIntermediate}}) {
    auto der = CertToDer(cert);
    if (!der) return std::unexpected(der.error());
    auto key_pem = PrivateKeyToEncryptedPem(key, pass);
    if (!key_pem) return std::unexpected(key_pem.error());
    records.push_back(CaCertRecord{.role = role, .state = CaState::kActive, .key_id = SubjectKeyIdHex(cert),
                                   .issuer_key_id = AuthorityKeyIdHex(cert), .serial = CertSerialHex(cert),
                                   .der = std::move(*der), .key_pem = std::move(*key_pem),
                                   .not_after = ToUnixSeconds(CertNotAfter(cert)), .created_at = now,
                                   .changed_at = now,
                                   .crl_pem = role == CaRole::kRoot ? root_crl_pem : std::string()});
  }
  return records;
}

}  // namespace

Result<InitResult> InitCa(const CaConfig& config, const Clock& clock) {
  InitResult result;
  result.paths = CaPaths::For(config.state_dir);
  const CaPaths& paths = result.paths;
  const StoreOptions store_options = StoreOptionsFor(config);
  // SQLite: the CA is the state directory. A shared store: the CA is in the
  // database, and every instance has a state directory of its own.
  const bool shared = store_options.backend != StoreBackend::kSqlite;
  if (!shared) {
    for (const auto& existing : {paths.database, paths.root_cert, paths.root_key, paths.intermediate_key}) {
      if (::access(existing.c_str(), F_OK) == 0) {
        return MakeError(ErrorCode::kAlreadyExists,
                         "refusing to overwrite the CA in " + config.state_dir + " (" + existing +
                             " exists); remove the directory to start a new CA");
      }
    }
  }
  if (auto r = ValidateTrustDomain(config.trust_domain); !r) return std::unexpected(r.error());
  auto key_type = ParseKeyType(config.ca.key_type);
  if (!key_type) return WithContext(key_type.error(), "[ca] key_type");
  if (auto r = EnsureDirectory(config.state_dir, 0700); !r) return std::unexpected(r.error());
  Rollback rollback;
  auto opened = OpenStore(store_options);
  if (!opened) return WithContext(opened.error(), "opening the store");
  const std::unique_ptr<Store> store = std::move(*opened);
  if (!shared) {
    for (const char* suffix : {"", "-wal", "-shm"}) rollback.Add(paths.database + suffix);
  }
  auto existing = store->ListCaCerts();
  if (!existing) return std::unexpected(existing.error());
  if (!existing->empty()) {
    // Another instance (or an earlier run) made the CA: nothing to do.
    auto fingerprint = ActiveRootFingerprint(*existing);
    if (!fingerprint) return std::unexpected(fingerprint.error());
    result.root_fingerprint = *fingerprint;
    result.existed = true;
    return result;
  }

  result.passphrase_file = PassphraseFilePath(config);
  auto pass = LoadOrCreatePassphrase(result.passphrase_file, &result.passphrase_generated, rollback);
  if (!pass) return std::unexpected(pass.error());

  auto root_key = GenerateKey(*key_type);
  auto int_key = GenerateKey(*key_type);
  if (!root_key) return std::unexpected(root_key.error());
  if (!int_key) return std::unexpected(int_key.error());
  auto root = MakeRootCert(root_key->get(), config.trust_domain, config.ca.root_ttl, clock);
  if (!root) return std::unexpected(root.error());
  const NameConstraintsSpec constraints = NameConstraintsFor(config);
  auto inter = MakeIntermediateCert(int_key->get(), root->get(), root_key->get(), constraints,
                                    config.ca.intermediate_ttl, clock);
  if (!inter) return std::unexpected(inter.error());

  auto root_pem = CertToPem(root->get());
  auto inter_pem = CertToPem(inter->get());
  auto fingerprint = CertFingerprint(root->get());
  if (!root_pem || !inter_pem || !fingerprint) return MakeError(ErrorCode::kCrypto, "encoding the CA certificates");
  result.root_fingerprint = *fingerprint;
  for (auto r : {WritePublic(paths.root_cert, *root_pem, rollback),
                 WritePublic(paths.intermediate_cert, *inter_pem, rollback)}) {
    if (!r) return std::unexpected(r.error());
  }
  if (!shared) {
    for (auto r : {WriteKey(paths.root_key, root_key->get(), *pass, rollback),
                   WriteKey(paths.intermediate_key, int_key->get(), *pass, rollback)}) {
      if (!r) return std::unexpected(r.error());
    }
  }

  // The root CRL lives as long as the root: verifiers that check every CA in
  // a chain (nginx ssl_crl, HAProxy crl-file) need one for the root too.
  auto crl_number = store->NextCrlNumber();
  if (!crl_number) return std::unexpected(crl_number.error());
  TimePoint now = std::chrono::floor<Seconds>(clock.Now());
  auto root_crl = BuildCrl(root->get(), root_key->get(), {*crl_number, now, CertNotAfter(root->get()), {}});
  if (!root_crl) return std::unexpected(root_crl.error());
  if (auto r = WritePublic(paths.root_crl, root_crl->pem, rollback); !r) return std::unexpected(r.error());
  std::vector<CaCertRecord> shared_records;
  if (shared) {
    auto records = SharedCaRecords(root->get(), root_key->get(), inter->get(), int_key->get(), *pass,
                                   root_crl->pem, ToUnixSeconds(now));
    if (!records) return std::unexpected(records.error());
    shared_records = std::move(*records);
  }
  OPENSSL_cleanse(pass->data(), pass->size());

  // The first admin credential, issued like any leaf.
  std::string issuer_id = SubjectKeyIdHex(inter->get());
  auto issuer = Issuer::Create(std::move(*inter), std::move(*int_key), {config.issuance.backdate, config.crl.url, config.ocsp.url}, clock);
  if (!issuer) return std::unexpected(issuer.error());
  auto admin_key = GenerateKey(KeyType::kEcdsaP256);
  if (!admin_key) return std::unexpected(admin_key.error());
  auto admin_spki = PublicKeyOf(admin_key->get());
  auto admin_id = AdminSpiffeId(config.trust_domain, "admin");
  if (!admin_spki || !admin_id) return MakeError(ErrorCode::kInternal, "preparing the admin credential");
  auto admin = (*issuer)->Issue({&*admin_spki, KeyType::kEcdsaP256, admin_id->ToString(), {}, {},
                                 std::chrono::duration_cast<std::chrono::seconds>(kInitialAdminTtl)});
  if (!admin) return std::unexpected(admin.error());
  auto chain = admin->Pem() + *inter_pem;
  if (auto r = WritePublic(paths.admin_cert, chain, rollback); !r) return std::unexpected(r.error());
  if (auto r = WriteKey(paths.admin_key, admin_key->get(), std::nullopt, rollback); !r) return std::unexpected(r.error());

  AuditEvent event;
  event.time = ToUnixSeconds(now);
  event.type = "init";
  event.actor = "mayfly-ca init";
  event.subject = "spiffe://" + config.trust_domain;
  event.result = "ok";
  event.detail = "{\"root_fingerprint\":\"" + result.root_fingerprint + "\",\"admin_serial\":\"" + admin->serial + "\"}";
  // Shared: the CA records go first, with the init event, in one
  // transaction; if a concurrent init saved first, this one fails
  // (kConflict: a second active root) and records nothing.
  if (shared) {
    if (auto r = store->SaveCaCerts(std::move(shared_records), event); !r) {
      return WithContext(r.error(), "recording the CA");
    }
  } else if (auto r = store->AppendAudit(event); !r) {
    return std::unexpected(r.error());
  }

  CertRecord record;
  record.serial = admin->serial;
  record.spiffe_id = admin_id->ToString();
  record.kind = CertKind::kAdmin;
  record.issuer = issuer_id;
  record.not_before = ToUnixSeconds(admin->not_before);
  record.not_after = ToUnixSeconds(admin->not_after);
  record.issued_at = ToUnixSeconds(now);
  record.der = admin->der;
  if (auto r = store->InsertCertificates(std::span<const CertRecord>(&record, 1)); !r) {
    return std::unexpected(r.error());
  }
  // The first admin has every right; `admin create` makes narrower ones.
  const AdminRecord first{.name = "admin", .role = AdminRole::kAdmin, .created_at = ToUnixSeconds(now)};
  if (auto r = store->PutAdmin(first, {}, {}); !r && r.error().code != ErrorCode::kConflict) {
    return std::unexpected(r.error());
  }
  for (auto r : {store->SetMeta("trust_domain", config.trust_domain),
                 store->SetMeta("root_fingerprint", result.root_fingerprint),
                 store->SetMeta("active_intermediate", issuer_id)}) {
    if (!r) return std::unexpected(r.error());
  }
  rollback.Commit();
  return result;
}

}  // namespace mayfly
