// Sign-request authorization against registration entries, and entry validation.
#include "mayfly/authorization.h"

#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

#include "mayfly/duration.h"
#include "mayfly/selector.h"

namespace mayfly {
namespace {

using std::chrono::seconds;

constexpr size_t kMaxNodeGlobLength = 64;

// Why `id` cannot name a workload of `trust_domain`, or "" when it can.
std::string WorkloadIdProblem(const SpiffeId& id, std::string_view trust_domain) {
  if (id.trust_domain() != trust_domain) {
    return id.ToString() + " is not in trust domain " + QuoteForMessage(trust_domain);
  }
  // X509-SVID 3.1: a leaf's SPIFFE ID must have a non-root path.
  if (id.path().empty()) {
    return id.ToString() + " has no path; a workload certificate needs one";
  }
  if (id.IsReserved()) {
    return id.ToString() + " is reserved: paths under /mayfly/ are reserved for nodes and admins";
  }
  return "";
}

// Normalises every name, dropping repeats but keeping the first order.
Result<std::vector<std::string>> NormalizeDnsNames(std::span<const std::string> names) {
  std::vector<std::string> out;
  out.reserve(names.size());
  for (const std::string& name : names) {
    auto normal = NormalizeDnsName(name, /*allow_wildcard=*/true);
    if (!normal) return std::unexpected(normal.error());
    if (std::find(out.begin(), out.end(), *normal) == out.end()) {
      out.push_back(std::move(*normal));
    }
  }
  return out;
}

Result<void> ValidateNodeGlob(std::string_view node) {
  if (node.find_first_of("*?") == std::string_view::npos) return ValidateNodeName(node);
  auto fail = [&](std::string_view rule) {
    return InvalidInputError(ErrorCode::kInvalidName, "node glob", node, rule);
  };
  if (node.size() > kMaxNodeGlobLength) {
    return fail("is longer than " + std::to_string(kMaxNodeGlobLength) + " characters");
  }
  for (char c : node) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
                    c == '-' || c == '_' || c == '*' || c == '?';
    if (!ok) {
      return fail("characters are limited to a-z, 0-9, '.', '-', '_', '*' and '?' (found " +
                  QuoteForMessage(std::string_view(&c, 1)) + ")");
    }
  }
  return Ok();
}

// An entry's max TTL with 0 read as the policy's, never above the policy's.
seconds EffectiveMaxTtl(const EntryRecord& entry, const AuthzPolicy& policy) {
  if (entry.max_ttl <= 0) return policy.max_ttl;
  return std::min(seconds(entry.max_ttl), policy.max_ttl);
}

// Lowered to `cap` and policy.max_ttl, then raised to policy.min_ttl: the
// floor wins so that no certificate is too short-lived to be renewed in time.
seconds ClampTtl(seconds ttl, seconds cap, const AuthzPolicy& policy) {
  ttl = std::min({ttl, cap, policy.max_ttl});
  return std::max(ttl, policy.min_ttl);
}

bool EntryAllowsDns(const EntryRecord& entry, const std::string& name) {
  // Exact comparison after normalising both sides: an entry's "*.x" allows a
  // request for the wildcard "*.x" itself, never for "a.x", so that an entry
  // grants precisely the names written in it.
  return std::any_of(entry.dns.begin(), entry.dns.end(), [&](const std::string& allowed) {
    auto normal = NormalizeDnsName(allowed, /*allow_wildcard=*/true);
    return normal.has_value() && *normal == name;
  });
}

bool EntryAllowsIp(const EntryRecord& entry, const IpAddress& ip) {
  return std::any_of(entry.ips.begin(), entry.ips.end(), [&](const std::string& allowed) {
    auto parsed = ParseIpAddress(allowed);
    return parsed.has_value() && *parsed == ip;
  });
}

// Why `entry` does not cover the requested SANs, or "" when it does.
std::string SanRefusal(const EntryRecord& entry, std::span<const std::string> dns,
                       std::span<const IpAddress> ips) {
  const std::string by = " is not allowed by entry " + std::to_string(entry.id) + " for " +
                         entry.spiffe_id;
  for (const std::string& name : dns) {
    if (!EntryAllowsDns(entry, name)) return "dns name " + QuoteForMessage(name) + by;
  }
  for (const IpAddress& ip : ips) {
    if (!EntryAllowsIp(entry, ip)) return "ip address " + QuoteForMessage(ip.ToString()) + by;
  }
  return "";
}

std::unexpected<Error> Forbidden(std::string message) {
  return MakeError(ErrorCode::kForbidden, std::move(message));
}

}  // namespace

Result<AuthzDecision> AuthorizeSign(const Caller& caller, const SignRequest& request,
                                    std::span<const EntryRecord> entries,
                                    const AuthzPolicy& policy) {
  const std::string id = request.spiffe_id.ToString();
  if (std::string problem = WorkloadIdProblem(request.spiffe_id, policy.trust_domain);
      !problem.empty()) {
    return Forbidden(std::move(problem));
  }
  if (request.ttl && *request.ttl <= seconds(0)) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "requested ttl must be positive, got " + FormatDuration(*request.ttl));
  }
  for (const IpAddress& ip : request.ips) {
    if (ip.bytes.size() != 4 && ip.bytes.size() != 16) {
      return MakeError(ErrorCode::kInvalidArgument, "requested IP address is malformed: " + ip.ToString());
    }
  }
  auto dns = NormalizeDnsNames(request.dns);
  if (!dns) return std::unexpected(dns.error());
  const seconds wanted = request.ttl.value_or(policy.default_ttl);

  if (caller.kind == Caller::Kind::kAdmin) {
    return AuthzDecision{ClampTtl(wanted, policy.max_ttl, policy), 0};
  }

  const std::string node = QuoteForMessage(caller.name);
  const EntryRecord* best = nullptr;
  bool any_for_node = false;
  std::string refusals;
  for (const EntryRecord& entry : entries) {
    if (entry.spiffe_id != id || !GlobMatch(entry.node, caller.name)) continue;
    any_for_node = true;
    if (std::string refusal = SanRefusal(entry, *dns, request.ips); !refusal.empty()) {
      refusals += (refusals.empty() ? "" : "; ") + refusal;
      continue;
    }
    const bool better =
        best == nullptr || EffectiveMaxTtl(entry, policy) > EffectiveMaxTtl(*best, policy) ||
        (EffectiveMaxTtl(entry, policy) == EffectiveMaxTtl(*best, policy) && entry.id < best->id);
    if (better) best = &entry;
  }
  if (!any_for_node) return Forbidden("node " + node + " has no registration entry for " + id);
  if (best == nullptr) return Forbidden("node " + node + ": " + refusals);
  return AuthzDecision{ClampTtl(wanted, EffectiveMaxTtl(*best, policy), policy), best->id};
}

Result<EntryRecord> ValidateEntry(EntryRecord entry, const AuthzPolicy& policy) {
  auto id = SpiffeId::Parse(entry.spiffe_id);
  if (!id) return WithContext(id.error(), "registration entry");
  const std::string context = "registration entry for " + id->ToString();
  if (std::string problem = WorkloadIdProblem(*id, policy.trust_domain); !problem.empty()) {
    return WithContext(Error{ErrorCode::kInvalidSpiffeId, std::move(problem)}, context);
  }
  entry.spiffe_id = id->ToString();

  if (auto ok = ValidateNodeGlob(entry.node); !ok) return WithContext(ok.error(), context);

  auto dns = NormalizeDnsNames(entry.dns);
  if (!dns) return WithContext(dns.error(), context);
  entry.dns = std::move(*dns);

  std::vector<IpAddress> seen;
  std::vector<std::string> ips;
  for (const std::string& text : entry.ips) {
    auto ip = ParseIpAddress(text);
    if (!ip) return WithContext(ip.error(), context);
    if (std::find(seen.begin(), seen.end(), *ip) != seen.end()) continue;
    ips.push_back(ip->ToString());
    seen.push_back(std::move(*ip));
  }
  entry.ips = std::move(ips);

  if (auto ok = ValidateSelectors(entry.selectors); !ok) return WithContext(ok.error(), context);

  // 0 stays 0 so that the entry follows later changes of the policy's max.
  const seconds max_ttl(entry.max_ttl);
  if (max_ttl < seconds(0) ||
      (max_ttl != seconds(0) && (max_ttl < policy.min_ttl || max_ttl > policy.max_ttl))) {
    return WithContext(Error{ErrorCode::kInvalidArgument,
                             "max ttl " + FormatDuration(max_ttl) + " is outside the policy's " +
                                 FormatDuration(policy.min_ttl) + " to " +
                                 FormatDuration(policy.max_ttl) +
                                 " (0 means the policy's max)"},
                       context);
  }
  return entry;
}

}  // namespace mayfly
