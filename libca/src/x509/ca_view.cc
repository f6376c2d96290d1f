// Deriving the published PKI from the CA certificates' states.
#include "mayfly/ca_view.h"

#include <optional>

#include "mayfly/keys.h"
#include "mayfly/public_key.h"
#include "mayfly/spiffe_bundle.h"
#include "mayfly/x509_util.h"

namespace mayfly {
namespace {

const CaCertRecord* FindKey(const std::vector<CaCertRecord>& records, CaRole role, const std::string& key_id) {
  for (const CaCertRecord& r : records) {
    if (r.role == role && r.key_id == key_id) return &r;
  }
  return nullptr;
}

// A cross certificate is sent and trusted while both roots are published.
bool CrossPublished(const std::vector<CaCertRecord>& records, const CaCertRecord& cross) {
  const CaCertRecord* signer = FindKey(records, CaRole::kRoot, cross.issuer_key_id);
  return IsPublished(cross.state) && signer != nullptr && IsPublished(signer->state);
}

// Reads the passphrase into `passphrase` unless an earlier key needed it
// already: one read per view, only when a key must be loaded.
Result<void> ReadPassphraseOnce(const std::string& passphrase_file, std::optional<Passphrase>& passphrase) {
  if (passphrase) return Ok();
  auto read = Passphrase::Read(passphrase_file);
  if (!read) return std::unexpected(read.error());
  passphrase.emplace(std::move(*read));
  return Ok();
}

Result<std::shared_ptr<const Issuer>> LoadIssuer(const CaCertRecord& record, const std::string& state_dir,
                                                 const std::string& passphrase_file,
                                                 std::optional<Passphrase>& passphrase, const IssuerOptions& options,
                                                 const Clock& clock, const CaView* previous) {
  if (previous != nullptr) {
    for (const auto& issuer : previous->crl_issuers) {
      if (issuer->id() == record.key_id) return issuer;
    }
  }
  if (auto r = ReadPassphraseOnce(passphrase_file, passphrase); !r) return std::unexpected(r.error());
  auto cert = CertFromDer(record.der);
  if (!cert) return WithContext(cert.error(), "CA certificate " + record.serial);
  auto key = LoadCaKey(record, state_dir, *passphrase);
  if (!key) return std::unexpected(key.error());
  if (!KeysMatch(X509_get0_pubkey(cert->get()), key->get())) {
    return MakeError(ErrorCode::kConfig,
                     "the key " + CaKeyPlace(record, state_dir) + " does not match intermediate " + record.serial);
  }
  auto issuer = Issuer::Create(std::move(*cert), std::move(*key), options, clock);
  if (!issuer) return WithContext(issuer.error(), "preparing intermediate " + record.serial);
  return std::shared_ptr<const Issuer>(std::move(*issuer));
}

// The active JWT key of `record`: the previous view's when it is the same
// key, else loaded (and checked against the public key recorded with it).
Result<std::shared_ptr<const JwtSigner>> LoadJwtSigner(const CaCertRecord& record, const EVP_PKEY* public_key,
                                                       const std::string& state_dir,
                                                       const std::string& passphrase_file,
                                                       std::optional<Passphrase>& passphrase, const CaView* previous) {
  if (previous != nullptr && previous->jwt_signer && previous->jwt_signer->kid == record.key_id) {
    return previous->jwt_signer;
  }
  if (auto r = ReadPassphraseOnce(passphrase_file, passphrase); !r) return std::unexpected(r.error());
  auto key = LoadCaKey(record, state_dir, *passphrase);
  if (!key) return std::unexpected(key.error());
  if (!KeysMatch(public_key, key->get())) {
    return MakeError(ErrorCode::kConfig, "the key " + CaKeyPlace(record, state_dir) + " does not match JWT key " +
                                             record.key_id);
  }
  return std::make_shared<const JwtSigner>(JwtSigner{record.key_id, std::move(*key)});
}

}  // namespace

std::string EntityTag(std::string_view body) { return "\"" + Sha256Hex(body) + "\""; }

std::string CaKeyPlace(const CaCertRecord& record, const std::string& state_dir) {
  if (!record.key_pem.empty()) return "of " + std::string(CaRoleName(record.role)) + " " + record.serial + " in the store";
  return state_dir + "/" + record.key_file;
}

Result<OsslPtr<EVP_PKEY>> LoadCaKey(const CaCertRecord& record, const std::string& state_dir,
                                    const Passphrase& passphrase) {
  if (record.key_pem.empty() && record.key_file.empty()) {
    return MakeError(ErrorCode::kConfig, std::string(CaRoleName(record.role)) + " " + record.serial +
                                             " has no key in the store or in " + state_dir);
  }
  auto key = record.key_pem.empty() ? LoadKeyFile(state_dir + "/" + record.key_file, passphrase.get())
                                    : PrivateKeyFromPem(record.key_pem, passphrase.get());
  if (!key) {
    return WithContext(key.error(), "loading the " + std::string(CaRoleName(record.role)) + " key " +
                                        CaKeyPlace(record, state_dir));
  }
  return key;
}

bool IsPublished(CaState state) {
  return state == CaState::kPrepared || state == CaState::kActive || state == CaState::kRetiring;
}

const CaCertRecord* CaView::Active(CaRole role) const {
  for (const CaCertRecord& r : records) {
    if (r.role == role && r.state == CaState::kActive) return &r;
  }
  return nullptr;
}

const CaCertRecord* CaView::Newest(CaRole role, CaState state) const {
  for (auto it = records.rbegin(); it != records.rend(); ++it) {
    if (it->role == role && it->state == state) return &*it;
  }
  return nullptr;
}

Result<std::shared_ptr<const CaView>> BuildCaView(std::vector<CaCertRecord> records, const std::string& state_dir,
                                                  const std::string& passphrase_file, const IssuerOptions& options,
                                                  const Clock& clock, const CaView* previous) {
  auto view = std::make_shared<CaView>();
  std::optional<Passphrase> passphrase;  // read once, if a key must be loaded
  view->records = std::move(records);
  const CaCertRecord* root = view->Active(CaRole::kRoot);
  const CaCertRecord* inter = view->Active(CaRole::kIntermediate);
  if (root == nullptr || inter == nullptr) {
    return MakeError(ErrorCode::kConfig, "the store names no active root and intermediate");
  }
  auto root_cert = CertFromDer(root->der);
  if (!root_cert) return WithContext(root_cert.error(), "the active root");
  auto fingerprint = CertFingerprint(root_cert->get());
  if (!fingerprint) return std::unexpected(fingerprint.error());
  view->root_fingerprint = std::move(*fingerprint);

  const int64_t now = ToUnixSeconds(clock.Now());
  std::string revoked_pem;
  std::vector<OsslPtr<X509>> published_roots;
  std::vector<std::pair<std::string, OsslPtr<EVP_PKEY>>> jwt_keys;  // published: kid, public key
  // spiffe_sequence: records are never deleted and their states only move
  // forward (prepared, active, retiring, retired or revoked), so this sum
  // rises at every rotation step, and every instance on one store computes
  // the same value.
  int64_t sequence = 0;
  for (const CaCertRecord& r : view->records) {
    sequence += 1 + static_cast<int64_t>(r.state);
    if (r.role == CaRole::kJwt) {
      if (!IsPublished(r.state)) continue;
      auto public_key = PublicKeyFromDer(r.der);
      if (!public_key) return WithContext(public_key.error(), "JWT key " + r.key_id);
      if (r.state == CaState::kActive) {
        auto signer = LoadJwtSigner(r, public_key->get(), state_dir, passphrase_file, passphrase, previous);
        if (!signer) return std::unexpected(signer.error());
        view->jwt_signer = std::move(*signer);
      }
      jwt_keys.emplace_back(r.key_id, std::move(*public_key));
      continue;
    }
    const std::string pem = DerToPem(r.der, "CERTIFICATE");
    switch (r.role) {
      case CaRole::kRoot: {
        if (!IsPublished(r.state)) break;
        view->bundle_pem += pem;
        view->root_crls_pem += r.crl_pem;
        auto cert = CertFromDer(r.der);
        if (!cert) return WithContext(cert.error(), "root " + r.serial);
        published_roots.push_back(std::move(*cert));
        break;
      }
      case CaRole::kJwt:
        break;
      case CaRole::kCross:
        if (CrossPublished(view->records, r)) view->intermediates_pem += pem;
        break;
      case CaRole::kIntermediate:
        if (r.state == CaState::kRevoked) {
          view->revoked_intermediates.insert(r.key_id);
          // Never trusted at the handshake; while it is unexpired its leaves
          // may still come back as recovery certificates, so nodes holding
          // them can renew (the route checks them one by one).
          if (r.not_after > now) revoked_pem += pem;
          break;
        }
        if (!IsPublished(r.state)) break;
        view->intermediates_pem += pem;
        auto issuer = LoadIssuer(r, state_dir, passphrase_file, passphrase, options, clock, previous);
        if (!issuer) return std::unexpected(issuer.error());
        if (r.state == CaState::kActive) {
          view->active = *issuer;
          view->crl_issuers.insert(view->crl_issuers.begin(), *issuer);
        } else {
          view->crl_issuers.push_back(*issuer);
        }
        break;
    }
  }
  view->client_trust_pem = view->bundle_pem + view->intermediates_pem;
  if (!revoked_pem.empty()) view->client_recovery_pem = view->bundle_pem + revoked_pem;
  view->bundle_etag = EntityTag(view->bundle_pem);
  std::vector<const X509*> roots;
  for (const auto& cert : published_roots) roots.push_back(cert.get());
  std::vector<JwtAuthority> authorities;
  for (const auto& [kid, key] : jwt_keys) authorities.push_back({kid, key.get()});
  auto spiffe = SpiffeBundleJson(roots, authorities, sequence);
  if (!spiffe) return WithContext(spiffe.error(), "the SPIFFE bundle");
  view->spiffe_bundle_json = std::move(*spiffe);
  view->spiffe_bundle_etag = EntityTag(view->spiffe_bundle_json);
  view->intermediates_etag = EntityTag(view->intermediates_pem);

  // Leaves carry the active intermediate and, while an older root is still
  // published, the cross certificate that lets its trust stores follow.
  view->chain_pem = DerToPem(inter->der, "CERTIFICATE");
  for (const CaCertRecord& r : view->records) {
    if (r.role == CaRole::kCross && r.key_id == inter->issuer_key_id && CrossPublished(view->records, r)) {
      view->chain_pem += DerToPem(r.der, "CERTIFICATE");
    }
  }
  return std::shared_ptr<const CaView>(std::move(view));
}

}  // namespace mayfly
