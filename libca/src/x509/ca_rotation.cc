// The CA rotation state machine: prepare, activate, retire, rotate --now,
// the JWT signing key and the automatic schedule ([ca] rotate_before).
// docs/rotation.md explains the states.
#include "mayfly/ca_rotation.h"

#include <unistd.h>

#include <optional>
#include <set>

#include "mayfly/crl.h"
#include "mayfly/jwt_svid.h"
#include "mayfly/keys.h"
#include "mayfly/public_key.h"
#include "mayfly/x509_util.h"

namespace mayfly {
namespace {

// The names below are distinct from other x509 sources' file-local ones:
// unity builds compile several sources as one.

Error RotationConflict(std::string message) { return Error{ErrorCode::kConflict, std::move(message)}; }

// A CA certificate and its private key, loaded for signing.
struct RotationSigner {
  OsslPtr<X509> cert;
  OsslPtr<EVP_PKEY> key;
};

Result<RotationSigner> LoadRotationSigner(const CaCertRecord& record, const std::string& state_dir,
                                          const Passphrase& passphrase) {
  auto cert = CertFromDer(record.der);
  if (!cert) return WithContext(cert.error(), "CA certificate " + record.serial);
  auto key = LoadCaKey(record, state_dir, passphrase);
  if (!key) return std::unexpected(key.error());
  return RotationSigner{std::move(*cert), std::move(*key)};
}

// The record of a new CA certificate; its key's place is filled in by KeyFiles.
CaCertRecord RotationRecordOf(const X509* cert, std::string der, CaRole role, int64_t now) {
  return CaCertRecord{.role = role, .state = CaState::kPrepared, .key_id = SubjectKeyIdHex(cert),
                      .issuer_key_id = AuthorityKeyIdHex(cert), .serial = CertSerialHex(cert),
                      .der = std::move(der),
                      .not_after = ToUnixSeconds(CertNotAfter(cert)), .created_at = now, .changed_at = now};
}

// A new CA certificate of `role` with a fresh key, made by `make`, recorded as
// prepared.
template <typename Make>
Result<std::pair<CaCertRecord, RotationSigner>> NewRotationCa(CaRole role, KeyType key_type, KeyFiles& files,
                                                              const Passphrase& passphrase, int64_t now,
                                                              Make&& make) {
  auto key = GenerateKey(key_type);
  if (!key) return std::unexpected(key.error());
  Result<OsslPtr<X509>> cert = make(key->get());
  if (!cert) return std::unexpected(cert.error());
  auto der = CertToDer(cert->get());
  if (!der) return std::unexpected(der.error());
  CaCertRecord record = RotationRecordOf(cert->get(), std::move(*der), role, now);
  if (auto r = files.Save(record, key->get(), passphrase); !r) return std::unexpected(r.error());
  return std::pair{std::move(record), RotationSigner{std::move(*cert), std::move(*key)}};
}

// A new JWT-SVID signing key in `state`, made and rotated with
// `intermediate`: it lives as long as that intermediate.
Result<CaCertRecord> NewRotationJwtKey(const CaCertRecord& intermediate, CaState state, KeyFiles& files,
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

// The JWT key made with the intermediate `key_id` in `state`, or null.
const CaCertRecord* JwtKeyOfIntermediate(const CaView& view, const std::string& intermediate_key_id,
                                         CaState state) {
  for (const CaCertRecord& r : view.records) {
    if (r.role == CaRole::kJwt && r.issuer_key_id == intermediate_key_id && r.state == state) return &r;
  }
  return nullptr;
}

CaCertRecord RecordWithState(CaCertRecord record, CaState state, int64_t now) {
  record.state = state;
  record.changed_at = now;
  return record;
}

std::string DescribeCaRecord(const CaCertRecord& r) {
  return std::string(CaRoleName(r.role)) + " " + r.serial + " (key " + r.key_id.substr(0, 16) + ")";
}

int64_t RotationNow(const RotationOptions& options) { return ToUnixSeconds(options.clock->Now()); }

}  // namespace

KeyFiles::~KeyFiles() {
  if (kept_) return;
  for (const auto& name : written_) ::unlink((dir_ + "/" + name).c_str());
}

KeyFiles::KeyFiles(KeyFiles&& other) noexcept
    : dir_(std::move(other.dir_)), in_store_(other.in_store_), written_(std::move(other.written_)),
      kept_(other.kept_) {
  other.written_.clear();
}

Result<void> KeyFiles::Save(CaCertRecord& record, const EVP_PKEY* key, const Passphrase& passphrase) {
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

Result<RotationStep> PrepareStep(const CaView& view, bool root, const std::string& actor,
                                 const RotationOptions& options) {
  if (const CaCertRecord* p = view.Newest(CaRole::kIntermediate, CaState::kPrepared)) {
    return std::unexpected(RotationConflict(
        DescribeCaRecord(*p) + " is already prepared; activate it (mayfly-ca ca activate) before preparing another"));
  }
  auto key_type = ParseKeyType(options.key_type);
  if (!key_type) return WithContext(key_type.error(), "[ca] key_type");
  auto passphrase = Passphrase::Read(options.passphrase_file);
  if (!passphrase) return std::unexpected(passphrase.error());
  auto active_root = LoadRotationSigner(*view.Active(CaRole::kRoot), options.state_dir, *passphrase);
  if (!active_root) return std::unexpected(active_root.error());
  const Clock& clock = *options.clock;
  const int64_t now = RotationNow(options);
  KeyFiles files(options.state_dir, options.keys_in_store);
  std::vector<CaCertRecord> records;

  RotationSigner* parent = &*active_root;
  std::optional<RotationSigner> new_root;
  if (root) {
    auto made = NewRotationCa(CaRole::kRoot, *key_type, files, *passphrase, now, [&](const EVP_PKEY* key) {
      return MakeRootCert(key, options.trust_domain, options.root_ttl, clock);
    });
    if (!made) return WithContext(made.error(), "making the new root");
    auto number = options.next_crl_number();
    if (!number) return std::unexpected(number.error());
    const TimePoint at = FromUnixSeconds(now);
    auto crl = BuildCrl(made->second.cert.get(), made->second.key.get(),
                        {*number, at, CertNotAfter(made->second.cert.get()), {}});
    if (!crl) return WithContext(crl.error(), "signing the new root's CRL");
    made->first.crl_pem = crl->pem;
    auto cross = MakeCrossCert(made->second.cert.get(), active_root->cert.get(), active_root->key.get(),
                               options.constraints, clock);
    if (!cross) return WithContext(cross.error(), "cross-certifying the new root");
    auto cross_der = CertToDer(cross->get());
    if (!cross_der) return std::unexpected(cross_der.error());
    records.push_back(std::move(made->first));
    records.push_back(RotationRecordOf(cross->get(), std::move(*cross_der), CaRole::kCross, now));
    new_root = std::move(made->second);
    parent = &*new_root;
  }
  auto inter = NewRotationCa(CaRole::kIntermediate, *key_type, files, *passphrase, now, [&](const EVP_PKEY* key) {
    return MakeIntermediateCert(key, parent->cert.get(), parent->key.get(), options.constraints,
                                options.intermediate_ttl, clock);
  });
  if (!inter) return WithContext(inter.error(), "making the new intermediate");
  auto jwt = NewRotationJwtKey(inter->first, CaState::kPrepared, files, *passphrase, now);
  if (!jwt) return WithContext(jwt.error(), "making the new JWT signing key");
  std::string summary = "prepared " + DescribeCaRecord(inter->first) +
                        (root ? " under the new " + DescribeCaRecord(records[0]) : "") + ", valid until " +
                        FormatRfc3339(FromUnixSeconds(inter->first.not_after));
  AuditEvent event{.time = now, .type = "ca_prepare", .actor = actor, .subject = "intermediate " + inter->first.serial,
                   .result = "ok",
                   .detail = AuditDetail({{"serial", inter->first.serial},
                                             {"root", root ? records[0].serial : std::string()},
                                             {"jwt_kid", jwt->key_id},
                                             {"not_after", FormatRfc3339(FromUnixSeconds(inter->first.not_after))}})};
  records.push_back(std::move(inter->first));
  records.push_back(std::move(*jwt));
  return RotationStep{std::move(records), std::move(event), std::move(summary), std::move(files)};
}

Result<RotationStep> ActivateStep(const CaView& view, const std::string& actor, const RotationOptions& options) {
  const CaCertRecord* next = view.Newest(CaRole::kIntermediate, CaState::kPrepared);
  if (next == nullptr) {
    return std::unexpected(RotationConflict("no intermediate is prepared; run `mayfly-ca ca prepare` first"));
  }
  const int64_t now = RotationNow(options);
  std::vector<CaCertRecord> changed{RecordWithState(*next, CaState::kActive, now)};
  if (const CaCertRecord* old = view.Active(CaRole::kIntermediate)) {
    changed.push_back(RecordWithState(*old, CaState::kRetiring, now));
  }
  std::string summary = "activated " + DescribeCaRecord(*next);
  // Its JWT key signs from now on; the one it replaces stays in the bundle
  // until the tokens it signed have expired (RetireStep).
  KeyFiles files(options.state_dir, options.keys_in_store);
  if (const CaCertRecord* jwt = JwtKeyOfIntermediate(view, next->key_id, CaState::kPrepared)) {
    changed.push_back(RecordWithState(*jwt, CaState::kActive, now));
  } else {
    // Prepared before JWT keys existed: it gets one now.
    auto passphrase = Passphrase::Read(options.passphrase_file);
    if (!passphrase) return std::unexpected(passphrase.error());
    auto made = NewRotationJwtKey(*next, CaState::kActive, files, *passphrase, now);
    if (!made) return WithContext(made.error(), "making the JWT signing key");
    changed.push_back(std::move(*made));
  }
  if (const CaCertRecord* old_jwt = view.Active(CaRole::kJwt)) {
    changed.push_back(RecordWithState(*old_jwt, CaState::kRetiring, now));
  }
  for (const CaCertRecord& r : view.records) {
    // A root prepared with this intermediate takes over with it.
    if (r.role == CaRole::kRoot && r.key_id == next->issuer_key_id && r.state == CaState::kPrepared) {
      changed.push_back(RecordWithState(r, CaState::kActive, now));
      if (const CaCertRecord* old_root = view.Active(CaRole::kRoot)) {
        changed.push_back(RecordWithState(*old_root, CaState::kRetiring, now));
      }
      summary += " and " + DescribeCaRecord(r);
    }
    if (r.role == CaRole::kCross && r.key_id == next->issuer_key_id && r.state == CaState::kPrepared) {
      changed.push_back(RecordWithState(r, CaState::kActive, now));
    }
  }
  AuditEvent event{.time = now, .type = "ca_activate", .actor = actor, .subject = "intermediate " + next->serial,
                   .result = "ok", .detail = AuditDetail({{"serial", next->serial}})};
  return RotationStep{std::move(changed), std::move(event), std::move(summary), std::move(files)};
}

Result<RotationStep> RetireStep(const CaView& view, const std::map<std::string, int64_t>& live_leaves,
                                const std::string& actor, const RotationOptions& options) {
  const int64_t now = RotationNow(options);
  std::vector<CaCertRecord> changed;
  std::set<std::string> retired_keys;
  std::string blockers;
  for (const CaCertRecord& r : view.records) {
    if (r.role != CaRole::kIntermediate || r.state != CaState::kRetiring) continue;
    const int64_t n = live_leaves.contains(r.key_id) ? live_leaves.at(r.key_id) : 0;
    if (n == 0 || r.not_after <= now) {
      changed.push_back(RecordWithState(r, CaState::kRetired, now));
      retired_keys.insert(r.key_id);
    } else {
      blockers += "; " + DescribeCaRecord(r) + " still has " + std::to_string(n) + " unexpired certificate(s)";
    }
  }
  // A JWT key stopped signing when it started retiring: once the longest
  // token it could have signed has expired, no relying party needs it.
  const int64_t jwt_max_ttl = options.jwt_max_ttl.count();
  for (const CaCertRecord& r : view.records) {
    if (r.role != CaRole::kJwt || r.state != CaState::kRetiring) continue;
    if (r.changed_at + jwt_max_ttl <= now) {
      changed.push_back(RecordWithState(r, CaState::kRetired, now));
    } else {
      blockers += "; " + DescribeCaRecord(r) + " may have signed tokens valid until " +
                  FormatRfc3339(FromUnixSeconds(r.changed_at + jwt_max_ttl));
    }
  }
  for (const CaCertRecord& root : view.records) {
    if (root.role != CaRole::kRoot || root.state != CaState::kRetiring) continue;
    const CaCertRecord* depends = nullptr;
    for (const CaCertRecord& r : view.records) {
      if (r.role == CaRole::kIntermediate && r.issuer_key_id == root.key_id && IsPublished(r.state) &&
          !retired_keys.contains(r.key_id)) {
        depends = &r;
      }
    }
    if (depends != nullptr) {
      blockers += "; " + DescribeCaRecord(root) + " still anchors " + DescribeCaRecord(*depends);
      continue;
    }
    changed.push_back(RecordWithState(root, CaState::kRetired, now));
    for (const CaCertRecord& cross : view.records) {
      if (cross.role == CaRole::kCross && cross.issuer_key_id == root.key_id && cross.state != CaState::kRetired) {
        changed.push_back(RecordWithState(cross, CaState::kRetired, now));
      }
    }
  }
  if (changed.empty()) {
    return std::unexpected(RotationConflict(blockers.empty() ? "nothing is retiring"
                                                             : "nothing can be retired yet" + blockers));
  }
  std::string summary = "retired";
  std::string serials;
  for (const CaCertRecord& r : changed) {
    summary += " " + DescribeCaRecord(r) + ",";
    serials += (serials.empty() ? "" : " ") + r.serial;
  }
  summary.pop_back();
  AuditEvent event{.time = now, .type = "ca_retire", .actor = actor, .subject = "ca", .result = "ok",
                   .detail = AuditDetail({{"serials", serials}})};
  return RotationStep{std::move(changed), std::move(event), summary + blockers,
                      KeyFiles(options.state_dir, options.keys_in_store)};
}

Result<RotationStep> RotateNowStep(const CaView& view, bool revoke_old, const std::string& actor,
                                   const RotationOptions& options) {
  auto key_type = ParseKeyType(options.key_type);
  if (!key_type) return WithContext(key_type.error(), "[ca] key_type");
  auto passphrase = Passphrase::Read(options.passphrase_file);
  if (!passphrase) return std::unexpected(passphrase.error());
  const CaCertRecord& root_record = *view.Active(CaRole::kRoot);
  auto root = LoadRotationSigner(root_record, options.state_dir, *passphrase);
  if (!root) return std::unexpected(root.error());
  const int64_t now = RotationNow(options);
  KeyFiles files(options.state_dir, options.keys_in_store);
  auto fresh = NewRotationCa(CaRole::kIntermediate, *key_type, files, *passphrase, now, [&](const EVP_PKEY* key) {
    return MakeIntermediateCert(key, root->cert.get(), root->key.get(), options.constraints,
                                options.intermediate_ttl, *options.clock);
  });
  if (!fresh) return WithContext(fresh.error(), "making the new intermediate");
  auto jwt = NewRotationJwtKey(fresh->first, CaState::kActive, files, *passphrase, now);
  if (!jwt) return WithContext(jwt.error(), "making the new JWT signing key");
  const CaCertRecord& old = *view.Active(CaRole::kIntermediate);
  std::vector<CaCertRecord> changed{RecordWithState(std::move(fresh->first), CaState::kActive, now),
                                    RecordWithState(old, revoke_old ? CaState::kRevoked : CaState::kRetiring, now),
                                    std::move(*jwt)};
  // After a compromise the old JWT key leaves the bundle at once: tokens it
  // signed stop validating. Otherwise it retires like the intermediate.
  if (const CaCertRecord* old_jwt = view.Active(CaRole::kJwt)) {
    changed.push_back(RecordWithState(*old_jwt, revoke_old ? CaState::kRetired : CaState::kRetiring, now));
  }
  // A prepared intermediate was made before the incident: never activate it
  // (nor its JWT key).
  for (const CaCertRecord& r : view.records) {
    if ((r.role == CaRole::kIntermediate || r.role == CaRole::kJwt) && r.state == CaState::kPrepared) {
      changed.push_back(RecordWithState(r, CaState::kRetired, now));
    }
  }
  if (revoke_old) {
    // The root's CRL lists every intermediate of it revoked so far.
    CrlSpec spec{.this_update = FromUnixSeconds(now), .next_update = FromUnixSeconds(root_record.not_after)};
    for (const CaCertRecord& r : view.records) {
      const bool revoked = (r.role == CaRole::kIntermediate && r.state == CaState::kRevoked) || &r == &old;
      if (revoked && r.issuer_key_id == root_record.key_id) {
        spec.revoked.push_back(CrlEntry{.serial = r.serial,
                                        .revoked_at = FromUnixSeconds(&r == &old ? now : r.changed_at),
                                        .reason = RevocationReason::kCaCompromise});
      }
    }
    auto number = options.next_crl_number();
    if (!number) return std::unexpected(number.error());
    spec.number = *number;
    auto crl = BuildCrl(root->cert.get(), root->key.get(), spec);
    if (!crl) return WithContext(crl.error(), "signing the root CRL");
    CaCertRecord updated_root = root_record;
    updated_root.crl_pem = crl->pem;
    changed.push_back(std::move(updated_root));
  }
  std::string summary = "activated " + DescribeCaRecord(changed[0]) + "; " + DescribeCaRecord(old) +
                        (revoke_old ? " is revoked at the root CRL" : " is retiring");
  AuditEvent event{.time = now, .type = "ca_rotate", .actor = actor, .subject = "intermediate " + changed[0].serial,
                   .result = "ok",
                   .detail = AuditDetail({{"serial", changed[0].serial}, {"old_serial", old.serial},
                                             {"revoke_old", revoke_old ? "true" : "false"}})};
  return RotationStep{std::move(changed), std::move(event), std::move(summary), std::move(files)};
}

Result<RotationStep> JwtKeyStep(const CaView& view, const RotationOptions& options) {
  auto passphrase = Passphrase::Read(options.passphrase_file);
  if (!passphrase) return std::unexpected(passphrase.error());
  const int64_t now = RotationNow(options);
  KeyFiles files(options.state_dir, options.keys_in_store);
  auto jwt = NewRotationJwtKey(*view.Active(CaRole::kIntermediate), CaState::kActive, files, *passphrase, now);
  if (!jwt) return WithContext(jwt.error(), "making the JWT signing key");
  AuditEvent event{.time = now, .type = "jwt_key_create", .actor = "mayfly-ca", .subject = "jwt " + jwt->key_id,
                   .result = "ok", .detail = AuditDetail({{"kid", jwt->key_id}})};
  std::string summary = "made JWT signing key " + jwt->key_id;
  std::vector<CaCertRecord> changed;
  changed.push_back(std::move(*jwt));
  return RotationStep{std::move(changed), std::move(event), std::move(summary), std::move(files)};
}

AutomaticRotation NextAutomaticStep(const CaView& view, Duration rotate_before, TimePoint now) {
  const CaCertRecord* active = view.Active(CaRole::kIntermediate);
  const CaCertRecord* prepared = view.Newest(CaRole::kIntermediate, CaState::kPrepared);
  const Duration left = std::chrono::duration_cast<Duration>(FromUnixSeconds(active->not_after) - now);
  const CaCertRecord* active_root = view.Active(CaRole::kRoot);
  // A new intermediate cannot outlive its root: rotating it would only make
  // another one as short-lived, at every refresh. The root must rotate.
  const Duration root_left = std::chrono::duration_cast<Duration>(FromUnixSeconds(active_root->not_after) - now);
  if (root_left < rotate_before) return AutomaticRotation::kRootExpiring;
  if (prepared == nullptr && left < rotate_before) return AutomaticRotation::kPrepare;
  // Root rotations are activated by an operator only.
  if (prepared != nullptr && prepared->issuer_key_id == active_root->key_id && left < rotate_before / 2) {
    return AutomaticRotation::kActivate;
  }
  return AutomaticRotation::kRetire;
}

}  // namespace mayfly
