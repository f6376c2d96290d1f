// The audit hash chain's rules, shared by every store backend.
#include "mayfly/audit_chain.h"

#include <openssl/evp.h>

#include <string_view>

#include "mayfly/keys.h"
#include "mayfly/ossl_ptr.h"

namespace mayfly {
namespace {

void AppendField(std::string& out, std::string_view field) {
  const uint64_t size = field.size();
  for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<char>((size >> shift) & 0xff));
  out.append(field);
}

}  // namespace

Result<std::string> AuditEventHash(const AuditEvent& event) {
  const std::string time = std::to_string(event.time);
  std::string encoded;
  for (std::string_view field : {std::string_view(event.prev_hash), std::string_view(time),
                                 std::string_view(event.type), std::string_view(event.actor),
                                 std::string_view(event.subject), std::string_view(event.result),
                                 std::string_view(event.detail)}) {
    AppendField(encoded, field);
  }
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  ClearOpensslErrors();
  if (EVP_Digest(encoded.data(), encoded.size(), digest, &size, FetchedDigest("SHA256"), nullptr) != 1) {
    return OpensslError("hashing an audit event");
  }
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string hex;
  for (unsigned int i = 0; i < size; ++i) {
    hex.push_back(kDigits[digest[i] >> 4]);
    hex.push_back(kDigits[digest[i] & 0xf]);
  }
  return hex;
}

Result<bool> AuditChainVerifier::Add(const AuditEvent& event) {
  if (first_bad_id_) return false;
  ++events_;
  auto hash = AuditEventHash(event);
  if (!hash) return std::unexpected(hash.error());
  // A gap means deleted events; a broken link or hash, edited ones.
  if (event.id != prev_id_ + 1 || event.prev_hash != prev_hash_ || event.hash != *hash) {
    first_bad_id_ = event.id;
    return false;
  }
  prev_id_ = event.id;
  prev_hash_ = event.hash;
  return true;
}

AuditChainCheck AuditChainVerifier::Finish(int64_t last_assigned_id) const {
  AuditChainCheck check{.events = events_, .first_bad_id = first_bad_id_};
  if (!check.first_bad_id && last_assigned_id > prev_id_) check.first_bad_id = prev_id_ + 1;
  return check;
}

}  // namespace mayfly
