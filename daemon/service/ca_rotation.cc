// CA rotation: prepare, activate, retire, rotate --now, and the automatic
// schedule ([ca] rotate_before). docs/rotation.md explains the states.
#include <openssl/crypto.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include "ca_runtime.h"
#include "mayfly/ca_certs.h"
#include "mayfly/ca_layout.h"
#include "mayfly/crl.h"
#include "mayfly/file_util.h"
#include "mayfly/jwt_svid.h"
#include "mayfly/keys.h"
#include "mayfly/public_key.h"
#include "mayfly/x509_util.h"

namespace mayfly {
namespace {

constexpr const char* kAutomaticActor = "mayfly-ca (rotate_before)";

Error Conflict(std::string message) { return Error{ErrorCode::kConflict, std::move(message)}; }

// A CA certificate and its private key, loaded for signing.
struct SigningCa {
  OsslPtr<X509> cert;
  OsslPtr<EVP_PKEY> key;
};

Result<SigningCa> LoadSigningCa(const CaCertRecord& record, const std::string& state_dir,
                                const Passphrase& passphrase) {
  auto cert = CertFromDer(record.der);
  if (!cert) return WithContext(cert.error(), "CA certificate " + record.serial);
  auto key = LoadCaKey(record, state_dir, passphrase);
  if (!key) return std::unexpected(key.error());
  return SigningCa{std::move(*cert), std::move(*key)};
}

// The record of a new CA certificate; its key's place is filled in by KeyFiles.
CaCertRecord RecordOf(const X509* cert, std::string der, CaRole role, int64_t now) {
  return CaCertRecord{.role = role, .state = CaState::kPrepared, .key_id = SubjectKeyIdHex(cert),
                      .issuer_key_id = AuthorityKeyIdHex(cert), .serial = CertSerialHex(cert),
                      .der = std::move(der),
                      .not_after = ToUnixSeconds(CertNotAfter(cert)), .created_at = now, .changed_at = now};
}

// Where a step's new keys go: encrypted files in the state directory, or
// with keys_in_store the record itself (key_pem), so that every instance on
// a shared database can load them. Files written by a step are removed
// again unless the step is saved.
class KeyFiles {
 public:
  KeyFiles(std::string dir, bool keys_in_store) : dir_(std::move(dir)), in_store_(keys_in_store) {}
  ~KeyFiles() {
    if (kept_) return;
    for (const auto& name : written_) ::unlink((dir_ + "/" + name).c_str());
  }
  KeyFiles(const KeyFiles&) = delete;
  KeyFiles& operator=(const KeyFiles&) = delete;

  // Saves `key` encrypted, in record.key_pem or as the file
  // "<role>-<first 16 hex of key_id>.key" named by record.key_file.
  Result<void> Save(CaCertRecord& record, const EVP_PKEY* key, const Passphrase& passphrase) {
    if (in_store_) {
      auto pem = PrivateKeyToEncryptedPem(key, passphrase.get());
      if (!pem) return std::unexpected(pem.error());
      record.key_pem = std::move(*pem);
      return Ok();
    }
    std::string name = std::string(CaRoleName(record.role)) + "-" + record.key_id.substr(0, 16) + ".key";
    if (auto r = SaveKeyFile(dir_ + "/" + name, key, passphrase.get()); !r) return r;
    written_.push_back(name);
    record.key_file = std::move(name);
    return Ok();
  }
  void Keep() { kept_ = true; }

 private:
  std::string dir_;
  bool in_store_;
  std::vector<std::string> written_;
  bool kept_ = false;
};

// A new CA certificate of `role` with a fresh key, made by `make`, recorded as
// prepared.
template <typename Make>
Result<std::pair<CaCertRecord, SigningCa>> NewCa(CaRole role, KeyType key_type, KeyFiles& files,
                                                 const Passphrase& passphrase, int64_t now, Make&& make) {
  auto key = GenerateKey(key_type);
  if (!key) return std::unexpected(key.error());
  Result<OsslPtr<X509>> cert = make(key->get());
  if (!cert) return std::unexpected(cert.error());
  auto der = CertToDer(cert->get());
  if (!der) return std::unexpected(der.error());
  CaCertRecord record = RecordOf(cert->get(), std::move(*der), role, now);
  if (auto r = files.Save(record, key->get(), passphrase); !r) return std::unexpected(r.error());
  return std::pair{std::move(record), SigningCa{std::move(*cert), std::move(*key)}};
}

// A new JWT-SVID signing key in `state`, made and rotated with
// `intermediate`: it lives as long as that intermediate.
Result<CaCertRecord> NewJwtKey(const CaCertRecord& intermediate, CaState state, KeyFiles& files,
                               const Passphrase& passphrase, int64_t now) {
  auto key = GenerateJwtKey();
  if (!key) return std::unexpected(key.error());
  auto kid = JwtKeyId(key->get());
  if (!kid) return std::unexpected(kid.error());
  auto pub = PublicKeyOf(key->get());
  if (!pub) return std::unexpected(pub.error());
  CaCertRecord record{.role = CaRole::kJwt, .state = state, .key_id = *kid, .issuer_key_id = intermediate.key_id,
                      .serial = "jwt-" + *kid, .der = std::move(pub->spki_der), .not_after = intermediate.not_after,
                      .created_at = now, .changed_at = now};
  if (auto r = files.Save(record, key->get(), passphrase); !r) return std::unexpected(r.error());
  return record;
}

// The JWT key of `role` made with the intermediate `key_id` in `state`, or null.
const CaCertRecord* JwtKeyOf(const CaView& view, const std::string& intermediate_key_id, CaState state) {
  for (const CaCertRecord& r : view.records) {
    if (r.role == CaRole::kJwt && r.issuer_key_id == intermediate_key_id && r.state == state) return &r;
  }
  return nullptr;
}

CaCertRecord WithState(CaCertRecord record, CaState state, int64_t now) {
  record.state = state;
  record.changed_at = now;
  return record;
}

std::string Describe(const CaCertRecord& r) {
  return std::string(CaRoleName(r.role)) + " " + r.serial + " (key " + r.key_id.substr(0, 16) + ")";
}

}  // namespace

void CaRuntime::SetOnCaChange(std::function<void()> callback) {
  std::lock_guard lock(on_change_mu_);
  on_change_ = std::move(callback);
}

Result<std::map<std::string, int64_t>> CaRuntime::LiveLeaves() {
  return store_->CountLiveByIssuer(ToUnixSeconds(clock_.Now()));
}

Result<void> CaRuntime::SaveAndSwap(std::vector<CaCertRecord> changed, AuditEvent event) {
  auto saved = store_->SaveCaCerts(std::move(changed), event);
  if (!saved) return WithContext(saved.error(), "saving the rotation step");
  AuditLog::LogLine(event);
  auto records = store_->ListCaCerts();
  if (!records) return std::unexpected(records.error());
  return AdoptCaRecords(std::move(*records));
}

Result<bool> CaRuntime::CatchUpWithStore() {
  auto records = store_->ListCaCerts();
  if (!records) return WithContext(records.error(), "reading the CA certificates");
  if (*records == ca()->records) return false;
  spdlog::info("the CA certificates changed in the store (another instance's rotation step); following");
  if (auto r = AdoptCaRecords(std::move(*records)); !r) return std::unexpected(r.error());
  return true;
}

Result<void> CaRuntime::AdoptCaRecords(std::vector<CaCertRecord> records) {
  auto view = BuildCaView(std::move(records), state_dir_, passphrase_file_, issuer_options_, clock_, ca().get());
  if (!view) return WithContext(view.error(), "loading the CA certificates");
  const std::string bundle = (*view)->bundle_pem;
  {
    std::lock_guard lock(view_mu_);
    view_ = std::move(*view);
  }
  if (auto r = crl_->Regenerate(); !r) spdlog::error("{}", r.error().ToString());
  // root.pem is the trust bundle operators and the admin CLI read.
  const std::string root_pem = CaPaths::For(state_dir_).root_cert;
  if (ReadFile(root_pem).value_or("") != bundle) {
    if (auto r = WriteFileAtomic(root_pem, bundle, 0644); !r) spdlog::error("updating {}: {}", root_pem, r.error().message);
  }
  std::function<void()> callback;
  {
    std::lock_guard lock(on_change_mu_);
    callback = on_change_;
  }
  if (callback) callback();
  return Ok();
}

Result<std::string> CaRuntime::PrepareCa(bool root, const std::string& actor) {
  std::lock_guard lock(rotation_mu_);
  if (auto r = CatchUpWithStore(); !r) return std::unexpected(r.error());
  return PrepareLocked(root, actor);
}

Result<std::string> CaRuntime::ActivateCa(const std::string& actor) {
  std::lock_guard lock(rotation_mu_);
  if (auto r = CatchUpWithStore(); !r) return std::unexpected(r.error());
  return ActivateLocked(actor);
}

Result<std::string> CaRuntime::RetireCa(const std::string& actor) {
  std::lock_guard lock(rotation_mu_);
  if (auto r = CatchUpWithStore(); !r) return std::unexpected(r.error());
  return RetireLocked(actor, /*quiet=*/false);
}

Result<std::string> CaRuntime::PrepareLocked(bool root, const std::string& actor) {
  const auto view = ca();
  if (const CaCertRecord* p = view->Newest(CaRole::kIntermediate, CaState::kPrepared)) {
    return std::unexpected(
        Conflict(Describe(*p) + " is already prepared; activate it (mayfly-ca ca activate) before preparing another"));
  }
  const auto config = this->config();
  auto key_type = ParseKeyType(config->ca.key_type);
  if (!key_type) return WithContext(key_type.error(), "[ca] key_type");
  auto passphrase = Passphrase::Read(passphrase_file_);
  if (!passphrase) return std::unexpected(passphrase.error());
  auto active_root = LoadSigningCa(*view->Active(CaRole::kRoot), state_dir_, *passphrase);
  if (!active_root) return std::unexpected(active_root.error());
  const int64_t now = ToUnixSeconds(clock_.Now());
  const NameConstraintsSpec constraints = NameConstraintsFor(*config);
  KeyFiles files(state_dir_, keys_in_store_);
  std::vector<CaCertRecord> records;

  SigningCa* parent = &*active_root;
  std::optional<SigningCa> new_root;
  if (root) {
    auto made = NewCa(CaRole::kRoot, *key_type, files, *passphrase, now, [&](const EVP_PKEY* key) {
      return MakeRootCert(key, trust_domain_, config->ca.root_ttl, clock_);
    });
    if (!made) return WithContext(made.error(), "making the new root");
    auto number = store_->NextCrlNumber();
    if (!number) return std::unexpected(number.error());
    const TimePoint at = FromUnixSeconds(now);
    auto crl = BuildCrl(made->second.cert.get(), made->second.key.get(),
                        {*number, at, CertNotAfter(made->second.cert.get()), {}});
    if (!crl) return WithContext(crl.error(), "signing the new root's CRL");
    made->first.crl_pem = crl->pem;
    auto cross = MakeCrossCert(made->second.cert.get(), active_root->cert.get(), active_root->key.get(),
                               constraints, clock_);
    if (!cross) return WithContext(cross.error(), "cross-certifying the new root");
    auto cross_der = CertToDer(cross->get());
    if (!cross_der) return std::unexpected(cross_der.error());
    records.push_back(std::move(made->first));
    records.push_back(RecordOf(cross->get(), std::move(*cross_der), CaRole::kCross, now));
    new_root = std::move(made->second);
    parent = &*new_root;
  }
  auto inter = NewCa(CaRole::kIntermediate, *key_type, files, *passphrase, now, [&](const EVP_PKEY* key) {
    return MakeIntermediateCert(key, parent->cert.get(), parent->key.get(), constraints,
                                config->ca.intermediate_ttl, clock_);
  });
  if (!inter) return WithContext(inter.error(), "making the new intermediate");
  auto jwt = NewJwtKey(inter->first, CaState::kPrepared, files, *passphrase, now);
  if (!jwt) return WithContext(jwt.error(), "making the new JWT signing key");
  const std::string summary = "prepared " + Describe(inter->first) + (root ? " under the new " + Describe(records[0]) : "") +
                              ", valid until " + FormatRfc3339(FromUnixSeconds(inter->first.not_after));
  AuditEvent event{.time = now, .type = "ca_prepare", .actor = actor, .subject = "intermediate " + inter->first.serial,
                   .result = "ok",
                   .detail = AuditDetail({{"serial", inter->first.serial},
                                          {"root", root ? records[0].serial : std::string()},
                                          {"jwt_kid", jwt->key_id},
                                          {"not_after", FormatRfc3339(FromUnixSeconds(inter->first.not_after))}})};
  records.push_back(std::move(inter->first));
  records.push_back(std::move(*jwt));
  if (auto r = SaveAndSwap(std::move(records), std::move(event)); !r) return std::unexpected(r.error());
  files.Keep();
  return summary;
}

Result<std::string> CaRuntime::ActivateLocked(const std::string& actor) {
  const auto view = ca();
  const CaCertRecord* next = view->Newest(CaRole::kIntermediate, CaState::kPrepared);
  if (next == nullptr) {
    return std::unexpected(Conflict("no intermediate is prepared; run `mayfly-ca ca prepare` first"));
  }
  const int64_t now = ToUnixSeconds(clock_.Now());
  std::vector<CaCertRecord> changed{WithState(*next, CaState::kActive, now)};
  if (const CaCertRecord* old = view->Active(CaRole::kIntermediate)) {
    changed.push_back(WithState(*old, CaState::kRetiring, now));
  }
  std::string summary = "activated " + Describe(*next);
  // Its JWT key signs from now on; the one it replaces stays in the bundle
  // until the tokens it signed have expired (RetireLocked).
  KeyFiles files(state_dir_, keys_in_store_);
  if (const CaCertRecord* jwt = JwtKeyOf(*view, next->key_id, CaState::kPrepared)) {
    changed.push_back(WithState(*jwt, CaState::kActive, now));
  } else {
    // Prepared before JWT keys existed: it gets one now.
    auto passphrase = Passphrase::Read(passphrase_file_);
    if (!passphrase) return std::unexpected(passphrase.error());
    auto made = NewJwtKey(*next, CaState::kActive, files, *passphrase, now);
    if (!made) return WithContext(made.error(), "making the JWT signing key");
    changed.push_back(std::move(*made));
  }
  if (const CaCertRecord* old_jwt = view->Active(CaRole::kJwt)) {
    changed.push_back(WithState(*old_jwt, CaState::kRetiring, now));
  }
  for (const CaCertRecord& r : view->records) {
    // A root prepared with this intermediate takes over with it.
    if (r.role == CaRole::kRoot && r.key_id == next->issuer_key_id && r.state == CaState::kPrepared) {
      changed.push_back(WithState(r, CaState::kActive, now));
      if (const CaCertRecord* old_root = view->Active(CaRole::kRoot)) {
        changed.push_back(WithState(*old_root, CaState::kRetiring, now));
      }
      summary += " and " + Describe(r);
    }
    if (r.role == CaRole::kCross && r.key_id == next->issuer_key_id && r.state == CaState::kPrepared) {
      changed.push_back(WithState(r, CaState::kActive, now));
    }
  }
  AuditEvent event{.time = now, .type = "ca_activate", .actor = actor, .subject = "intermediate " + next->serial,
                   .result = "ok", .detail = AuditDetail({{"serial", next->serial}})};
  if (auto r = SaveAndSwap(std::move(changed), std::move(event)); !r) return std::unexpected(r.error());
  files.Keep();
  return summary;
}

Result<std::string> CaRuntime::RetireLocked(const std::string& actor, bool quiet) {
  const auto view = ca();
  auto live = LiveLeaves();
  if (!live) return std::unexpected(live.error());
  const int64_t now = ToUnixSeconds(clock_.Now());
  std::vector<CaCertRecord> changed;
  std::set<std::string> retired_keys;
  std::string blockers;
  for (const CaCertRecord& r : view->records) {
    if (r.role != CaRole::kIntermediate || r.state != CaState::kRetiring) continue;
    const int64_t n = live->contains(r.key_id) ? live->at(r.key_id) : 0;
    if (n == 0 || r.not_after <= now) {
      changed.push_back(WithState(r, CaState::kRetired, now));
      retired_keys.insert(r.key_id);
    } else {
      blockers += "; " + Describe(r) + " still has " + std::to_string(n) + " unexpired certificate(s)";
    }
  }
  // A JWT key stopped signing when it started retiring: once the longest
  // token it could have signed has expired, no relying party needs it.
  const int64_t jwt_max_ttl = config()->jwt.max_ttl.count();
  for (const CaCertRecord& r : view->records) {
    if (r.role != CaRole::kJwt || r.state != CaState::kRetiring) continue;
    if (r.changed_at + jwt_max_ttl <= now) {
      changed.push_back(WithState(r, CaState::kRetired, now));
    } else {
      blockers += "; " + Describe(r) + " may have signed tokens valid until " +
                  FormatRfc3339(FromUnixSeconds(r.changed_at + jwt_max_ttl));
    }
  }
  for (const CaCertRecord& root : view->records) {
    if (root.role != CaRole::kRoot || root.state != CaState::kRetiring) continue;
    const CaCertRecord* depends = nullptr;
    for (const CaCertRecord& r : view->records) {
      if (r.role == CaRole::kIntermediate && r.issuer_key_id == root.key_id && IsPublished(r.state) &&
          !retired_keys.contains(r.key_id)) {
        depends = &r;
      }
    }
    if (depends != nullptr) {
      blockers += "; " + Describe(root) + " still anchors " + Describe(*depends);
      continue;
    }
    changed.push_back(WithState(root, CaState::kRetired, now));
    for (const CaCertRecord& cross : view->records) {
      if (cross.role == CaRole::kCross && cross.issuer_key_id == root.key_id && cross.state != CaState::kRetired) {
        changed.push_back(WithState(cross, CaState::kRetired, now));
      }
    }
  }
  if (changed.empty()) {
    if (quiet) return std::string();
    return std::unexpected(Conflict(blockers.empty() ? "nothing is retiring"
                                                     : "nothing can be retired yet" + blockers));
  }
  std::string summary = "retired";
  std::string serials;
  for (const CaCertRecord& r : changed) {
    summary += " " + Describe(r) + ",";
    serials += (serials.empty() ? "" : " ") + r.serial;
  }
  summary.pop_back();
  AuditEvent event{.time = now, .type = "ca_retire", .actor = actor, .subject = "ca", .result = "ok",
                   .detail = AuditDetail({{"serials", serials}})};
  if (auto r = SaveAndSwap(std::move(changed), std::move(event)); !r) return std::unexpected(r.error());
  return summary + blockers;
}

Result<std::string> CaRuntime::RotateCaNow(bool revoke_old, const std::string& actor) {
  std::lock_guard lock(rotation_mu_);
  if (auto r = CatchUpWithStore(); !r) return std::unexpected(r.error());
  const auto view = ca();
  const auto config = this->config();
  auto key_type = ParseKeyType(config->ca.key_type);
  if (!key_type) return WithContext(key_type.error(), "[ca] key_type");
  auto passphrase = Passphrase::Read(passphrase_file_);
  if (!passphrase) return std::unexpected(passphrase.error());
  const CaCertRecord& root_record = *view->Active(CaRole::kRoot);
  auto root = LoadSigningCa(root_record, state_dir_, *passphrase);
  if (!root) return std::unexpected(root.error());
  const int64_t now = ToUnixSeconds(clock_.Now());
  KeyFiles files(state_dir_, keys_in_store_);
  auto fresh = NewCa(CaRole::kIntermediate, *key_type, files, *passphrase, now, [&](const EVP_PKEY* key) {
    return MakeIntermediateCert(key, root->cert.get(), root->key.get(), NameConstraintsFor(*config),
                                config->ca.intermediate_ttl, clock_);
  });
  if (!fresh) return WithContext(fresh.error(), "making the new intermediate");
  auto jwt = NewJwtKey(fresh->first, CaState::kActive, files, *passphrase, now);
  if (!jwt) return WithContext(jwt.error(), "making the new JWT signing key");
  const CaCertRecord& old = *view->Active(CaRole::kIntermediate);
  std::vector<CaCertRecord> changed{WithState(std::move(fresh->first), CaState::kActive, now),
                                    WithState(old, revoke_old ? CaState::kRevoked : CaState::kRetiring, now),
                                    std::move(*jwt)};
  // After a compromise the old JWT key leaves the bundle at once: tokens it
  // signed stop validating. Otherwise it retires like the intermediate.
  if (const CaCertRecord* old_jwt = view->Active(CaRole::kJwt)) {
    changed.push_back(WithState(*old_jwt, revoke_old ? CaState::kRetired : CaState::kRetiring, now));
  }
  // A prepared intermediate was made before the incident: never activate it
  // (nor its JWT key).
  for (const CaCertRecord& r : view->records) {
    if ((r.role == CaRole::kIntermediate || r.role == CaRole::kJwt) && r.state == CaState::kPrepared) {
      changed.push_back(WithState(r, CaState::kRetired, now));
    }
  }
  if (revoke_old) {
    // The root's CRL lists every intermediate of it revoked so far.
    CrlSpec spec{.this_update = FromUnixSeconds(now), .next_update = FromUnixSeconds(root_record.not_after)};
    for (const CaCertRecord& r : view->records) {
      const bool revoked = (r.role == CaRole::kIntermediate && r.state == CaState::kRevoked) || &r == &old;
      if (revoked && r.issuer_key_id == root_record.key_id) {
        spec.revoked.push_back(CrlEntry{.serial = r.serial,
                                        .revoked_at = FromUnixSeconds(&r == &old ? now : r.changed_at),
                                        .reason = RevocationReason::kCaCompromise});
      }
    }
    auto number = store_->NextCrlNumber();
    if (!number) return std::unexpected(number.error());
    spec.number = *number;
    auto crl = BuildCrl(root->cert.get(), root->key.get(), spec);
    if (!crl) return WithContext(crl.error(), "signing the root CRL");
    CaCertRecord updated_root = root_record;
    updated_root.crl_pem = crl->pem;
    changed.push_back(std::move(updated_root));
  }
  const std::string summary = "activated " + Describe(changed[0]) + "; " + Describe(old) +
                              (revoke_old ? " is revoked at the root CRL" : " is retiring");
  AuditEvent event{.time = now, .type = "ca_rotate", .actor = actor, .subject = "intermediate " + changed[0].serial,
                   .result = "ok",
                   .detail = AuditDetail({{"serial", changed[0].serial}, {"old_serial", old.serial},
                                          {"revoke_old", revoke_old ? "true" : "false"}})};
  if (auto r = SaveAndSwap(std::move(changed), std::move(event)); !r) return std::unexpected(r.error());
  files.Keep();
  return summary;
}

Result<void> CaRuntime::EnsureJwtKey() {
  // Every start after the first: the view already has one, no store read.
  if (ca()->Active(CaRole::kJwt) != nullptr) return Ok();
  std::lock_guard lock(rotation_mu_);
  if (auto r = CatchUpWithStore(); !r) return std::unexpected(r.error());
  const auto view = ca();
  if (view->Active(CaRole::kJwt) != nullptr) return Ok();
  auto passphrase = Passphrase::Read(passphrase_file_);
  if (!passphrase) return std::unexpected(passphrase.error());
  const int64_t now = ToUnixSeconds(clock_.Now());
  KeyFiles files(state_dir_, keys_in_store_);
  auto jwt = NewJwtKey(*view->Active(CaRole::kIntermediate), CaState::kActive, files, *passphrase, now);
  if (!jwt) return WithContext(jwt.error(), "making the JWT signing key");
  AuditEvent event{.time = now, .type = "jwt_key_create", .actor = "mayfly-ca", .subject = "jwt " + jwt->key_id,
                   .result = "ok", .detail = AuditDetail({{"kid", jwt->key_id}})};
  if (auto r = SaveAndSwap({std::move(*jwt)}, std::move(event)); !r) {
    // Another instance on the same store made one at the same moment.
    if (r.error().code != ErrorCode::kConflict) return r;
    if (auto caught_up = CatchUpWithStore(); !caught_up) return std::unexpected(caught_up.error());
  }
  files.Keep();
  return Ok();
}

Result<void> CaRuntime::MaintainRotation() {
  std::lock_guard lock(rotation_mu_);
  const auto config = this->config();
  if (!config->ca.auto_rotate) return Ok();
  if (auto r = CatchUpWithStore(); !r) return std::unexpected(r.error());
  const Duration before = config->ca.rotate_before;
  const auto view = ca();
  const CaCertRecord* active = view->Active(CaRole::kIntermediate);
  const CaCertRecord* prepared = view->Newest(CaRole::kIntermediate, CaState::kPrepared);
  const Duration left = std::chrono::duration_cast<Duration>(FromUnixSeconds(active->not_after) - clock_.Now());
  const CaCertRecord* active_root = view->Active(CaRole::kRoot);
  // A new intermediate cannot outlive its root: rotating it would only make
  // another one as short-lived, at every refresh. The root must rotate.
  const Duration root_left =
      std::chrono::duration_cast<Duration>(FromUnixSeconds(active_root->not_after) - clock_.Now());
  if (root_left < before) {
    spdlog::warn("the active root expires at {}, within [ca] rotate_before: rotate the root (mayfly-ca ca prepare "
                 "--root, then ca activate); automatic intermediate rotation is paused",
                 FormatRfc3339(FromUnixSeconds(active_root->not_after)));
    return Ok();
  }
  Result<std::string> step = std::string();
  if (prepared == nullptr && left < before) {
    step = PrepareLocked(false, kAutomaticActor);
  } else if (prepared != nullptr && prepared->issuer_key_id == active_root->key_id && left < before / 2) {
    // Root rotations are activated by an operator only.
    step = ActivateLocked(kAutomaticActor);
  } else {
    step = RetireLocked(kAutomaticActor, /*quiet=*/true);
  }
  if (!step) return std::unexpected(step.error());
  if (!step->empty()) spdlog::info("automatic CA rotation: {}", *step);
  return Ok();
}

}  // namespace mayfly
