// SPIFFE IDs, Mayfly's reserved identities, DNS names and IP addresses.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "mayfly/error.h"

namespace mayfly {

// A SPIFFE ID validated per the SPIFFE ID specification: scheme "spiffe",
// trust domain of [a-z0-9.-_] only, path segments of [A-Za-z0-9.-_] that are
// neither empty, "." nor "..", no query, fragment, port or userinfo, no
// trailing slash, at most 2048 bytes in all.
class SpiffeId {
 public:
  // kInvalidSpiffeId with the rule broken.
  [[nodiscard]] static Result<SpiffeId> Parse(std::string_view text);
  // The trust domain alone ("spiffe://example.org"), validated.
  // `path` is "" (the trust domain's own ID) or "/seg/seg"; both parts are
  // checked by the same rules as Parse, with the same error code.
  [[nodiscard]] static Result<SpiffeId> FromParts(std::string_view trust_domain,
                                                  std::string_view path);

  const std::string& trust_domain() const { return trust_domain_; }
  const std::string& path() const { return path_; }   // "" or "/a/b"
  std::string ToString() const { return "spiffe://" + trust_domain_ + path_; }

  // True when the path is /mayfly or under /mayfly/ (reserved for Mayfly).
  bool IsReserved() const;

  bool operator==(const SpiffeId&) const = default;

 private:
  SpiffeId(std::string td, std::string path)
      : trust_domain_(std::move(td)), path_(std::move(path)) {}
  std::string trust_domain_;
  std::string path_;
};

// Trust domain names alone (for config): same rules as in a SPIFFE ID.
[[nodiscard]] Result<void> ValidateTrustDomain(std::string_view td);

// Node and admin names: 1-64 characters of [a-z0-9.-_], not "." or "..".
[[nodiscard]] Result<void> ValidateNodeName(std::string_view name);

// spiffe://<td>/mayfly/node/<name> and spiffe://<td>/mayfly/admin/<name>.
[[nodiscard]] Result<SpiffeId> NodeSpiffeId(std::string_view td, std::string_view node);
[[nodiscard]] Result<SpiffeId> AdminSpiffeId(std::string_view td, std::string_view admin);

// What a Mayfly SPIFFE ID names.
enum class IdentityKind { kWorkload, kNode, kAdmin, kOtherReserved };
struct ClassifiedId {
  IdentityKind kind;
  std::string name;   // node or admin name; empty for workloads
};
ClassifiedId ClassifyId(const SpiffeId& id);

// A DNS name for a SAN: lowercase-normalised, LDH labels of 1-63 characters,
// at most 253 characters, no trailing dot; a leading "*." wildcard label is
// allowed only when allow_wildcard. Returns the normalised name or
// kInvalidName.
[[nodiscard]] Result<std::string> NormalizeDnsName(std::string_view name,
                                                   bool allow_wildcard = false);

// An IPv4 or IPv6 address in binary (4 or 16 bytes) and canonical text.
struct IpAddress {
  std::vector<uint8_t> bytes;
  std::string ToString() const;
  bool operator==(const IpAddress&) const = default;
};
[[nodiscard]] Result<IpAddress> ParseIpAddress(std::string_view text);

// An address range "10.0.0.0/8", "fd00::/8" (a bare address is a /32 or /128).
struct Cidr {
  IpAddress base;     // with host bits cleared
  int prefix_len = 0;
  bool Contains(const IpAddress& ip) const;
  std::string ToString() const;
  bool operator==(const Cidr&) const = default;
};
[[nodiscard]] Result<Cidr> ParseCidr(std::string_view text);

// Shell-style glob with '*' (any run of characters) and '?' (one character),
// used for the node field of registration entries.
// Runs in O(pattern * text) time at worst: no exponential backtracking.
bool GlobMatch(std::string_view pattern, std::string_view text);

// Quotes untrusted text for an error message: at most max_len bytes (then a
// note of the full length), '"' and '\\' escaped, control and non-ASCII bytes
// as \xNN, so a hostile input can neither flood nor forge a log line.
std::string QuoteForMessage(std::string_view text, size_t max_len = 100);

// The error for an input that breaks a naming rule, worded the same way
// everywhere: `invalid <what> "<input>": <rule>`.
[[nodiscard]] std::unexpected<Error> InvalidInputError(ErrorCode code, std::string_view what,
                                                       std::string_view input,
                                                       std::string_view rule);

}  // namespace mayfly
