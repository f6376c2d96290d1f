// Names of the store records' enums, as they appear in the database, the API and the CLI.
#include <boost/json.hpp>

#include <array>
#include <string>
#include <utility>

#include "mayfly/store_records.h"

namespace mayfly {
namespace {

constexpr std::array<std::pair<CertKind, std::string_view>, 4> kKindNames = {{
    {CertKind::kWorkload, "workload"},
    {CertKind::kNode, "node"},
    {CertKind::kAdmin, "admin"},
    {CertKind::kServer, "server"},
}};

constexpr std::array<std::pair<CaRole, std::string_view>, 4> kCaRoleNames = {{
    {CaRole::kRoot, "root"},
    {CaRole::kIntermediate, "intermediate"},
    {CaRole::kCross, "cross"},
    {CaRole::kJwt, "jwt"},
}};

constexpr std::array<std::pair<CaState, std::string_view>, 5> kCaStateNames = {{
    {CaState::kPrepared, "prepared"},
    {CaState::kActive, "active"},
    {CaState::kRetiring, "retiring"},
    {CaState::kRetired, "retired"},
    {CaState::kRevoked, "revoked"},
}};

constexpr std::array<std::pair<AdminRole, std::string_view>, 3> kAdminRoleNames = {{
    {AdminRole::kViewer, "viewer"},
    {AdminRole::kOperator, "operator"},
    {AdminRole::kAdmin, "admin"},
}};

struct ReasonNames {
  RevocationReason reason;
  std::string_view rfc;    // the ASN.1 name in RFC 5280
  std::string_view snake;  // what the CLI and JSON accept too
};
constexpr std::array<ReasonNames, 6> kReasonNames = {{
    {RevocationReason::kUnspecified, "unspecified", "unspecified"},
    {RevocationReason::kKeyCompromise, "keyCompromise", "key_compromise"},
    {RevocationReason::kCaCompromise, "cACompromise", "ca_compromise"},
    {RevocationReason::kAffiliationChanged, "affiliationChanged", "affiliation_changed"},
    {RevocationReason::kSuperseded, "superseded", "superseded"},
    {RevocationReason::kCessationOfOperation, "cessationOfOperation", "cessation_of_operation"},
}};

constexpr std::array<std::pair<CertStatus, std::string_view>, 3> kStatusNames = {{
    {CertStatus::kValid, "valid"},
    {CertStatus::kRevoked, "revoked"},
    {CertStatus::kExpired, "expired"},
}};

// The name paired with `value` in `table`, or `fallback`.
template <typename Table, typename Value>
std::string_view NameOf(const Table& table, Value value, std::string_view fallback) {
  for (const auto& [v, name] : table) {
    if (v == value) return name;
  }
  return fallback;
}

// The value paired with `name` in `table`, or kInvalidArgument listing `what`.
template <typename Table>
auto ValueOf(const Table& table, std::string_view name, std::string_view what)
    -> Result<typename Table::value_type::first_type> {
  std::string accepted;
  for (const auto& [v, n] : table) {
    if (n == name) return v;
    accepted += accepted.empty() ? "" : ", ";
    accepted += n;
  }
  return MakeError(ErrorCode::kInvalidArgument,
                   "unknown " + std::string(what) + " \"" + std::string(name) +
                       "\" (expected one of " + accepted + ")");
}

}  // namespace

std::string_view CertKindName(CertKind kind) { return NameOf(kKindNames, kind, "unknown"); }

Result<CertKind> ParseCertKind(std::string_view name) {
  return ValueOf(kKindNames, name, "certificate kind");
}

std::string_view CaRoleName(CaRole role) { return NameOf(kCaRoleNames, role, "unknown"); }

Result<CaRole> ParseCaRole(std::string_view name) { return ValueOf(kCaRoleNames, name, "CA role"); }

std::string_view CaStateName(CaState state) { return NameOf(kCaStateNames, state, "unknown"); }

Result<CaState> ParseCaState(std::string_view name) { return ValueOf(kCaStateNames, name, "CA state"); }

std::string_view RevocationReasonName(RevocationReason r) {
  for (const ReasonNames& names : kReasonNames) {
    if (names.reason == r) return names.rfc;
  }
  return "unspecified";
}

Result<RevocationReason> ParseRevocationReason(std::string_view name) {
  std::string accepted;
  for (const ReasonNames& names : kReasonNames) {
    if (name == names.rfc || name == names.snake) return names.reason;
    accepted += accepted.empty() ? "" : ", ";
    accepted += names.snake;
  }
  return MakeError(ErrorCode::kInvalidArgument, "unknown revocation reason \"" +
                                                    std::string(name) + "\" (expected one of " +
                                                    accepted + ")");
}

std::string_view CertStatusName(CertStatus status) {
  return NameOf(kStatusNames, status, "unknown");
}

Result<CertStatus> ParseCertStatus(std::string_view name) {
  return ValueOf(kStatusNames, name, "certificate status");
}

std::string_view AdminRoleName(AdminRole role) {
  for (const auto& [r, name] : kAdminRoleNames) {
    if (r == role) return name;
  }
  return "viewer";
}

Result<AdminRole> ParseAdminRole(std::string_view name) {
  for (const auto& [role, n] : kAdminRoleNames) {
    if (n == name) return role;
  }
  return MakeError(ErrorCode::kInvalidArgument,
                   "role must be \"viewer\", \"operator\" or \"admin\", not \"" + std::string(name) + "\"");
}

std::string AuditDetail(std::initializer_list<std::pair<std::string_view, std::string_view>> fields) {
  boost::json::object object;
  for (const auto& [key, value] : fields) object[key] = value;
  return boost::json::serialize(object);
}

}  // namespace mayfly
