// The plain records the store keeps and the rest of libca passes around
// (certificates, revocations, nodes, tokens, entries, audit events, CA
// certificates): no storage behind them, so headers that only need a struct
// include this and not the store.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "mayfly/error.h"

namespace mayfly {

// What a certificate was issued as.
enum class CertKind { kWorkload, kNode, kAdmin, kServer };
std::string_view CertKindName(CertKind kind);          // "workload", ...
[[nodiscard]] Result<CertKind> ParseCertKind(std::string_view name);

// RFC 5280 CRLReason values Mayfly uses.
enum class RevocationReason : int {
  kUnspecified = 0,
  kKeyCompromise = 1,
  kCaCompromise = 2,
  kAffiliationChanged = 3,
  kSuperseded = 4,
  kCessationOfOperation = 5,
};
std::string_view RevocationReasonName(RevocationReason r);  // "keyCompromise"
// Accepts the RFC names ("keyCompromise") and snake_case ("key_compromise").
[[nodiscard]] Result<RevocationReason> ParseRevocationReason(std::string_view name);

struct CertRecord {
  std::string serial;        // lowercase hex, no leading zeros; UNIQUE
  std::string spiffe_id;
  std::string node;          // node it was issued to or through; "" if none
  CertKind kind = CertKind::kWorkload;
  std::string issuer;        // identifies the issuing CA (hex SKI)
  int64_t not_before = 0;    // Unix seconds
  int64_t not_after = 0;
  int64_t issued_at = 0;
  std::string der;
  std::optional<int64_t> revoked_at;
  RevocationReason reason = RevocationReason::kUnspecified;
  // Not stored: the serial of the client certificate the issuing request
  // came with ("" for none). The row is refused if that certificate was
  // revoked while the request was in flight.
  std::string caller_serial;
};

struct RevokedCert {
  std::string serial;
  int64_t revoked_at = 0;
  RevocationReason reason = RevocationReason::kUnspecified;
  int64_t not_after = 0;
  std::string issuer;
};

enum class CertStatus { kValid, kRevoked, kExpired };
std::string_view CertStatusName(CertStatus status);             // "valid", ...
[[nodiscard]] Result<CertStatus> ParseCertStatus(std::string_view name);

// A CRL's number and the certificates it lists (Store::NextCrl).
struct CrlContents {
  int64_t number = 0;
  std::vector<RevokedCert> revoked;
};

struct CertFilter {
  std::optional<std::string> spiffe_id;
  std::optional<std::string> node;
  std::optional<CertStatus> status;   // evaluated at `now`
  int64_t now = 0;
  int limit = 100;                    // 1..1000
  // Keyset paging: return rows issued before this cursor (from CertPage).
  std::optional<std::string> cursor;
};
struct CertPage {
  std::vector<CertRecord> certs;      // newest first; der is left empty
  std::optional<std::string> next_cursor;
};

// Exactly one of the three is set.
struct RevokeSelector {
  std::optional<std::string> serial;
  std::optional<std::string> spiffe_id;
  std::optional<std::string> node;    // also bans the node
};

// An admin credential's name and what it may do: viewer < operator < admin.
enum class AdminRole { kViewer, kOperator, kAdmin };
std::string_view AdminRoleName(AdminRole role);  // "viewer", "operator", "admin"
// kInvalidArgument naming the accepted values for anything else.
[[nodiscard]] Result<AdminRole> ParseAdminRole(std::string_view name);

struct AdminRecord {
  std::string name;  // the NAME of spiffe://<td>/.../admin/NAME
  AdminRole role = AdminRole::kViewer;
  int64_t created_at = 0;
  std::optional<int64_t> revoked_at;  // set: the name has no rights any more
};

struct NodeRecord {
  std::string name;
  int64_t enrolled_at = 0;
  bool banned = false;
  std::optional<int64_t> banned_at;
  // The anomaly kind that quarantined the node ("" = not quarantined): it is
  // refused new certificates and JWTs until `mayfly-ca node unban`.
  std::string quarantine;
};

// What the anomaly detector learns back from the certificates table at
// start: a workload identity a node has held, when first, and how many of
// its certificates were issued since a given time.
struct NodeIdentityStats {
  std::string node;
  std::string spiffe_id;
  int64_t first_issued_at = 0;
  int64_t recent = 0;
};

// A client address a node has called from (the new_source_address anomaly).
struct NodeAddress {
  std::string node;
  std::string address;
  int64_t first_seen = 0;
};

struct TokenRecord {
  std::string hash;          // hex SHA-256 of the token; the token itself is never stored
  std::string node;
  int64_t created_at = 0;
  int64_t expires_at = 0;
};

struct EntryRecord {
  int64_t id = 0;            // assigned by the store
  std::string spiffe_id;
  std::string node;          // node name or glob
  std::vector<std::string> dns;
  std::vector<std::string> ips;
  int64_t max_ttl = 0;       // seconds
  std::string source;        // "config" or "api"
  // Workload selectors ("unix:uid:1000", ...); all must match. Only the agent's
  // Workload API reads them; /v1/sign ignores them.
  std::vector<std::string> selectors;
};

struct AuditEvent {
  int64_t id = 0;            // assigned by the store, increasing
  int64_t time = 0;
  std::string type;          // "issue", "renew", "enroll", "revoke", "token", "entry_add", "refused", ...
  std::string actor;         // who called: SPIFFE ID, "admin-socket", an IP
  std::string subject;       // what it was about: a SPIFFE ID, serial, node
  std::string result;        // "ok" or an error code
  std::string detail;        // JSON object text; never a secret
  std::string prev_hash;     // hex SHA-256 of the previous event ("" for the first)
  std::string hash;          // hex SHA-256 over prev_hash and this event's fields
};

// An AuditEvent::detail: a JSON object text of these string fields.
std::string AuditDetail(std::initializer_list<std::pair<std::string_view, std::string_view>> fields);

// What VerifyAuditChain found.
struct AuditChainCheck {
  int64_t events = 0;                   // events read, in id order
  std::optional<int64_t> first_bad_id;  // nullopt when the chain is intact
};

// Where a CA certificate stands in a rotation (docs/rotation.md).
enum class CaRole {
  kRoot,          // self-signed trust anchor
  kIntermediate,  // issues leaves and signs its CRL
  kCross,         // a newer root's key certified by an older root, for old trust stores
  // A JWT-SVID signing key, made and rotated with the intermediate whose key
  // id is its issuer_key_id. Not a certificate: der is its public key
  // (SubjectPublicKeyInfo), key_id its JWK "kid", serial "jwt-" + key_id.
  kJwt,
};
std::string_view CaRoleName(CaRole role);   // "root", "intermediate", "cross", "jwt"
[[nodiscard]] Result<CaRole> ParseCaRole(std::string_view name);

enum class CaState {
  kPrepared,  // published (bundle, CRLs, client trust) but not yet used
  kActive,    // issues (intermediate) or anchors the active intermediate (root)
  kRetiring,  // replaced; still published while what it signed is unexpired
  kRetired,   // no longer published
  kRevoked,   // revoked at its root's CRL (an intermediate after a compromise)
};
std::string_view CaStateName(CaState state);  // "prepared", "active", ...
[[nodiscard]] Result<CaState> ParseCaState(std::string_view name);

struct CaCertRecord {
  int64_t id = 0;              // assigned by the store; creation order
  CaRole role = CaRole::kIntermediate;
  CaState state = CaState::kPrepared;
  std::string key_id;          // hex subject key identifier of its key
  std::string issuer_key_id;   // hex key identifier of the key that signed it
  std::string serial;          // lowercase hex
  std::string der;
  std::string key_file;        // its encrypted key, relative to state_dir; "" for kCross
  // Its key as encrypted PKCS#8 PEM (the CA passphrase), when the database
  // holds it: with PostgreSQL every instance loads the keys from there. ""
  // when the key is in key_file (SQLite) or for kCross.
  std::string key_pem;
  int64_t not_after = 0;
  int64_t created_at = 0;
  int64_t changed_at = 0;      // when `state` last changed
  std::string crl_pem;         // roots only: the root's current CRL

  friend bool operator==(const CaCertRecord&, const CaCertRecord&) = default;
};

}  // namespace mayfly
