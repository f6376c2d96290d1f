// Who may get which workload certificate: registration entries and TTL policy.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "mayfly/error.h"
#include "mayfly/identity.h"
#include "mayfly/store_records.h"

namespace mayfly {

// The authenticated caller of a sign request, taken from its client
// certificate (or the admin socket).
struct Caller {
  enum class Kind { kNode, kAdmin };
  Kind kind = Kind::kNode;
  std::string name;   // the node or admin name from the caller's SPIFFE ID
};

// What a caller asks for, already parsed from the CSR and the request body.
struct SignRequest {
  SpiffeId spiffe_id;
  std::vector<std::string> dns;   // as requested; normalised before comparing
  std::vector<IpAddress> ips;
  std::optional<std::chrono::seconds> ttl;   // nullopt: the policy's default_ttl
};

// The [issuance] limits of ca.toml that apply to workload certificates.
struct AuthzPolicy {
  std::string trust_domain;                       // e.g. "example.org"
  std::chrono::seconds default_ttl{3600};         // when the request names none (1h)
  std::chrono::seconds min_ttl{60};               // every TTL is raised to this (1m)
  std::chrono::seconds max_ttl{86400};            // no TTL exceeds this (24h)
};

struct AuthzDecision {
  std::chrono::seconds ttl;   // the lifetime to issue, already clamped
  int64_t entry_id = 0;       // the entry that allowed it; 0 for admins
};

// Decides whether `caller` may get a workload certificate for `request`.
//
// The SPIFFE ID must lie in policy.trust_domain, have a path, and not be
// under /mayfly/ (else kForbidden). An admin may then have any SANs. A node
// needs an entry whose spiffe_id equals the request's, whose node glob
// matches the node's name, and whose DNS and IP SANs include every requested
// one; among several such entries the one with the largest max TTL wins (the
// lowest id on a tie). Otherwise kForbidden, with a message naming the node,
// the SPIFFE ID and the SAN refused. A malformed requested DNS name is
// kInvalidName; a non-positive requested TTL is kInvalidArgument.
//
// TTL: the requested one or policy.default_ttl, lowered to the entry's
// max_ttl (0 meaning policy.max_ttl) and to policy.max_ttl, then raised to
// policy.min_ttl.
[[nodiscard]] Result<AuthzDecision> AuthorizeSign(const Caller& caller,
                                                  const SignRequest& request,
                                                  std::span<const EntryRecord> entries,
                                                  const AuthzPolicy& policy);

// Checks an entry before it is stored and returns it normalised: the SPIFFE
// ID in canonical form, DNS names lowercased, IPs in canonical text, both
// without duplicates. id and source are returned unchanged.
//
// Fails with kInvalidSpiffeId when the SPIFFE ID is malformed, outside the
// trust domain, has no path or is reserved (/mayfly/...); kInvalidName when
// node is neither a node name nor a glob of node-name characters plus '*' and
// '?' (at most 64 characters), or a DNS name or IP is malformed (a "*.x"
// wildcard is allowed, and then allows a request for exactly "*.x");
// kInvalidArgument when max_ttl is negative or, unless 0 ("policy max_ttl"),
// outside [policy.min_ttl, policy.max_ttl].
[[nodiscard]] Result<EntryRecord> ValidateEntry(EntryRecord entry, const AuthzPolicy& policy);

}  // namespace mayfly
