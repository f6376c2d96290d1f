// What the CA certificates in the store mean at one moment: who issues, the
// chain sent with leaves, the trust bundle, the CRL signers. Immutable; a
// rotation step builds a new one and swaps it in.
#pragma once

#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "mayfly/clock.h"
#include "mayfly/error.h"
#include "mayfly/issuer.h"
#include "mayfly/store_records.h"

namespace mayfly {

// Quoted lowercase hex SHA-256 of `body`, an HTTP entity tag: what the
// view's bodies (and the CRLs) are served with.
std::string EntityTag(std::string_view body);

// Published: in the bundle (roots), the intermediates list, the CRL set and
// the client trust.
bool IsPublished(CaState state);

// The active JWT-SVID signing key.
struct JwtSigner {
  std::string kid;
  OsslPtr<EVP_PKEY> key;
};

struct CaView {
  std::vector<CaCertRecord> records;          // every CA certificate, creation order
  std::shared_ptr<const Issuer> active;       // the active intermediate
  std::string chain_pem;                      // sent with each leaf
  std::string bundle_pem;                     // every published root
  std::string bundle_etag;                    // EntityTag(bundle_pem), made once per view
  std::string spiffe_bundle_json;             // the same roots in the SPIFFE bundle format (spiffe_bundle.h)
  std::string spiffe_bundle_etag;
  std::string intermediates_pem;              // published intermediates and cross certificates
  std::string intermediates_etag;
  std::string client_trust_pem;               // what client certificates must chain to: published CAs
  // The published roots and the unexpired revoked intermediates, whose
  // leaves complete the handshake only as recovery certificates (renewal);
  // empty when no intermediate is revoked.
  std::string client_recovery_pem;
  std::vector<std::shared_ptr<const Issuer>> crl_issuers;  // published intermediates, active first
  std::string root_crls_pem;                  // each published root's CRL
  std::string root_fingerprint;               // "sha256:<hex>" of the active root
  std::set<std::string> revoked_intermediates;  // key ids
  // Null while the store holds no active JWT key (CaRuntime::EnsureJwtKey
  // makes one at start).
  std::shared_ptr<const JwtSigner> jwt_signer;

  // The active record of `role`, or null.
  const CaCertRecord* Active(CaRole role) const;
  // The newest record of `role` in `state`, or null.
  const CaCertRecord* Newest(CaRole role, CaState state) const;
};

// Builds the view of `records`: the keys of published intermediates are
// taken from `previous` when it already holds an issuer for the same key,
// else read from `state_dir` and decrypted with the passphrase in
// `passphrase_file` (read only when a key is needed). kConfig when there is no
// active root or intermediate, or a key does not match its certificate.
// A CA certificate's private key: from the store (key_pem) when it is kept
// there, else from its file in state_dir. kCrypto for a wrong passphrase.
[[nodiscard]] Result<OsslPtr<EVP_PKEY>> LoadCaKey(const CaCertRecord& record, const std::string& state_dir,
                                                  const Passphrase& passphrase);
// Where that key is, for messages: its file's path, or "of <role> <serial>
// in the store".
std::string CaKeyPlace(const CaCertRecord& record, const std::string& state_dir);

[[nodiscard]] Result<std::shared_ptr<const CaView>> BuildCaView(std::vector<CaCertRecord> records,
                                                                const std::string& state_dir,
                                                                const std::string& passphrase_file,
                                                                const IssuerOptions& options, const Clock& clock,
                                                                const CaView* previous);

}  // namespace mayfly
